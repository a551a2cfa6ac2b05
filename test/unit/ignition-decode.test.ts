/**
 * Decoding (ignition/decode.ts), checked against two references on random configs of every spec version:
 * - validation does not run a JSON-schema validator: decode checks every value's JSON type and each struct's
 *   required keys itself. Those checks are held to what ajv finds with each version's JSON schema (schemaOf): the
 *   same missing required keys in the same order, and a type error of ajv's only where decode has one too (decode
 *   also sees the scalars, which the schema leaves untyped, and values a repeated key replaced);
 * - the fast way (JSON.parse's value, decodePlain) decodes what the positioned tree (parseJson, decodeConfig) does,
 *   whenever plainJsonKeys lets it, and declines where it cannot (type errors, repeated keys, other numbers).
 */
import { Ajv, type ErrorObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import { decodeConfig, decodePlain, missingRequired, type Path } from '../../ignition/decode.js';
import { MAX_DEPTH, parseJson, plainJsonKeys, type ObjectNode } from '../../ignition/parse.js';
import { validateConfig } from '../../ignition/validate.js';
import { SPECS } from '../../ignition/schema/index.js';
import type { GoType } from '../../ignition/schema/types.js';
import { mulberry32 } from '../differential/generate.js';

/** The differential generators' mulberry32, with an integer helper. */
function prng(seed: number) {
  const next = mulberry32(seed);
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

describe('the fast way decodes what the positioned tree decodes', () => {
  it('plainJsonKeys counts every key, repeated ones too, and declines numbers other than short integers and deep nesting', () => {
    expect(plainJsonKeys('{"a":1,"b":{"c":[{"d":null}],"a":"x:y"},"a":-0}')).toBe(6);
    expect(plainJsonKeys('{"a:\\"":"\\":","b":[true,false,null,123456789012345]}')).toBe(2);
    for (const n of ['1.0', '1e2', '1E2', '-0.5', '1234567890123456', '99999999999999999999']) expect(plainJsonKeys(`{"a":${n}}`), n).toBeUndefined();
    // In strings, anything goes.
    expect(plainJsonKeys('{"1.5e3":"1234567890123456 2.5"}')).toBe(1);
    expect(plainJsonKeys('['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH))).toBe(0);
    expect(plainJsonKeys('['.repeat(MAX_DEPTH + 1) + ']'.repeat(MAX_DEPTH + 1))).toBeUndefined();
  });

  it('a repeated key, a float or a type error takes the full way, with the same findings', () => {
    const cases = [
      '{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/a","path":"b"}]}}',
      '{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/a","PATH":"b","path":"/c"}]}}',
      '{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/a","mode":420.0}]}}',
      '{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/a","mode":"420"}]}}',
      // Go decodes both "storage" keys into one struct: the first one's file is still there.
      '{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"a"}]},"storage":{"links":[{"path":"/l","target":"/x"}]}}',
    ];
    const expected = [
      'error $.storage.files.0.path 1:73 path not absolute',
      'warning $.storage.files.0.PATH 1:66 unused key PATH',
      'error $ 1:78 json: cannot unmarshal number 420.0 into Go struct field File.storage.files.mode of type int',
      'error $ 1:78 json: cannot unmarshal string into Go struct field File.storage.files.mode of type int',
      'error $.storage.files.0.path 1:79 path not absolute',
    ];
    const got = cases.map((c) => validateConfig(c).findings.map((f) => `${f.severity} ${f.path} ${f.line}:${f.col} ${f.message}`).join('; '));
    expect(got).toEqual(expected);
  });

  for (const spec of SPECS) {
    it(`spec ${spec.version}: decodePlain equals decodeConfig wherever plainJsonKeys allows it`, () => {
      const r = prng(0xfa57 + spec.minor);
      let fast = 0;
      let missed = 0;
      for (let i = 0; i < 1500; i++) {
        const text = `{"ignition":{"version":"${spec.version}"},` + randomJson(spec.tree, r).slice(1).replace(/^}$/, '"x":0}');
        const keys = plainJsonKeys(text);
        const plain = keys === undefined ? undefined : decodePlain(JSON.parse(text) as Record<string, unknown>, spec.tree);
        const full = decodeConfig(parseJson(text) as ObjectNode, spec.tree);
        const typeError = full.kindErrors.length > 0 || full.intErrors.length > 0;
        if (!plain || plain.keys !== keys) {
          // Declined: only for a type error, a number other than a short integer or a repeated key.
          if (!typeError && keys !== undefined) expect(plain?.keys, text).not.toBe(keys);
          continue;
        }
        fast++;
        expect(typeError, text).toBe(false);
        expect(plain.decoded.value, text).toEqual(full.value);
        expect(plain.decoded.nulls, text).toEqual(full.nulls);
        expect(plain.decoded.unused.map((u) => ({ path: u.path, key: u.key })), text).toEqual(full.unused.map((u) => ({ path: u.path, key: u.key })));
        // No required key missing, as far as decodePlain saw: then there is none.
        if (!plain.missing) expect(missingRequired(full.value, spec.tree), text).toEqual([]);
        else missed++;
      }
      expect(fast).toBeGreaterThan(100);
      expect(missed).toBeGreaterThan(10);
    });
  }
});
