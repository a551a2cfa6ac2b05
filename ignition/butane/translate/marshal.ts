/** The Ignition output as Go writes it: key order, omitempty, always-written fields, HTML-safe JSON. */
import type { GoType, ObjT as GoObjT } from '../../schema/types.js';
import { carrySource } from '../srcmap.js';
import { isList, isObj, snake, type FieldType } from '../schema.js';
import type { Obj } from './ctx.js';

/**
 * Order keys as Ignition's Go structs marshal them and drop empty objects/lists (omitempty; Butane marshals with
 * clarketm/json, which omits zero structs too). `go` is the same level of Ignition's own type tree: its non-pointer
 * fields without omitempty (a unit's `name`, a link's `target` before 3.3, …) are written even when the Butane
 * config left them out ("name": ""), as Go writes them, whenever their struct is written.
 */
export function canonical(t: FieldType, v: unknown, go: GoType | undefined = undefined, item = false): unknown {
  if (v === undefined || v === null) return undefined;
  if (isList(t)) {
    const itemGo = go?.k === 'array' ? go.item : undefined;
    const arr = (v as unknown[]).map((x) => canonical(t.list, x, itemGo, true) ?? (isObj(t.list) ? {} : x));
    carrySource(arr, v);
    return arr.length > 0 ? arr : undefined;
  }
  if (isObj(t)) {
    const o = v as Obj;
    const goObj = go?.k === 'object' ? go : undefined;
    const vals: Obj = {};
    for (const fl of t.fields) {
      if (fl.json === undefined) continue;
      const x = canonical(fl.type, o[fl.json], goObj?.fields[fl.json]);
      // Partition.Number is a plain int with omitempty in Ignition's Go types: 0 is not written.
      if (t.name === 'Partition' && fl.json === 'number' && x === 0) continue;
      if (x !== undefined) vals[fl.json] = x;
    }
    if (Object.keys(vals).length === 0 && !item) return undefined;
    const out: Obj = {};
    carrySource(out, o);
    for (const fl of t.fields) {
      if (fl.json === undefined) continue;
      if (vals[fl.json] !== undefined) out[fl.json] = vals[fl.json];
      else if (goObj && alwaysWritten(goObj, fl.json)) out[fl.json] = '';
      // Spec 3.0's ConfigReference.Source is a *string without omitempty (v3_0/types/schema.go:18): null.
      else if (goObj?.struct === 'ConfigReference' && fl.json === 'source') out[fl.json] = null;
    }
    return out;
  }
  return v;
}

/** A string field of Ignition's Go types that is neither a pointer nor omitempty (Partition.number and Tang.url are omitempty). */
function alwaysWritten(go: GoObjT, field: string): boolean {
  return Boolean(go.nonNull?.includes(field)) && go.fields[field]?.k === 'string' && !(go.struct === 'Tang' && field === 'url');
}

/** JSON as Go's encoding/json writes it (HTML-safe escapes), compact or indented by two spaces. */
export function marshalIgnition(config: unknown, pretty: boolean): string {
  const s = pretty ? JSON.stringify(config, null, 2) : JSON.stringify(config);
  return s.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** YAML path for an Ignition JSON path when the fields map one to one ("$.storage.files.0.sizeMiB" → snake). */
export function snakePath(path: string): string {
  return path
    .split('.')
    .map((p) => snake(p))
    .join('.');
}
