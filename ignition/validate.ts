/**
 * Public API of Ignition validation: validateConfig() checks one config like ignition-validate does, for spec
 * versions 3.0.0 to 3.6.0, and returns findings attached to JSON paths with positions in the user's text.
 *
 * The passes follow Ignition (config/validate/validate.go): read the version, decode into the version's types (type
 * errors stop here, like Go's json.Unmarshal), then the per-struct rules, duplicates, and unused keys (warnings).
 */
import { constants } from 'node:buffer';
import { decodeConfig, decodePlain, formatPath, missingRequired, nodeAt, type Decoded, type Path } from './decode.js';
import { findExactMember, JsonSyntaxError, parseJson, plainJsonKeys, type JsonNode, type ObjectNode } from './parse.js';
import { Positions } from './positions.js';
import type { Finding } from './report.js';
import { walkDups } from './rules/dups.js';
import { walkRules } from './rules/index.js';
import { Report } from './rules/report.js';
import { specFor, SPECS, type SpecVersion } from './schema/index.js';
import { typeAt } from './schema/types.js';
import { ErrEmpty, goKind, readVersion, readVersionPlain } from './version.js';

export interface ValidationResult {
  /** The config's ignition.version, when it could be read. */
  version?: string;
  /** The parsed config (only when the JSON parsed). */
  config?: unknown;
  findings: Finding[];
}

export const SUPPORTED_VERSIONS: readonly string[] = SPECS.map((s) => s.version);

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The largest config fcos validates, in bytes: the text must fit in one JavaScript string (V8's limit,
 * 536,870,888 UTF-16 units on 64-bit, just under 512 MiB), and a UTF-8 byte never makes more than one unit.
 */
export const MAX_CONFIG_BYTES = constants.MAX_STRING_LENGTH;

/** The finding for a config over MAX_CONFIG_BYTES. */
export function tooLargeMessage(size: number): string {
  return `config is too large: ${size} bytes; fcos validates configs of at most ${MAX_CONFIG_BYTES} bytes (about 512 MiB, the longest string Node.js can hold)`;
}

/** Decode UTF-8 strictly; on failure return the byte offset of the first invalid sequence. */
function decodeText(input: string | Uint8Array): { text: string } | { badByte: number } {
  if (typeof input === 'string') return { text: input };
  try {
    return { text: utf8.decode(input) };
  } catch {
    return { badByte: firstInvalidUtf8(input) };
  }
}

/** Index of the first byte that does not start or continue a well-formed UTF-8 sequence. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) [n, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length;
}

/** Line and column (in bytes, from 1) of a byte offset. */
export function lineColOfByte(bytes: Uint8Array, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++)
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  return { line, col: offset - lineStart + 1 };
}

/**
 * fcos's own warnings beyond Ignition (a null the spec's schema forbids, a required key Ignition defaults): given by
 * `fcos validate`; Butane has nothing like them for the config it generates, so `fcos butane` leaves them out.
 */
export function isFcosOnlyWarning(message: string): boolean {
  return message.startsWith('null is not allowed here by spec ') || message.startsWith('missing required key ');
}

export function validateConfig(input: string | Uint8Array): ValidationResult {
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size === 0) return { findings: [{ severity: 'error', path: '$', message: ErrEmpty }] };
  // Checked before decoding: TextDecoder fails on longer input as if it were not UTF-8.
  if (size > MAX_CONFIG_BYTES) return { findings: [{ severity: 'error', path: '$', message: tooLargeMessage(size) }] };

  const decoded = decodeText(input);
  if ('badByte' in decoded) {
    const pos = lineColOfByte(input as Uint8Array, decoded.badByte);
    return { findings: [{ severity: 'error', path: '$', ...pos, message: 'config is not valid UTF-8 text' }] };
  }
  const text = decoded.text;
  // Line and column are worked out only for findings: most configs have none.
  let positions: Positions | undefined;
  const lineCol = (offset: number) => (positions ??= new Positions(text)).lineCol(offset);

  // The fast way, for most configs: JSON.parse and a decoder of its value; the positioned tree is parsed only to
  // locate findings. Text with repeated keys, numbers other than short integers, a type error or a version it cannot
  // use goes the full way.
  const plain = plainConfig(text);
  if (plain) {
    let tree: ObjectNode | undefined;
    return { version: plain.version, ...validateSpec(() => (tree ??= parseJson(text) as ObjectNode), plain.spec, plain.decoded, plain.missing, lineCol) };
  }

  let root: JsonNode;
  try {
    root = parseJson(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    // Go's SyntaxError.Offset counts the offending character; Ignition prints that offset as the column.
    const pos = lineCol(e.offset);
    if (e.offset < text.length) pos.col += 1;
    return { findings: [{ severity: 'error', path: '$', ...pos, message: e.message }] };
  }

  const ver = readVersion(root, (v) => specFor(v) !== undefined);
  if (!ver.ok) {
    const pos = ver.node ? lineCol(ver.typeError ? goTypeErrorOffset(ver.node) : ver.node.start) : {};
    return { findings: [{ severity: 'error', path: '$', ...pos, message: ver.message }] };
  }
  const spec = specFor(ver.version)!;
  const obj = root as ObjectNode;
  return { version: ver.version, ...validateSpec(() => obj, spec, decodeConfig(obj, spec.tree), true, lineCol) };
}

/** The version and decoded config by the fast way (see validateConfig), or undefined. */
function plainConfig(text: string): { version: string; spec: SpecVersion; decoded: Decoded; missing: boolean } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = plainJsonKeys(text);
  if (keys === undefined) return undefined;
  const version = readVersionPlain(value as Record<string, unknown>, (v) => specFor(v) !== undefined);
  if (version === undefined) return undefined;
  const spec = specFor(version)!;
  const r = decodePlain(value as Record<string, unknown>, spec.tree);
  // Fewer keys than the text has: one was repeated, and JSON.parse kept only the last.
  if (!r || r.keys !== keys) return undefined;
  return { version, spec, decoded: r.decoded, missing: r.missing };
}

function validateSpec(
  tree: () => ObjectNode,
  spec: SpecVersion,
  { value, unused, intErrors, nulls, kindErrors }: Decoded,
  /** Whether a required key may be missing (false: decodePlain saw none missing). */
  mayMiss: boolean,
  lineCol: (offset: number) => { line: number; col: number },
): { config?: unknown; findings: Finding[] } {
  // Type errors (a value of the wrong JSON type, a number that is not an int64): Go reports the first one in the
  // document and stops.
  if (kindErrors.length > 0 || intErrors.length > 0) {
    let first: { path: Path; node: JsonNode; raw?: string } | undefined;
    for (const ke of kindErrors) if (!first || ke.node.start < first.node.start) first = ke;
    for (const ie of intErrors) if (!first || ie.node.start < first.node.start) first = ie;
    const kind = first!.raw !== undefined ? `number ${first!.raw}` : goKind(first!.node);
    return { findings: [{ severity: 'error', path: '$', ...lineCol(goTypeErrorOffset(first!.node)), message: typeMessage(spec, first!.path, kind) }] };
  }

  const r = new Report();
  const ctx = { minor: spec.minor, config: value, r };
  walkRules(value, spec.tree, [], ctx);
  walkDups(value, spec.tree, [], ctx);

  // Beyond Ignition: what the spec's schema forbids but Ignition silently accepts (a null it ignores, a required key
  // it defaults to empty) is a warning, unless Ignition already reports an error there.
  const missing = mayMiss ? missingRequired(value, spec.tree) : [];
  if (nulls.length > 0 || missing.length > 0) {
    const errorAt = new Set(r.entries.filter((e) => e.severity === 'error').map((e) => formatPath(e.path)));
    for (const p of nulls) {
      if (errorAt.has(formatPath(p))) continue;
      // Ignition itself warns at a null where a struct belongs (ValidateUnusedKeys finds no JSON object there,
      // config/validate/validate.go:86), when the key is spelled exactly; fcos's own warning covers the other nulls.
      const at = nodeAt(tree(), p, true);
      if (at.exact && at.node.kind === 'null' && typeAt(spec.tree, p)?.type.k === 'object') r.warn(p, contextTreeMismatch(formatPath(p)));
      else r.warn(p, `null is not allowed here by spec ${spec.version} (Ignition ignores it)`);
    }
    for (const { path, key } of missing) {
      const p = [...path, key];
      if (!errorAt.has(formatPath(p))) r.warn(p, `missing required key ${key} (spec ${spec.version})`);
    }
  }

  const findings: Finding[] = r.entries.map((e) => {
    // Positions come from the JSON tree with exact keys, like Ignition's Correlate (a key matched only
    // case-insensitively is located at its nearest ancestor).
    const { node } = nodeAt(tree(), e.path, true);
    // Like Ignition, an object or array is located just inside its opening bracket.
    const offset = node.kind === 'object' || node.kind === 'array' ? node.start + 1 : node.start;
    return { severity: e.severity, path: formatPath(e.path), ...lineCol(offset), message: e.message };
  });
  for (const u of unused) {
    // The fast way knows no positions: the key is found in the tree (its path is spelled exactly, and not repeated).
    const keyStart = u.keyStart >= 0 ? u.keyStart : findExactMember(nodeAt(tree(), u.path.slice(0, -1), true).node as ObjectNode, u.key)!.keyStart;
    findings.push({ severity: 'warning', path: formatPath(u.path), ...lineCol(keyStart), message: `unused key ${u.key}` });
  }
  return { config: value, findings };
}

const contextTreeMismatch = (p: string): string =>
  `context tree does not match content tree at ${p}. Line and column reporting may be inconsistent. Unused keys may not be reported`;

/** Go's UnmarshalTypeError text: "json: cannot unmarshal string into Go struct field File.storage.files.path of type string". */
function typeMessage(spec: SpecVersion, path: Path, kind: string): string {
  const t = typeAt(spec.tree, path);
  if (!t) return `json: cannot unmarshal ${kind} into Go value of type types.Config`;
  return `json: cannot unmarshal ${kind} into Go struct field ${t.struct}.${t.field} of type ${t.type.go}`;
}

/** Where Go's decoder stands when it reports a type error (and so where Ignition points): past a scalar, just inside a container. */
function goTypeErrorOffset(node: JsonNode): number {
  return node.kind === 'object' || node.kind === 'array' ? node.start + 1 : node.end;
}
