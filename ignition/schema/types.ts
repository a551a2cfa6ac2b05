/**
 * The shape of an Ignition config, described as the Go types Ignition decodes it into.
 *
 * Each spec version has one tree (build.ts, made on first use by index.ts). From the tree come the JSON types and
 * required keys decode.ts checks (and the JSON schema they are tested against, schemaOf), the wording of type errors (Go's "cannot unmarshal … of type …"), the list of known keys (unused-key warnings),
 * and the struct order in which Ignition walks the config.
 */
export type GoType = StrT | IntT | BoolT | ObjT | ArrT;
export interface StrT {
  k: 'string';
  /** The Go type name shown in type errors ("string", "types.Device"). */
  go: string;
}
export interface IntT {
  k: 'int';
  go: 'int';
}
export interface BoolT {
  k: 'bool';
  go: 'bool';
}
export interface ObjT {
  k: 'object';
  go: string;
  /** The Go struct name ("File"): the "Go struct field File.…" part of type errors. */
  struct: string;
  /** Fields in Go struct order (Ignition's traversal order). */
  fields: Record<string, GoType>;
  /** Scalar fields that are not pointers in Go: the spec's schema does not allow null for them. */
  nonNull?: string[];
  /** Fields the spec's schema requires. */
  required?: string[];
}
export interface ArrT {
  k: 'array';
  go: string;
  item: GoType;
  /** Whether the spec's schema allows null items (only noProxy before 3.4). */
  nullItems?: boolean;
}

export const str = (go = 'string'): StrT => ({ k: 'string', go });
export const int: IntT = { k: 'int', go: 'int' };
export const bool: BoolT = { k: 'bool', go: 'bool' };
export const obj = (struct: string, fields: Record<string, GoType>): ObjT => ({ k: 'object', go: `types.${struct}`, struct, fields });
export const arr = (item: GoType, go?: string): ArrT => ({ k: 'array', go: go ?? `[]${item.go}`, item });
/** Mark fields of a struct as non-pointer scalars and/or required by the spec. */
export function withRules(o: ObjT, nonNull: string[], required: string[] = []): ObjT {
  return { ...o, nonNull, required };
}

/**
 * The JSON schema (draft-07, what plain ajv 8 speaks) of a tree. Validation does not run it: decode.ts checks the
 * JSON types and required keys itself, and test/unit/ignition-decode.test.ts holds those checks to what ajv finds
 * with this schema. Nulls are removed before validation, as Go ignores them. A struct schema used more than once
 * (Resource, Verification, HTTPHeader, …) is written once under `definitions` and referred to.
 */
export function schemaOf(t: GoType): Record<string, unknown> {
  const inline = (x: GoType): Record<string, unknown> => {
    switch (x.k) {
      // Scalars are not typed here: decode.ts checks every scalar's JSON type (and Go's int64 rules, stricter than
      // "integer") as it decodes, and a value of the wrong type reaches ajv as itself, so ajv's type error would only
      // repeat decode's.
      case 'string':
      case 'int':
      case 'bool':
        return {};
      case 'array':
        return { type: 'array', items: inline(x.item) };
      case 'object': {
        const properties: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(x.fields)) properties[k] = inline(v);
        return x.required?.length ? { type: 'object', properties, required: x.required } : { type: 'object', properties };
      }
    }
  };
  // Count each struct schema's uses, by content (one struct can differ by version or by required keys).
  const uses = new Map<string, number>();
  const count = (x: GoType): void => {
    if (x.k === 'array') count(x.item);
    if (x.k !== 'object') return;
    const key = JSON.stringify(inline(x));
    uses.set(key, (uses.get(key) ?? 0) + 1);
    for (const f of Object.values(x.fields)) count(f);
  };
  count(t);
  const definitions: Record<string, unknown> = {};
  const names = new Map<string, string>();
  const build = (x: GoType, top = false): Record<string, unknown> => {
    if (x.k === 'array') return { type: 'array', items: build(x.item) };
    if (x.k !== 'object') return inline(x);
    const properties: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x.fields)) properties[k] = build(v);
    const own = x.required?.length ? { type: 'object', properties, required: x.required } : { type: 'object', properties };
    const key = JSON.stringify(inline(x));
    if (top || (uses.get(key) ?? 0) < 2) return own;
    let name = names.get(key);
    if (!name) {
      name = x.struct in definitions ? `${x.struct}_${names.size}` : x.struct;
      names.set(key, name);
      definitions[name] = own;
    }
    return { $ref: `#/definitions/${name}` };
  };
  const root = build(t, true);
  return Object.keys(definitions).length ? { ...root, definitions } : root;
}

/**
 * A value worked out once per type (a walk's plan, a field index) and kept on the type under a symbol key, which
 * JSON.stringify and Object.entries skip. While it is being made, a use of the same type (a recursive type) sees
 * `pending`.
 */
export function memoOnType<T>(t: GoType, key: symbol, make: () => T, pending?: T): T {
  const holder = t as GoType & Record<symbol, T | undefined>;
  const known = holder[key];
  if (known !== undefined) return known;
  holder[key] = pending;
  return (holder[key] = make());
}

/** The Go type at a JSON path of the tree, with the struct that holds the field and the field path Go prints. */
export function typeAt(root: ObjT, path: readonly (string | number)[]): { type: GoType; struct: string; field: string } | undefined {
  let t: GoType = root;
  let struct = '';
  const names: string[] = [];
  for (const seg of path) {
    if (typeof seg === 'number') {
      if (t.k !== 'array') return undefined;
      t = t.item;
    } else {
      if (t.k !== 'object') return undefined;
      const f: GoType | undefined = t.fields[seg];
      if (!f) return undefined;
      struct = t.struct;
      names.push(seg);
      t = f;
    }
  }
  return { type: t, struct, field: names.join('.') };
}
