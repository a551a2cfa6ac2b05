/** Decoding: YAML nodes → typed values, like yaml.v3 into Butane's structs (unknown keys warned, wrong types errors). */
import { isList, isMap, isObj, yamlName, type FieldType } from '../schema.js';
import { parseGoInt, type YNode } from '../yaml.js';
import type { Ctx, Obj } from './ctx.js';

export function tagOf(n: YNode): string {
  if (n.kind === 'map') return '!!map';
  if (n.kind === 'seq') return '!!seq';
  const v = n.value;
  if (v === null) return '!!null';
  if (typeof v === 'boolean') return '!!bool';
  if (typeof v === 'number') return Number.isInteger(v) && !/[.eE]/.test(n.raw ?? '') ? '!!int' : '!!float';
  return '!!str';
}

function typeName(t: FieldType): string {
  if (isList(t)) return `[]${typeName(t.list)}`;
  if (isMap(t)) return `map[string]${t.map}`;
  if (isObj(t)) return t.name;
  return t;
}

function unmarshalError(n: YNode, t: FieldType): string {
  const shown = n.kind === 'scalar' ? ` \`${(n.raw ?? String(n.value)).slice(0, 40)}\`` : '';
  return `cannot unmarshal ${tagOf(n)}${shown} into ${typeName(t)}`;
}

export function decode(ctx: Ctx, t: FieldType, n: YNode, path: string): unknown {
  ctx.valuePos.set(path, ctx.src.pos(n.start));
  if (n.kind === 'scalar' && n.value === null) return undefined;
  if (isObj(t)) {
    if (n.kind !== 'map') return ctx.goError(path, unmarshalError(n, t));
    const out: Obj = {};
    for (const e of n.entries) {
      const p = `${path}.${e.key}`;
      ctx.keyPos.set(p, ctx.src.pos(e.keyStart));
      ctx.valuePos.set(p, ctx.src.pos(e.value.start));
      const fl = t.fields.find((x) => yamlName(x) === e.key);
      if (!fl) {
        ctx.warn(p, `unused key ${e.key}`, 'key');
        continue;
      }
      const v = decode(ctx, fl.type, e.value, p);
      if (v !== undefined) out[e.key] = v;
    }
    return out;
  }
  if (isMap(t)) {
    if (n.kind !== 'map') return ctx.goError(path, unmarshalError(n, t));
    const out: Obj = {};
    for (const e of n.entries) {
      const p = `${path}.${e.key}`;
      ctx.keyPos.set(p, ctx.src.pos(e.keyStart));
      const v = decode(ctx, t.map, e.value, p);
      if (v !== undefined) out[e.key] = v;
    }
    return out;
  }
  if (isList(t)) {
    if (n.kind !== 'seq') return ctx.goError(path, unmarshalError(n, t));
    return n.items.map((it, i) => decode(ctx, t.list, it, `${path}.${i}`) ?? zero(t.list));
  }
  if (n.kind !== 'scalar') return ctx.goError(path, unmarshalError(n, t));
  const v = n.value;
  switch (t) {
    case 'string':
      if (typeof v === 'string') return v;
      return n.raw ?? String(v);
    case 'int': {
      if (!n.quoted && n.raw !== undefined) {
        const i = parseGoInt(n.raw) ?? goFloatToInt(n.raw);
        if (i !== undefined) return i;
      }
      // Aliased or merged values have no text of their own; the schema already read them like yaml.v3.
      if (!n.quoted && n.raw === undefined && typeof v === 'number' && Number.isInteger(v)) return v;
      return ctx.goError(path, unmarshalError(n, t));
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      // yaml.v3 reads the YAML 1.1 spellings into a bool field, quoted or not (decode.go, "compatibility with the 1.1 spec").
      if (typeof v === 'string' && YAML11_BOOL[v] !== undefined) return YAML11_BOOL[v];
      return ctx.goError(path, unmarshalError(n, t));
  }
}

const YAML11_BOOL: Record<string, boolean> = Object.fromEntries([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'].map((k) => [k, true]),
  ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'].map((k) => [k, false]),
]);

/**
 * A plain float (`420.0`, `4.2e2`) read into an int field: yaml.v3 converts it with Go's int64(), which truncates
 * toward zero (decode.go, reflect.Int case of float64). Outside int64, or .inf/.nan, it is a type error.
 */
function goFloatToInt(raw: string): number | undefined {
  const s = raw.replace(/_/g, '');
  if (!/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(s)) return undefined;
  const f = Number(s);
  if (!Number.isFinite(f) || Math.abs(f) >= 2 ** 63) return undefined;
  return Math.trunc(f) || 0;
}

function zero(t: FieldType): unknown {
  if (isObj(t)) return {};
  if (isList(t)) return [];
  return t === 'string' ? '' : t === 'int' ? 0 : false;
}
