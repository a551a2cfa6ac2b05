/**
 * Issue 15 #8: validator time grew much faster than its input (findings located past long member lists, columns of
 * non-ASCII text counted from the start of the line for every finding, links checked against every path). The
 * shapes come from bench/validate-shapes.ts; bench/validate-scale measures them. Here: the findings are the same as
 * before the fix (sha256 of the findings JSON, recorded with the old code), the new index structures agree with the
 * naive ones on random input, and a generous time guard catches a quadratic regression (not a speed test).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateFiles } from '../../ignition/files.js';
import { describe, expect, it } from 'vitest';
import { findExactMember, findMember, parseJson, type ObjectNode } from '../../ignition/parse.js';
import { Positions } from '../../ignition/positions.js';
import { MAX_CONFIG_BYTES, validateConfig } from '../../ignition/validate.js';
import { SHAPES, generate, type Shape } from '../../bench/validate-shapes.js';

/** Recorded with the code before the fix (commit ae22cd1): findings count and sha256 of JSON.stringify(findings). */
const BEFORE: Record<Shape, [number, number, string][]> = {
  findings: [
    [40_000, 1131, '4b4c0d36ffa6884f7aff8869d969fd05ccd07a82bf107448cc94f744da154744'],
    [120_000, 3337, '08fc253e09109b25d2b5e8ee765cac1cbb918380d2c031d26884a4704a619485'],
  ],
  nonascii: [
    [40_000, 763, 'e10ad0753ddb5d12ac6da773889793f7839ff88606ff16ea8aa5d9a2c729ba52'],
    [120_000, 2285, 'b8ca047ad30196ecf9af133f7d072e3fbcc081c5c802a6dae8e0ebb7f9f6ff77'],
  ],
  links: [
    [40_000, 0, '4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945'],
    [120_000, 0, '4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945'],
  ],
  linkprefix: [
    [40_000, 1341, 'a5894e427ba5a1b21952f138d01c6e01be0d19333e3240637059c5cc81f067eb'],
    [120_000, 3987, '47b5443a35df827cdf85f89a3ee2982afd4176fc338402298d287251cee7d27c'],
  ],
};

/** A small deterministic PRNG (tests must be repeatable). */
function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
}

describe('validator on large inputs (issue 15 #8)', () => {
  for (const shape of SHAPES) {
    it(`${shape}: the same findings as before the fix`, () => {
      for (const [bytes, count, sha] of BEFORE[shape]) {
        const r = validateConfig(Buffer.from(generate(shape, bytes)));
        expect(r.findings.length).toBe(count);
        // Recorded before the fix, when unknown keys were "Unused key X"; upstream v2.24.0 (and fcos since) says
        // "unused key X": that wording is put back before comparing, nothing else.
        const old = r.findings.map((x) => ({ ...x, message: x.message.replace(/^unused key /, 'Unused key ') }));
        expect(createHash('sha256').update(JSON.stringify(old)).digest('hex')).toBe(sha);
      }
    });
  }

  it('the shapes have the findings they are meant to have', () => {
    const f = validateConfig(generate('findings', 20_000)).findings;
    expect(f.some((x) => x.message === 'path not absolute')).toBe(true);
    expect(f.some((x) => x.message === 'unused key unknownKey' && x.path === '$.unknownKey')).toBe(true);
    const n = validateConfig(generate('nonascii', 20_000)).findings;
    expect(new Set(n.map((x) => x.line))).toEqual(new Set([1]));
    expect(n.some((x) => x.message === 'unused key clé')).toBe(true);
    expect(validateConfig(generate('links', 20_000)).findings).toEqual([]);
    const l = new Set(validateConfig(generate('linkprefix', 20_000)).findings.map((x) => x.message));
    for (const m of ['file path includes link', 'link path includes link', 'directory path includes link', 'hard link target is a directory', 'duplicate entry defined']) {
      expect([...l].some((x) => x.includes(m.split(' ')[0]!))).toBe(true);
    }
  });

  it('a quadratic regression guard: each shape at 2 MB in under 10 s of CPU time (20 s to minutes before)', () => {
    // CPU time of this process, not wall time: the guard must not fail because the host is busy.
    for (const shape of SHAPES) {
      const input = Buffer.from(generate(shape, 2_000_000));
      const c0 = process.cpuUsage();
      validateConfig(input);
      const c = process.cpuUsage(c0);
      expect((c.user + c.system) / 1000, shape).toBeLessThan(10_000);
    }
  });

  it('Positions: columns in UTF-8 bytes agree with counting from the start of the line, surrogate pairs included', () => {
    const rnd = prng(7);
    const alphabet = ['a', 'é', '€', '😀', '\n', 'x', '\ud800', '\udc00', '"'];
    for (let round = 0; round < 20; round++) {
      let text = '';
      const len = 1 + rnd(600);
      for (let i = 0; i < len; i++) text += alphabet[rnd(round % 2 ? alphabet.length : 4)]!;
      const p = new Positions(text);
      for (let off = 0; off <= text.length; off++) {
        const start = off === 0 ? 0 : text.lastIndexOf('\n', off - 1) + 1;
        const line = text.slice(0, start).split('\n').length;
        expect(p.lineCol(off), `round ${round} offset ${off}`).toEqual({ line, col: Buffer.byteLength(text.slice(start, off), 'utf8') + 1 });
      }
    }
  });

  it('member lookups through the index give the last member, exactly or case-insensitively, like the linear scan', () => {
    const rnd = prng(3);
    const keys = ['a', 'A', 'b', 'B', 'files', 'Files', 'FILES', 'é', 'É', 'x'];
    for (let round = 0; round < 30; round++) {
      const n = 1 + rnd(60);
      const text = `{${Array.from({ length: n }, (_, i) => `"${keys[rnd(keys.length)]}": ${i}`).join(',')}}`;
      const obj = parseJson(text) as ObjectNode;
      for (const k of [...keys, 'missing']) {
        let exact;
        let folded;
        for (const m of obj.members) {
          if (m.key === k) exact = m;
          if (m.key.toLowerCase() === k.toLowerCase()) folded = m;
        }
        expect(findExactMember(obj, k)).toBe(exact);
        expect(findMember(obj, k)).toBe(folded);
      }
    }
  });

  it('link rules: one error per link a path is under, as the all-pairs check gave (random trees)', () => {
    const rnd = prng(11);
    const seg = ['', 'a', 'b', 'ab', 'a/b', 'c'];
    const path = () => (rnd(5) === 0 ? '' : '/') + Array.from({ length: rnd(4) }, () => seg[rnd(seg.length)]).join('/');
    for (let round = 0; round < 40; round++) {
      const links = Array.from({ length: rnd(12) }, () => ({ path: path(), target: '/t' }));
      if (rnd(3) === 0) links.push({ target: '/t' } as { path: string; target: string });
      const files = Array.from({ length: rnd(12) }, () => ({ path: path() }));
      const directories = Array.from({ length: rnd(6) }, () => ({ path: path() }));
      const cfg = { ignition: { version: '3.4.0' }, storage: { links, files, directories } };
      const got = validateConfig(JSON.stringify(cfg)).findings.filter((f) => f.message.includes('includes link'));
      // The all-pairs rule of Ignition, written out.
      const want: string[] = [];
      const under = (p: string | undefined) => links.filter((l) => (p ?? '').startsWith((l.path ?? '') + '/')).length;
      directories.forEach((d, i) => want.push(...Array(under(d.path)).fill(`$.storage.directories.${i}`)));
      files.forEach((f, i) => want.push(...Array(under(f.path)).fill(`$.storage.files.${i}`)));
      links.forEach((l, i) => want.push(...Array(under(l.path)).fill(`$.storage.links.${i}`)));
      expect(got.map((f) => f.path).sort()).toEqual(want.sort());
    }
  });

  it('a config over the size limit is refused as too large, naming the limit (it was "not valid UTF-8")', () => {
    // A zero-filled buffer one byte over the limit: the pages are never touched, so this costs no memory.
    const big = new Uint8Array(MAX_CONFIG_BYTES + 1);
    const r = validateConfig(big);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]!.message).toBe(`config is too large: ${MAX_CONFIG_BYTES + 1} bytes; fcos validates configs of at most ${MAX_CONFIG_BYTES} bytes (about 512 MiB, the longest string Node.js can hold)`);
    expect(r.findings[0]!.message).not.toMatch(/UTF-8/);
    expect(MAX_CONFIG_BYTES).toBe(536_870_888);
  });

  it('a config file over the limit is refused before it is read (a sparse file: no disk, no memory)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-big-'));
    try {
      const f = join(d, 'big.ign');
      writeFileSync(f, '');
      truncateSync(f, MAX_CONFIG_BYTES + 10);
      const [r] = await validateFiles([f]);
      expect(r!.valid).toBe(false);
      expect(r!.errors).toEqual([{ path: '$', message: `${f}: config is too large: ${MAX_CONFIG_BYTES + 10} bytes; fcos validates configs of at most ${MAX_CONFIG_BYTES} bytes (about 512 MiB, the longest string Node.js can hold)` }]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
