/**
 * YAML with source positions, for error messages with line and column.
 *
 * js-yaml returns plain values; its `listener` option reports every node it composes ('open' then 'close',
 * properly nested). From those events we rebuild a tree of nodes with their start offsets, so that a JSON
 * pointer ("/initramfs/compress", "/packages/3") can be mapped back to a line and column of the source.
 */
import yaml from 'js-yaml';
import { aliasProblem } from '../lib/yamlalias.js';

export interface Pos {
  line: number;
  col: number;
}

interface Ev {
  start: number;
  result: unknown;
  children: Ev[];
}

export class YamlError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly col?: number,
  ) {
    super(message);
  }
}

export class PositionedYaml {
  readonly value: unknown;
  private readonly root: Ev | undefined;
  private readonly lineStarts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    const stack: Ev[] = [{ start: 0, result: undefined, children: [] }];
    try {
      this.value = yaml.load(text, {
        schema: yaml.CORE_SCHEMA,
        listener: (kind: string, state: { position: number; result: unknown }) => {
          if (kind === 'open') {
            const ev: Ev = { start: state.position, result: undefined, children: [] };
            stack[stack.length - 1]!.children.push(ev);
            stack.push(ev);
          } else {
            const ev = stack.pop()!;
            ev.result = state.result;
          }
        },
      } as yaml.LoadOptions);
    } catch (e) {
      if (e instanceof yaml.YAMLException) {
        const m = e.mark;
        throw new YamlError(e.reason || e.message, m ? m.line + 1 : undefined, m ? m.column + 1 : undefined);
      }
      // js-yaml trips over some inputs itself: the input is at fault, a YAML error rather than a crash.
      if (e instanceof TypeError || e instanceof RangeError) throw new YamlError(`cannot parse this YAML (${e.message})`);
      throw e;
    }
    // Nested anchors ("billion laughs") would be expanded by the schema validation and every later walk.
    const aliases = aliasProblem(this.value);
    if (aliases) throw new YamlError(aliases);
    this.root = stack[0]!.children[0];
  }

  /** Line/column (1-based) of an offset, after skipping blanks and comments. */
  posOf(offset: number): Pos {
    let o = offset;
    const t = this.text;
    for (;;) {
      while (o < t.length && /[ \t\r\n]/.test(t[o]!)) o++;
      if (t[o] === '#') {
        while (o < t.length && t[o] !== '\n') o++;
        continue;
      }
      break;
    }
    if (o >= t.length) o = offset;
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: o - this.lineStarts[lo]! + 1 };
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
    let pos = this.posOf(node.start);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const next = this.child(node, part, key !== undefined && i === parts.length - 1);
      if (!next) break;
      node = next;
      pos = this.posOf(node.start);
    }
    return pos;
  }

  private child(node: Ev, part: string, wantKey: boolean): Ev | undefined {
    const r = node.result;
    if (Array.isArray(r)) {
      const i = Number(part);
      return Number.isInteger(i) ? node.children[i] : undefined;
    }
    if (r && typeof r === 'object') {
      // Mapping: children alternate key node, value node.
      for (let i = 0; i + 1 < node.children.length; i += 2) {
        if (String(node.children[i]!.result) === part) return wantKey ? node.children[i] : node.children[i + 1];
      }
    }
    return undefined;
  }
}
