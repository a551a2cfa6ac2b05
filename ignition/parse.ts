/**
 * A JSON parser that keeps positions, written iteratively so that deeply nested input cannot overflow the stack.
 *
 * It follows Go's encoding/json (what Ignition uses): the same grammar, the same error wording
 * ("invalid character 'x' looking for beginning of value"), duplicate keys allowed (the last one wins when decoding),
 * and a maximum nesting depth of 10000. Offsets are UTF-16 indices into the decoded text.
 */

export type JsonNode = ObjectNode | ArrayNode | ScalarNode;

export interface NodeBase {
  /** Offset of the first character of the value. */
  start: number;
  /** Offset just past the value. */
  end: number;
}
export interface ObjectMember {
  key: string;
  keyStart: number;
  value: JsonNode;
}
export interface ObjectNode extends NodeBase {
  kind: 'object';
  members: ObjectMember[];
}
export interface ArrayNode extends NodeBase {
  kind: 'array';
  items: JsonNode[];
}
export interface ScalarNode extends NodeBase {
  kind: 'string' | 'number' | 'boolean' | 'null';
  value: string | number | boolean | null;
  /** The literal text of a number, as written (Go checks integers against it). */
  raw?: string;
}

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Go's maximum nesting depth (encoding/json scanner). */
export const MAX_DEPTH = 10000;

/** Go's quoteChar: how a character is shown in a syntax error. */
export function quoteChar(c: string): string {
  // Go's scanner reports one byte: for a non-ASCII character that is the first byte of its UTF-8 form, shown as a Latin-1 rune.
  if (c.charCodeAt(0) >= 0x80) return `'${String.fromCharCode(Buffer.from(c, 'utf8')[0]!)}'`;
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  const s = JSON.stringify(c);
  const inner = s.slice(1, -1).replace(/\\u00([0-9a-f]{2})/g, '\\x$1');
  return `'${inner}'`;
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

interface Frame {
  node: ObjectNode | ArrayNode;
  /** For objects: the key waiting for its value. */
  pendingKey?: string;
  pendingKeyStart?: number;
}

/** Parse JSON text. Throws JsonSyntaxError (never anything else) on malformed input. */
export function parseJson(text: string): JsonNode {
  const n = text.length;
  let i = 0;
  const stack: Frame[] = [];
  let root: JsonNode | undefined;

  const err = (msg: string, at: number): never => {
    throw new JsonSyntaxError(msg, at);
  };
  const eof = (): never => err('unexpected end of JSON input', n);
  // Native scans for the common cases (runs of white space, strings without escapes): the character loops below
  // run cold in the interpreter at every start.
  const WS = /[ \t\n\r]*/y;
  const skipWs = () => {
    if (i < n && isWs(text.charCodeAt(i))) {
      WS.lastIndex = i;
      WS.test(text);
      i = WS.lastIndex;
    }
  };
  const PLAIN = /[\\\x00-\x1f]/;

  const parseString = (): string => {
    // text[i] === '"'
    const start = i;
    i++;
    const close = text.indexOf('"', i);
    if (close >= 0) {
      const plain = text.slice(i, close);
      if (!PLAIN.test(plain)) {
        i = close + 1;
        return plain;
      }
    }
    let out = '';
    let chunk = i;
    for (;;) {
      if (i >= n) eof();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(chunk, i);
        i++;
        return out;
      }
      if (c < 0x20) err(`invalid character ${quoteChar(text[i]!)} in string literal`, i);
      if (c === 0x5c) {
        out += text.slice(chunk, i);
        i++;
        if (i >= n) eof();
        const e = text[i]!;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            let code = 0;
            for (let k = 1; k <= 4; k++) {
              if (i + k >= n) eof();
              const h = text[i + k]!;
              const v = parseInt(h, 16);
              if (!/^[0-9a-fA-F]$/.test(h)) err(`invalid character ${quoteChar(h)} in \\u hexadecimal character escape`, i + k);
              code = code * 16 + v;
            }
            out += String.fromCharCode(code);
            i += 4;
            break;
          }
          default:
            err(`invalid character ${quoteChar(e)} in string escape code`, i);
        }
        i++;
        chunk = i;
        continue;
      }
      i++;
    }
    void start;
  };

  const parseNumber = (): ScalarNode => {
    const start = i;
    if (text[i] === '-') {
      i++;
      if (i >= n) eof();
      if (!/[0-9]/.test(text[i]!)) err(`invalid character ${quoteChar(text[i]!)} in numeric literal`, i);
    }
    if (text[i] === '0') i++;
    else while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (text[i] === '.') {
      i++;
      if (i >= n) eof();
      if (!/[0-9]/.test(text[i]!)) err(`invalid character ${quoteChar(text[i]!)} after decimal point in numeric literal`, i);
      while (i < n && /[0-9]/.test(text[i]!)) i++;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (i >= n) eof();
      if (!/[0-9]/.test(text[i]!)) err(`invalid character ${quoteChar(text[i]!)} in exponent of numeric literal`, i);
      while (i < n && /[0-9]/.test(text[i]!)) i++;
    }
    const raw = text.slice(start, i);
    return { kind: 'number', value: Number(raw), raw, start, end: i };
  };

  const parseLiteral = (word: string, value: boolean | null): ScalarNode => {
    const start = i;
    for (let k = 0; k < word.length; k++) {
      if (i + k >= n) eof();
      if (text[i + k] !== word[k]) err(`invalid character ${quoteChar(text[i + k]!)} in literal ${word} (expecting ${quoteChar(word[k]!)})`, i + k);
    }
    i += word.length;
    return { kind: value === null ? 'null' : 'boolean', value, start, end: i };
  };

  /** Attach a finished value to its parent (or make it the root). */
  const attach = (v: JsonNode) => {
    const top = stack[stack.length - 1];
    if (!top) {
      root = v;
      return;
    }
    if (top.node.kind === 'array') top.node.items.push(v);
    else {
      top.node.members.push({ key: top.pendingKey!, keyStart: top.pendingKeyStart!, value: v });
      top.pendingKey = undefined;
    }
  };

  /** End the container on top of the stack at its closing character (text[i]); true when that was the root. */
  const close = (): boolean => {
    i++;
    const node = stack.pop()!.node;
    node.end = i;
    attach(node);
    return stack.length === 0;
  };

  // State machine: after reading a value we look for ',' / ']' / '}' depending on the container.
  let expectValue = true; // the next token is a value
  for (;;) {
    skipWs();
    if (expectValue) {
      if (i >= n) eof();
      const c = text[i]!;
      if (c === '{' || c === '[') {
        if (stack.length + 1 > MAX_DEPTH) err(`invalid character ${quoteChar(c)} exceeded max depth`, i);
        const node: ObjectNode | ArrayNode = c === '{' ? { kind: 'object', members: [], start: i, end: -1 } : { kind: 'array', items: [], start: i, end: -1 };
        i++;
        stack.push({ node });
        skipWs();
        if (i >= n) eof();
        if (text[i] === (c === '[' ? ']' : '}')) {
          expectValue = false;
          if (close()) break;
          continue;
        }
        if (c === '{') readKey();
        continue; // value expected
      }
      let v: ScalarNode;
      if (c === '"') {
        const start = i;
        const s = parseString();
        v = { kind: 'string', value: s, start, end: i };
      } else if (c === '-' || (c >= '0' && c <= '9')) v = parseNumber();
      else if (c === 't') v = parseLiteral('true', true);
      else if (c === 'f') v = parseLiteral('false', false);
      else if (c === 'n') v = parseLiteral('null', null);
      else return err(`invalid character ${quoteChar(c)} looking for beginning of value`, i);
      attach(v);
      expectValue = false;
      if (stack.length === 0) break;
      continue;
    }
    // After a value inside a container.
    const top = stack[stack.length - 1]!;
    if (i >= n) eof();
    const c = text[i]!;
    if (top.node.kind === 'array') {
      if (c === ',') {
        i++;
        expectValue = true;
        continue;
      }
      if (c === ']') {
        if (close()) break;
        continue;
      }
      err(`invalid character ${quoteChar(c)} after array element`, i);
    } else {
      if (c === ',') {
        i++;
        skipWs();
        readKey();
        expectValue = true;
        continue;
      }
      if (c === '}') {
        if (close()) break;
        continue;
      }
      err(`invalid character ${quoteChar(c)} after object key:value pair`, i);
    }
  }

  function readKey(): void {
    const top = stack[stack.length - 1]!;
    if (i >= n) eof();
    if (text[i] !== '"') err(`invalid character ${quoteChar(text[i]!)} looking for beginning of object key string`, i);
    const keyStart = i;
    const key = parseString();
    skipWs();
    if (i >= n) eof();
    if (text[i] !== ':') err(`invalid character ${quoteChar(text[i]!)} after object key`, i);
    i++;
    top.pendingKey = key;
    top.pendingKeyStart = keyStart;
  }

  skipWs();
  if (i < n) err(`invalid character ${quoteChar(text[i]!)} after top-level value`, i);
  return root!;
}

const STRINGS = /"[^"\\]*(?:\\.[^"\\]*)*"/g;
const NOT_SHORT_INT = /\d[.eE]|\d{16}/;

/**
 * For text that JSON.parse accepted: the number of keys in it (repeated ones too) when every number is an integer of
 * at most 15 digits and no value is nested deeper than MAX_DEPTH; otherwise undefined. Then JSON.parse's value holds
 * what parseJson would find (as long as it has as many keys: JSON.parse keeps one of a repeated key), and every
 * number is exactly the integer written.
 */
export function plainJsonKeys(text: string): number | undefined {
  // Outside strings only punctuation, literals and numbers are left: every ':' ends a key.
  const bare = text.replace(STRINGS, '');
  if (NOT_SHORT_INT.test(bare)) return undefined;
  let keys = 0;
  for (let i = bare.indexOf(':'); i >= 0; i = bare.indexOf(':', i + 1)) keys++;
  if (bare.length > 2 * MAX_DEPTH) {
    let depth = 0;
    for (let i = 0; i < bare.length; i++) {
      const c = bare.charCodeAt(i);
      if (c === 0x7b || c === 0x5b) {
        if (++depth > MAX_DEPTH) return undefined;
      } else if (c === 0x7d || c === 0x5d) depth--;
    }
  }
  return keys;
}

/** Objects with at least this many members get an index (built once, on the first lookup). */
const INDEX_FROM = 16;
const foldedIndex = new WeakMap<ObjectNode, Map<string, ObjectMember>>();
const exactIndex = new WeakMap<ObjectNode, Map<string, ObjectMember>>();

function indexOf(cache: WeakMap<ObjectNode, Map<string, ObjectMember>>, node: ObjectNode, fold: boolean): Map<string, ObjectMember> {
  let idx = cache.get(node);
  if (!idx) {
    idx = new Map();
    // Later members overwrite earlier ones: the last one wins.
    for (const m of node.members) idx.set(fold ? m.key.toLowerCase() : m.key, m);
    cache.set(node, idx);
  }
  return idx;
}

/** Find the member of an object that Go's encoding/json stores in a field: keys match case-insensitively and the last one wins. */
export function findMember(node: ObjectNode, key: string): ObjectMember | undefined {
  const lower = key.toLowerCase();
  if (node.members.length >= INDEX_FROM) return indexOf(foldedIndex, node, true).get(lower);
  for (let k = node.members.length - 1; k >= 0; k--) {
    const m = node.members[k]!;
    if (m.key === key || m.key.toLowerCase() === lower) return m;
  }
  return undefined;
}

/** The last member of an object whose key is exactly `key`. */
export function findExactMember(node: ObjectNode, key: string): ObjectMember | undefined {
  if (node.members.length >= INDEX_FROM) return indexOf(exactIndex, node, false).get(key);
  for (let k = node.members.length - 1; k >= 0; k--) if (node.members[k]!.key === key) return node.members[k]!;
  return undefined;
}
