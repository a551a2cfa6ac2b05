/** Issue 15 item 5: YAML alias bombs (billion laughs) and self-containing anchors, in Butane and in manifests. */
import { describe, expect, it } from 'vitest';
import { translateButaneFile, translateAndValidate } from '../../ignition/butane/index.js';
import { parseManifest } from '../../ostree/manifest.js';
import { aliasProblem, aliasStats, allowedAliasRatio } from '../../lib/yamlalias.js';
import { UserError } from '../../lib/errors.js';
import { laughs } from './hostile-helpers.js';

const BUTANE = 'variant: fcos\nversion: 1.5.0\n';

async function userErrorOf(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(UserError);
  return e as UserError;
}

describe('alias expansion bounds (yaml.v3 rule)', () => {
  it('counts the expanded tree without expanding it', () => {
    const a = [1, 2, 3];
    const s = aliasStats({ x: a, y: a, z: [a, a] });
    // root + 3 keys + (x: 4) + (y: 4) + (z: 1 + 4 + 4)
    expect(s.expanded).toBe(1 + 3 + 4 + 4 + 9);
    expect(s.cyclic).toBe(false);
    expect(allowedAliasRatio(100)).toBe(0.99);
    expect(allowedAliasRatio(4_000_000)).toBeCloseTo(0.1);
  });
  it('leaves ordinary documents and modest aliasing alone', () => {
    const a = { k: 'v' };
    expect(aliasProblem({ x: a, y: a, list: Array.from({ length: 500 }, (_, i) => i) })).toBeUndefined();
  });
  it('refuses a billion laughs and a cycle', () => {
    expect(aliasProblem({ a: [] as unknown[] })).toBeUndefined();
    const cyc: unknown[] = [];
    cyc.push(cyc);
    expect(aliasProblem({ a: cyc })).toMatch(/contains itself/);
  });
});

describe('Butane', () => {
  it('a 371-byte-class alias bomb is a YAML error with its reason, fast', async () => {
    const text = laughs(BUTANE);
    expect(text.length).toBeLessThan(400);
    const t0 = Date.now();
    const e = await userErrorOf(translateButaneFile({ input: text }));
    expect(e.message).toMatch(/^error: error parsing YAML: document contains excessive aliasing \(\d{9} nodes once aliases are expanded, from \d+ written out\)$/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
  it('an anchor that contains itself is a YAML error, not a stack overflow', async () => {
    const e = await userErrorOf(translateButaneFile({ input: `${BUTANE}storage: &s\n  files: [*s]\n` }));
    expect(e.message).toMatch(/error parsing YAML: anchor value contains itself/);
  });
  it('ordinary aliases still translate', () => {
    const r = translateAndValidate(`${BUTANE}storage:\n  files:\n    - path: /a\n      mode: &m 0600\n    - path: /b\n      mode: *m\n`);
    expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(JSON.parse(r.json!).storage.files.map((f: { mode: number }) => f.mode)).toEqual([384, 384]);
  });
});

describe('manifest', () => {
  it('an alias bomb is a user error naming the file, fast', () => {
    const t0 = Date.now();
    expect(() => parseManifest(laughs('packages: [systemd]\n'), 'm.yaml')).toThrow(UserError);
    expect(() => parseManifest(laughs('packages: [systemd]\n'), 'm.yaml')).toThrow(/^m\.yaml:1:1: YAML syntax error: document contains excessive aliasing/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
  it('a self-containing anchor is a user error', () => {
    expect(() => parseManifest('packages: &p [systemd, *p]\n', 'm.yaml')).toThrow(/anchor value contains itself/);
  });
});

describe('YAML that js-yaml itself trips over (found by the fuzz test)', () => {
  it('!!binary on a timestamp is a YAML error in Butane, not an internal error', async () => {
    const e = await userErrorOf(translateButaneFile({ input: 'units:\nboot_device:\n---\n\n!!binary \n2001-12-14' }));
    expect(e.message).toBe('error: error parsing YAML: cannot parse this YAML (data.replace is not a function)');
  });
});
