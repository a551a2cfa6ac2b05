/**
 * Decoding a parsed config the way Go's encoding/json fills Ignition's structs, guided by the version's type tree:
 * keys match case-insensitively (the last one wins), null leaves a field unset, a null array element becomes a
 * zero value, and unknown keys are dropped (and reported as unused keys). Integers must be written as integers.
 *
 * The result is a plain value that ajv then checks against the version's schema; values of the wrong JSON type are
 * kept (or stood in for by an empty value of the same JSON type), so that ajv reports them without walking them.
 */
import { findExactMember, findMember, type JsonNode, type ObjectNode } from './parse.js';
import { memoOnType, type GoType, type ObjT } from './schema/types.js';

export type Path = (string | number)[];

export interface UnusedKey {
  path: Path;
  key: string;
  keyStart: number;
}

export interface IntError {
  path: Path;
  node: JsonNode;
  raw: string;
}

export interface Decoded {
  value: Record<string, unknown>;
  unused: UnusedKey[];
  intErrors: IntError[];
  /** Nulls where the spec's schema does not allow them (Go ignores them). */
  nulls: Path[];
  /** Values of the wrong JSON type, including those a repeated key later replaced (ajv only sees the final value). */
  kindErrors: KindError[];
}

export interface KindError {
  path: Path;
  node: JsonNode;
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

function zeroOf(t: GoType): unknown {
  switch (t.k) {
    case 'string':
      return '';
    case 'int':
      return 0;
    case 'bool':
      return false;
    case 'array':
      return [];
    case 'object':
      return {};
  }
}

/** A value that has the JSON type of the node without its contents (for wrong-typed containers). */
function standIn(node: JsonNode): unknown {
  if (node.kind === 'object') return {};
  if (node.kind === 'array') return [];
  return (node as { value: unknown }).value;
}

/** A struct's field names, exact and lower-cased (the first field of each lower-cased name), kept on the type. */
interface FieldIndex {
  exact: Set<string>;
  lower: Map<string, string>;
}
const FIELDS = Symbol('field index');
function fieldIndex(t: ObjT): FieldIndex {
  return memoOnType(t, FIELDS, () => {
    const names = Object.keys(t.fields);
    const lower = new Map<string, string>();
    for (const f of names) if (!lower.has(f.toLowerCase())) lower.set(f.toLowerCase(), f);
    return { exact: new Set(names), lower };
  });
}

/** The struct field a JSON key lands in, as Go's encoding/json picks it: an exact match, else a case-insensitive one. */
function fieldFor(t: ObjT, key: string): string | undefined {
  const index = fieldIndex(t);
  if (index.exact.has(key)) return key;
  return index.lower.get(key.toLowerCase());
}

function kindMatches(node: JsonNode, t: GoType): boolean {
  switch (t.k) {
    case 'object':
      return node.kind === 'object';
    case 'array':
      return node.kind === 'array';
    case 'string':
      return node.kind === 'string';
    case 'int':
      return node.kind === 'number';
    case 'bool':
      return node.kind === 'boolean';
  }
}

/** A path as a chain of links to the parent, made into an array only for a finding (decoding allocates little). */
interface PathLink {
  up: PathLink | undefined;
  seg: string | number;
}
function toPath(link: PathLink | undefined, ...more: (string | number)[]): Path {
  const out: Path = [];
  for (let l = link; l; l = l.up) out.push(l.seg);
  out.reverse();
  for (const m of more) out.push(m);
  return out;
}

/** A plain integer literal that fits in int64 (Go's int); up to 15 digits it does without BigInt. */
function isInt64(raw: string): boolean {
  if (!/^-?\d+$/.test(raw)) return false;
  if (raw.length <= 15) return true;
  const b = BigInt(raw);
  return b <= INT64_MAX && b >= INT64_MIN;
}

export function decodeConfig(root: ObjectNode, tree: ObjT): Decoded {
  const unused: UnusedKey[] = [];
  const intErrors: IntError[] = [];
  const nulls: Path[] = [];
  const kindErrors: KindError[] = [];
  const seenUnused = new Set<string>();

  // Members are applied in document order, like Go: a repeated key decodes again into the same field, so objects
  // merge and everything else is replaced; null leaves a field alone (a pointer or a list becomes unset).
  const decode = (node: JsonNode, t: GoType, path: PathLink | undefined, into?: unknown, reportUnused = true): unknown => {
    if (!kindMatches(node, t)) {
      kindErrors.push({ path: toPath(path), node });
      return standIn(node);
    }
    switch (t.k) {
      case 'object': {
        const obj = node as ObjectNode;
        const out: Record<string, unknown> = into && typeof into === 'object' && !Array.isArray(into) ? (into as Record<string, unknown>) : {};
        // Unused keys of this object, sorted by key (Ignition reports them before walking into the fields). Ignition
        // looks for them only under exactly spelled keys, not under a key matched case-insensitively.
        if (reportUnused) {
          let here: Map<string, UnusedKey> | undefined;
          const exact = fieldIndex(t).exact;
          for (const m of obj.members) {
            if (exact.has(m.key) || here?.has(m.key)) continue;
            here ??= new Map();
            here.set(m.key, { path: toPath(path, m.key), key: m.key, keyStart: m.keyStart });
          }
          if (here) {
            for (const k of [...here.keys()].sort()) {
              const u = here.get(k)!;
              const id = u.path.join('\u0000');
              if (!seenUnused.has(id)) {
                seenUnused.add(id);
                unused.push(u);
              }
            }
          }
        }
        for (const m of obj.members) {
          const name = fieldFor(t, m.key);
          if (name === undefined) continue;
          const ft = t.fields[name]!;
          const p: PathLink = { up: path, seg: name };
          if (m.value.kind === 'null') {
            const nonNull = ft.k === 'object' || ft.k === 'array' || t.nonNull?.includes(name);
            if (nonNull) nulls.push(toPath(p));
            if (ft.k === 'array' || !nonNull) delete out[name];
            continue;
          }
          out[name] = decode(m.value, ft, p, ft.k === 'object' ? out[name] : undefined, reportUnused && m.key === name);
        }
        return out;
      }
      case 'array': {
        const items = (node as { items: JsonNode[] }).items;
        const out: unknown[] = new Array(items.length);
        for (let i = 0; i < items.length; i++) {
          const item = items[i]!;
          if (item.kind !== 'null') out[i] = decode(item, t.item, { up: path, seg: i }, undefined, reportUnused);
          else {
            if (!t.nullItems) nulls.push(toPath(path, i));
            out[i] = zeroOf(t.item);
          }
        }
        return out;
      }
      case 'int': {
        const raw = (node as { raw?: string }).raw ?? String((node as { value: unknown }).value);
        if (!isInt64(raw)) {
          intErrors.push({ path: toPath(path), node, raw });
          return 0;
        }
        return (node as { value: unknown }).value;
      }
      default:
        return (node as { value: unknown }).value;
    }
  };

  const value = decode(root, tree, undefined) as Record<string, unknown>;
  return { value, unused, intErrors, nulls, kindErrors };
}

/**
 * decodeConfig's fast path: the same decoding from the value JSON.parse made of the text, for text that has no
 * repeated key in any object and no number other than a short integer (the caller checks that: then the value holds
 * all the text says, in document order). Undefined when the config has a type error: the caller then decodes the
 * positioned tree, which locates it. Unused keys come without keyStart (-1); `keys` counts the keys of every object in
 * the value, unknown subtrees included, for the caller's check that none was repeated; `missing` is false when no
 * object lacks a key its struct requires (missingRequired then finds nothing).
 */
export function decodePlain(root: Record<string, unknown>, tree: ObjT): { decoded: Decoded; keys: number; missing: boolean } | undefined {
  const unused: UnusedKey[] = [];
  const nulls: Path[] = [];
  const seenUnused = new Set<string>();
  let keys = 0;
  let typeError = false;
  let missing = false;

  const decode = (v: unknown, t: GoType, path: PathLink | undefined, into: unknown, reportUnused: boolean): unknown => {
    switch (t.k) {
      case 'object': {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) break;
        const obj = v as Record<string, unknown>;
        const out: Record<string, unknown> = into && typeof into === 'object' && !Array.isArray(into) ? (into as Record<string, unknown>) : {};
        const index = fieldIndex(t);
        // Unused keys of this object go before those of the objects below it (as decodeConfig reports them): they
        // are put in at this mark after the members are decoded.
        const mark = unused.length;
        let here: string[] | undefined;
        for (const key in obj) {
          keys++;
          const exact = index.exact.has(key);
          if (!exact && reportUnused) (here ??= []).push(key);
          const name = exact ? key : index.lower.get(key.toLowerCase());
          const m = obj[key];
          if (name === undefined) {
            keys += countKeys(m);
            continue;
          }
          const ft = t.fields[name]!;
          if (m === null) {
            const nonNull = ft.k === 'object' || ft.k === 'array' || t.nonNull?.includes(name);
            if (nonNull) nulls.push(toPath(path, name));
            if (ft.k === 'array' || !nonNull) delete out[name];
            continue;
          }
          if (ft.k === 'object') out[name] = decode(m, ft, { up: path, seg: name }, out[name], reportUnused && exact);
          else if (ft.k === 'array') out[name] = decode(m, ft, { up: path, seg: name }, undefined, reportUnused && exact);
          else if (scalarMatches(m, ft)) out[name] = m;
          else typeError = true;
          if (typeError) return undefined;
        }
        if (here) {
          // Sorted by key.
          const mine: UnusedKey[] = [];
          for (const key of here.sort()) {
            const u = { path: toPath(path, key), key, keyStart: -1 };
            const id = u.path.join('\u0000');
            if (!seenUnused.has(id)) {
              seenUnused.add(id);
              mine.push(u);
            }
          }
          const below = unused.splice(mark);
          for (const u of mine) unused.push(u);
          for (const u of below) unused.push(u);
        }
        // A required key missing here (checked on the object as it ends up): the caller then lists them.
        if (t.required) for (const k of t.required) if (out[k] === undefined) missing = true;
        return out;
      }
      case 'array': {
        if (!Array.isArray(v)) break;
        const out: unknown[] = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          const item = v[i];
          if (item !== null) {
            out[i] = decode(item, t.item, { up: path, seg: i }, undefined, reportUnused);
            if (typeError) return undefined;
          } else {
            if (!t.nullItems) nulls.push(toPath(path, i));
            out[i] = zeroOf(t.item);
            // An empty struct lacks every key its type requires.
            if (t.item.k === 'object' && t.item.required?.length) missing = true;
          }
        }
        return out;
      }
      case 'string':
        if (typeof v === 'string') return v;
        break;
      case 'int':
        // Short integer literals only (the caller's check): each fits in int64.
        if (typeof v === 'number') return v;
        break;
      case 'bool':
        if (typeof v === 'boolean') return v;
        break;
    }
    typeError = true;
    return undefined;
  };
  const value = decode(root, tree, undefined, undefined, true) as Record<string, unknown> | undefined;
  if (typeError || !value) return undefined;
  return { decoded: { value, unused, intErrors: [], nulls, kindErrors: [] }, keys, missing };
}

/** Whether a JSON value (not null) is of a scalar Go type: a string, a number (short integers only, see decodePlain) or a bool. */
function scalarMatches(v: unknown, t: GoType): boolean {
  switch (t.k) {
    case 'string':
      return typeof v === 'string';
    case 'int':
      return typeof v === 'number';
    case 'bool':
      return typeof v === 'boolean';
    default:
      return false;
  }
}

/** The number of keys of every object in a JSON value. */
function countKeys(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  let n = 0;
  if (Array.isArray(v)) for (const x of v) n += countKeys(x);
  else
    for (const k in v as Record<string, unknown>) {
      n++;
      n += countKeys((v as Record<string, unknown>)[k]);
    }
  return n;
}

/** The node at a path of canonical names, or the deepest node on the way there. */
export function nodeAt(root: JsonNode, path: readonly (string | number)[], exactKeys = false): { node: JsonNode; exact: boolean } {
  let node = root;
  for (const seg of path) {
    let next: JsonNode | undefined;
    if (typeof seg === 'number') {
      if (node.kind === 'array') next = node.items[seg];
    } else if (node.kind === 'object') next = (exactKeys ? findExactMember(node, seg) : findMember(node, seg))?.value;
    if (!next) return { node, exact: false };
    node = next;
  }
  return { node, exact: true };
}

export function formatPath(path: readonly (string | number)[]): string {
  return path.length === 0 ? '$' : '$.' + path.join('.');
}

/** A missing key the spec's schema requires: the object's path and the key. */
export interface MissingKey {
  path: Path;
  key: string;
}

/** Per type, what the required-keys walk does: the type's own required keys and the fields to go down, with their plans. */
interface RequiredPlan {
  kind: 'object' | 'array';
  required: readonly string[];
  down: { name: string; plan: RequiredPlan }[];
  item: RequiredPlan | undefined;
}
const REQUIRED = Symbol('required plan');

/** The plan of a type (kept on it), or null when no required key can be missing at or below it. */
function requiredPlan(t: GoType): RequiredPlan | null {
  return memoOnType(
    t,
    REQUIRED,
    (): RequiredPlan | null => {
      if (t.k === 'array') {
        const item = requiredPlan(t.item);
        return item ? { kind: 'array', required: [], down: [], item } : null;
      }
      if (t.k !== 'object') return null;
      const down: RequiredPlan['down'] = [];
      for (const [name, ft] of Object.entries(t.fields)) {
        const plan = requiredPlan(ft);
        if (plan) down.push({ name, plan });
      }
      const required = t.required ?? [];
      return required.length || down.length ? { kind: 'object', required, down, item: undefined } : null;
    },
    null,
  );
}

/**
 * The keys the spec's schema requires that a decoded value lacks, in the order a JSON-schema validator (ajv, with
 * allErrors) reports them: at each object its own required keys, then its fields in struct order, list items in
 * order. Values of the wrong JSON type (decode's stand-ins) are not looked into, as a schema validator does not.
 */
export function missingRequired(value: unknown, t: ObjT): MissingKey[] {
  const out: MissingKey[] = [];
  const path: Path = [];
  const walk = (v: unknown, plan: RequiredPlan): void => {
    if (plan.kind === 'array') {
      if (!Array.isArray(v)) return;
      const item = plan.item!;
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        walk(v[i], item);
        path.pop();
      }
      return;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return;
    const o = v as Record<string, unknown>;
    for (const key of plan.required) if (o[key] === undefined) out.push({ path: path.slice(), key });
    for (const { name, plan: fp } of plan.down) {
      const fv = o[name];
      if (fv === undefined) continue;
      path.push(name);
      walk(fv, fp);
      path.pop();
    }
  };
  const plan = requiredPlan(t);
  if (plan) walk(value, plan);
  return out;
}

