/**
 * YAML with source positions: the one tracker behind Butane (ignition/butane/yaml.ts) and the manifest
 * (ostree/manifest.ts), for findings and errors with line and column.
 *
 * js-yaml gives values; its `listener` option reports every node it composes ('open' then 'close', properly
 * nested). We rebuild a node tree from those events so each mapping key, mapping value and sequence item has
 * an offset in the source (for line/col) and each plain scalar keeps its raw text (so integers like `0644` can be
 * read as Go's YAML decoder reads them, and scalars used as strings keep their spelling). PositionedYaml maps a
 * JSON pointer ("/initramfs/compress", "/packages/3") to the line and column of that node.
 */
import yaml from 'js-yaml';
import { UserError } from './errors.js';
import { lineIndex } from './lines.js';
import { aliasProblem } from './yamlalias.js';

export interface Pos {
  line: number;
  col: number;
}

export type YNode = YMap | YSeq | YScalar;
interface YBase {
  /** Offset of the first character of the node. */
  start: number;
}
export interface YMap extends YBase {
  kind: 'map';
  entries: { key: string; keyStart: number; value: YNode }[];
}
export interface YSeq extends YBase {
  kind: 'seq';
  items: YNode[];
}
export interface YScalar extends YBase {
  kind: 'scalar';
  value: unknown;
  /** Source text for plain (unquoted, non-block) scalars. */
  raw?: string;
  /** The scalar was written quoted or as a block scalar. */
  quoted: boolean;
}

/** Bad YAML, with the 1-based line and column where the parser stopped (when it says). */
export class YamlSyntaxError extends UserError {
  constructor(
    message: string,
    readonly line?: number,
    readonly col?: number,
  ) {
    super(message);
  }
}

export class SourceText {
  private readonly lineStarts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }
  pos(offset: number): Pos {
    const lo = lineIndex(this.lineStarts, offset);
    return { line: lo + 1, col: offset - this.lineStarts[lo]! + 1 };
  }
  /** Skip blanks, newlines and comments. */
  skip(offset: number): number {
    const t = this.text;
    let i = offset;
    for (;;) {
      while (i < t.length && (t[i] === ' ' || t[i] === '\t' || t[i] === '\n' || t[i] === '\r')) i++;
      if (t[i] === '#') {
        while (i < t.length && t[i] !== '\n') i++;
        continue;
      }
      return i;
    }
  }
}

interface RawEv {
  start: number;
  end: number;
  result: unknown;
  children: RawEv[];
}

export interface ParsedYaml {
  /** The loaded value, as js-yaml returns it. */
  value: unknown;
  /** Its node tree with positions; undefined for an empty (or null) document. */
  root: YNode | undefined;
  src: SourceText;
}

/** Parse one YAML document with a js-yaml schema. Throws YamlSyntaxError (with 1-based line/col) on bad YAML. */
export function parseYaml(text: string, schema: yaml.Schema): ParsedYaml {
  // A UTF-8 byte order mark starts the stream (yaml.v3 accepts it); js-yaml skips it too, but its offsets then
  // count from after it, so it is dropped here (line 1 columns count from after it as well).
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const src = new SourceText(text);
  // js-yaml refuses NUL with a wrong position: report it where it is.
  const nul = text.indexOf('\0');
  if (nul !== -1) {
    const p = src.pos(nul);
    throwSyntax('null byte is not allowed in input', p.line, p.col);
  }
  const stack: RawEv[] = [{ start: 0, end: 0, result: undefined, children: [] }];
  let value: unknown;
  try {
    value = yaml.load(text, {
      json: false,
      schema,
      listener(type, state) {
        if (type === 'open') {
          stack.push({ start: state.position, end: state.position, result: undefined, children: [] });
        } else {
          const ev = stack.pop()!;
          ev.end = state.position;
          ev.result = state.result;
          stack[stack.length - 1]!.children.push(ev);
        }
      },
    });
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      const m = e.mark;
      return throwSyntax(e.reason || e.message, m ? m.line + 1 : undefined, m ? m.column + 1 : undefined);
    }
    // js-yaml trips over some inputs itself (`!!binary` on a node it resolved as a timestamp: "data.replace is not
    // a function"; nesting beyond the stack). The input is at fault: a YAML error, not a crash.
    if (e instanceof TypeError || e instanceof RangeError) return throwSyntax(`cannot parse this YAML (${e.message})`);
    throw e;
  }
  // Nested anchors would be expanded exponentially by build() below (and by every later walk): refuse them first.
  const aliases = aliasProblem(value);
  if (aliases) throwSyntax(aliases);
  const top = stack[0]!.children;
  if (value === undefined || value === null || top.length === 0) return { value, root: undefined, src };
  return { value, root: build(top[top.length - 1]!, value, src), src };
}

function throwSyntax(msg: string, line?: number, col?: number): never {
  throw new YamlSyntaxError(msg, line, col);
}

const same = (ev: RawEv | undefined, v: unknown): boolean => ev !== undefined && (ev.result === v || (Number.isNaN(ev.result) && Number.isNaN(v)));

/** Anchors seen so far (name → raw text of the anchored plain scalar), to read aliases like the original. */
type Anchors = Map<string, { raw?: string; quoted: boolean }>;

function build(ev: RawEv, value: unknown, src: SourceText, anchors: Anchors = new Map()): YNode {
  const start = src.skip(ev.start);
  if (Array.isArray(value)) return buildSeq(ev, value, start, src, anchors);
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    return buildMap(ev, value as Record<string, unknown>, start, src, anchors);
  }
  return buildScalar(ev, value, start, src, anchors);
}

function buildSeq(ev: RawEv, value: unknown[], start: number, src: SourceText, anchors: Anchors): YSeq {
  const kids = ev.children;
  const items: YNode[] = [];
  let k = 0;
  for (let i = 0; i < value.length; i++) {
    // Empty (null) items produce no events.
    if (same(kids[k], value[i])) items.push(build(kids[k++]!, value[i], src, anchors));
    else items.push(fromValue(value[i], start));
  }
  return { kind: 'seq', start, items };
}

function buildMap(ev: RawEv, obj: Record<string, unknown>, start: number, src: SourceText, anchors: Anchors): YMap {
  const kids = ev.children;
  const entries: YMap['entries'] = [];
  const seen = new Set<string>();
  for (let k = 0; k < kids.length; ) {
    const keyEv = kids[k]!;
    const key = String(keyEv.result);
    if (!Object.prototype.hasOwnProperty.call(obj, key) || seen.has(key)) {
      k += 2; // a merge key (<<) and its value, or something we cannot pair
      continue;
    }
    const keyStart = src.skip(keyEv.start);
    seen.add(key);
    if (same(kids[k + 1], obj[key])) {
      entries.push({ key, keyStart, value: build(kids[k + 1]!, obj[key], src, anchors) });
      k += 2;
    } else {
      entries.push({ key, keyStart, value: fromValue(obj[key], keyStart) });
      k += 1;
    }
  }
  // Keys without events we could pair (merge keys, aliases): positions fall back to the map.
  for (const [key, v] of Object.entries(obj)) if (!seen.has(key)) entries.push({ key, keyStart: start, value: fromValue(v, start) });
  return { kind: 'map', start, entries };
}

function buildScalar(ev: RawEv, value: unknown, start: number, src: SourceText, anchors: Anchors): YScalar {
  let text = src.text.slice(start, Math.max(start, ev.end)).replace(/\s+$/, '');
  let anchor: string | undefined;
  let tagStr = false;
  // Properties before the scalar: an anchor (&a) and/or a tag (!!str).
  for (;;) {
    const m = /^([&!])(\S*)\s+/.exec(text);
    if (!m) break;
    if (m[1] === '&') anchor = m[2];
    else if (m[2] === '!!str' || m[2] === 'tag:yaml.org,2002:str') tagStr = true;
    text = text.slice(m[0].length);
  }
  let quoted = tagStr || /^["'|>]/.test(text);
  let raw: string | undefined = quoted ? undefined : text;
  if (text.startsWith('*')) {
    const a = anchors.get(text.slice(1));
    raw = a?.raw;
    quoted = a?.quoted ?? typeof value === 'string';
  }
  if (anchor !== undefined) anchors.set(anchor, { raw, quoted });
  const node: YScalar = { kind: 'scalar', start, value, quoted };
  if (raw !== undefined) node.raw = raw;
  return node;
}

function fromValue(v: unknown, start: number): YNode {
  if (Array.isArray(v)) return { kind: 'seq', start, items: v.map((x) => fromValue(x, start)) };
  if (v !== null && typeof v === 'object') {
    return { kind: 'map', start, entries: Object.entries(v as Record<string, unknown>).map(([key, x]) => ({ key, keyStart: start, value: fromValue(x, start) })) };
  }
  return { kind: 'scalar', start, value: v, quoted: typeof v === 'string' };
}

/** A YAML document (js-yaml's core schema unless told) whose nodes can be found by JSON pointer. */
export class PositionedYaml {
  readonly value: unknown;
  private readonly root: YNode | undefined;
  private readonly src: SourceText;

  constructor(text: string, schema: yaml.Schema = yaml.CORE_SCHEMA) {
    const p = parseYaml(text, schema);
    this.value = p.value;
    this.root = p.root;
    this.src = p.src;
  }

  get text(): string {
    return this.src.text;
  }

  /**
   * Position of the node at a JSON pointer. With `key`, the position of the mapping key `key` inside that node
   * (for unknown-key errors). Falls back to the nearest existing ancestor.
   */
  position(pointer: string, key?: string): Pos {
    const parts = pointer === '' ? [] : pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (key !== undefined) parts.push(key);
    let node = this.root;
    if (!node) return { line: 1, col: 1 };
    let at = node.start;
    for (let i = 0; i < parts.length && node; i++) {
      const part = parts[i]!;
      if (node.kind === 'seq') {
        const n = Number(part);
        node = Number.isInteger(n) ? node.items[n] : undefined;
        if (node) at = node.start;
      } else if (node.kind === 'map') {
        const e = node.entries.find((x) => x.key === part);
        node = e?.value;
        if (e) at = key !== undefined && i === parts.length - 1 ? e.keyStart : e.value.start;
      } else node = undefined;
    }
    return this.src.pos(at);
  }
}
