/**
 * YAML parsing with source positions.
 *
 * js-yaml gives values; its `listener` option reports every node it composes ('open' then 'close', properly
 * nested). We rebuild a node tree from those events so each mapping key, mapping value and sequence item has
 * an offset in the source (for line/col in findings) and each plain scalar keeps its raw text (so integers
 * like `0644` can be read as Go's YAML decoder reads them, and scalars used as strings keep their spelling).
 */
import { lineIndex } from '../positions.js';
import yaml from 'js-yaml';
import { aliasProblem } from '../../lib/yamlalias.js';

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

/** Go's strconv.ParseInt(s, 0, 64) after yaml.v3 drops underscores: 0x.., 0o.., 0b.., and 0-prefixed octal. */
export function parseGoInt(raw: string): number | undefined {
  const s = raw.replace(/_/g, '');
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!;
  let v: number;
  if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
  else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
  else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
  else if (body.length > 1 && body.startsWith('0')) v = parseInt(body.slice(1), 8);
  else v = parseInt(body, 10);
  return m[1] === '-' ? -v : v;
}

/** js-yaml's default schema (YAML 1.2 core + merge keys, timestamps), except that integers resolve as Go's yaml.v3 resolves them (so `mode: 0644` is 420). */
const goInt = new yaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && parseGoInt(data) !== undefined,
  construct: (data: string) => parseGoInt(data),
  predicate: (o: unknown) => typeof o === 'number' && Number.isInteger(o),
  represent: (o: unknown) => String(o),
});
const SCHEMA = yaml.DEFAULT_SCHEMA.extend({ implicit: [goInt] });

export class YamlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly col?: number,
  ) {
    super(message);
  }
}

interface RawEv {
  start: number;
  end: number;
  result: unknown;
  children: RawEv[];
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

/** Parse one YAML document. Throws YamlSyntaxError (with 1-based line/col) on bad YAML. */
export function parseYaml(text: string): { root: YNode | undefined; src: SourceText } {
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
      schema: SCHEMA,
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
  if (value === undefined || value === null || top.length === 0) return { root: undefined, src };
  return { root: build(top[top.length - 1]!, value, src), src };
}

function throwSyntax(msg: string, line?: number, col?: number): never {
  throw new YamlSyntaxError(msg, line, col);
}

const same = (ev: RawEv | undefined, v: unknown): boolean => ev !== undefined && (ev.result === v || (Number.isNaN(ev.result) && Number.isNaN(v)));

/** Anchors seen so far (name → raw text of the anchored plain scalar), to read aliases like the original. */
type Anchors = Map<string, { raw?: string; quoted: boolean }>;

function build(ev: RawEv, value: unknown, src: SourceText, anchors: Anchors = new Map()): YNode {
  const start = src.skip(ev.start);
  const kids = ev.children;
  if (Array.isArray(value)) {
    const items: YNode[] = [];
    let k = 0;
    for (let i = 0; i < value.length; i++) {
      // Empty (null) items produce no events.
      if (same(kids[k], value[i])) items.push(build(kids[k++]!, value[i], src, anchors));
      else items.push(fromValue(value[i], start));
    }
    return { kind: 'seq', start, items };
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    const obj = value as Record<string, unknown>;
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
