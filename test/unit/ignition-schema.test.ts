/**
 * Validation does not run a JSON-schema validator: decode.ts checks every value's JSON type and each struct's
 * required keys itself. Here those checks are held to what ajv finds with each version's JSON schema (schemaOf):
 * the same missing required keys in the same order, and a type error of ajv's only where decode has one too (decode
 * also sees the scalars, which the schema leaves untyped, and values a repeated key replaced).
 */
import { Ajv, type ErrorObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import { decodeConfig, missingRequired, type Path } from '../../ignition/decode.js';
import { parseJson, type ObjectNode } from '../../ignition/parse.js';
import { SPECS } from '../../ignition/schema/index.js';
import type { GoType } from '../../ignition/schema/types.js';

/** mulberry32. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

const WRONG = ['"s"', '7', '1.5', 'true', '[]', '{}', '[1]', '{"a":1}'];

/** JSON text of a random value of type t: mostly the right shape, sometimes null, a wrong type, a case-changed or repeated key. */
function randomJson(t: GoType, r: ReturnType<typeof prng>, depth = 0): string {
  if (depth > 0 && r.next() < 0.04) return 'null';
  if (depth > 0 && r.next() < 0.04) return WRONG[r.int(WRONG.length)]!;
  switch (t.k) {
    case 'string':
      return JSON.stringify(['', '/a', 'x', 'data:,x'][r.int(4)]);
    case 'int':
      return ['0', '420', '-1', '1e2', '99999999999999999999'][r.int(5)]!;
    case 'bool':
      return r.next() < 0.5 ? 'true' : 'false';
    case 'array': {
      const n = depth > 6 ? 0 : r.int(3);
      return '[' + Array.from({ length: n }, () => randomJson(t.item, r, depth + 1)).join(',') + ']';
    }
    case 'object': {
      const parts: string[] = [];
      for (const [name, ft] of Object.entries(t.fields)) {
        if (r.next() < 0.4) continue;
        const key = r.next() < 0.05 ? name.toUpperCase() : name;
        parts.push(`${JSON.stringify(key)}:${randomJson(ft, r, depth + 1)}`);
        if (r.next() < 0.03) parts.push(`${JSON.stringify(name)}:${randomJson(ft, r, depth + 1)}`);
      }
      return '{' + parts.join(',') + '}';
    }
  }
}

const pointerToPath = (pointer: string): Path =>
  pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s));

describe('decode checks what the JSON schema checks', () => {
  const ajv = new Ajv({ allErrors: true, strict: true });
  for (const spec of SPECS) {
    it(`spec ${spec.version}: missing required keys in ajv's order, and ajv's type errors among decode's`, () => {
      const check = ajv.compile(spec.schema);
      const r = prng(0x5c4e3a + spec.minor);
      let required = 0;
      let typed = 0;
      for (let i = 0; i < 1500; i++) {
        const text = `{"ignition":{"version":"${spec.version}"},` + randomJson(spec.tree, r).slice(1).replace(/^}$/, '"x":0}');
        const root = parseJson(text) as ObjectNode;
        const { value, kindErrors } = decodeConfig(root, spec.tree);
        check(value);
        const errors = (check.errors ?? []) as ErrorObject[];
        const theirs = errors.filter((e) => e.keyword === 'required').map((e) => ({ path: pointerToPath(e.instancePath), key: (e.params as { missingProperty: string }).missingProperty }));
        expect(missingRequired(value, spec.tree), text).toEqual(theirs);
        const kinds = new Set(kindErrors.map((k) => JSON.stringify(k.path)));
        for (const e of errors.filter((e) => e.keyword === 'type')) expect(kinds.has(JSON.stringify(pointerToPath(e.instancePath))), text).toBe(true);
        required += theirs.length;
        typed += errors.length - theirs.length;
      }
      // The generator reaches both kinds of findings.
      expect(required).toBeGreaterThan(50);
      expect(typed).toBeGreaterThan(50);
    });
  }
});
