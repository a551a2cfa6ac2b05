/**
 * YAML parsing with source positions.
 *
 * js-yaml gives values; its `listener` option reports every node it composes ('open' then 'close', properly
 * nested). We rebuild a node tree from those events so each mapping key, mapping value and sequence item has
 * an offset in the source (for line/col in findings) and each plain scalar keeps its raw text (so integers
 * like `0644` can be read as Go's YAML decoder reads them, and scalars used as strings keep their spelling).
 */
import yaml from 'js-yaml';

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
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
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
  const src = new SourceText(text);
  const stack: RawEv[] = [{ start: 0, end: 0, result: undefined, children: [] }];
  let value: unknown;
  try {
    value = yaml.load(text, {
      json: false,
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
    throw e;
  }
  const top = stack[0]!.children;
  if (value === undefined || value === null || top.length === 0) return { root: undefined, src };
  return { root: build(top[top.length - 1]!, value, src), src };
}

function throwSyntax(msg: string, line?: number, col?: number): never {
  throw new YamlSyntaxError(msg, line, col);
}

function build(ev: RawEv, value: unknown, src: SourceText): YNode {
  const start = src.skip(ev.start);
  if (Array.isArray(value)) {
    const items: YNode[] = [];
    const kids = ev.children;
    for (let i = 0; i < value.length; i++) {
      const k = kids[i];
      items.push(k ? build(k, value[i], src) : { kind: 'scalar', start, value: value[i], quoted: false });
    }
    return { kind: 'seq', start, items };
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    const entries: YMap['entries'] = [];
    const kids = ev.children;
    // Children alternate key, value.
    for (let i = 0; i + 1 < kids.length; i += 2) {
      const k = kids[i]!;
      const v = kids[i + 1]!;
      const key = String(k.result);
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      entries.push({ key, keyStart: src.skip(k.start), value: build(v, (value as Record<string, unknown>)[key], src) });
    }
    // Keys js-yaml produced without events we could pair (merge keys, aliases): positions fall back to the map.
    const seen = new Set(entries.map((e) => e.key));
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (!seen.has(key)) entries.push({ key, keyStart: start, value: fromValue(v, start) });
    }
    return { kind: 'map', start, entries };
  }
  const rawText = src.text.slice(start, Math.max(start, ev.end));
  const first = src.text[start];
  const quoted = first === '"' || first === "'" || first === '|' || first === '>';
  const node: YScalar = { kind: 'scalar', start, value, quoted };
  if (!quoted && !first?.match(/[&*!]/)) node.raw = rawText.replace(/\s+$/, '');
  return node;
}

function fromValue(v: unknown, start: number): YNode {
  if (Array.isArray(v)) return { kind: 'seq', start, items: v.map((x) => fromValue(x, start)) };
  if (v !== null && typeof v === 'object') {
    return { kind: 'map', start, entries: Object.entries(v as Record<string, unknown>).map(([key, x]) => ({ key, keyStart: start, value: fromValue(x, start) })) };
  }
  return { kind: 'scalar', start, value: v, quoted: typeof v === 'string' };
}
