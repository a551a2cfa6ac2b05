/** `fcos validate` end to end through the built CLI: output forms, exit codes and bad input that must never crash. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/run.js';
import { REPO } from './ignition-helpers.js';
import { buildCli } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'fcos-validate-cli-'));
const fcos = join(REPO, 'bin', 'fcos');
const put = (name: string, data: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};
const validate = (...args: string[]) => run(fcos, ['validate', ...args], { allowFailure: true, timeoutMs: 120_000 });

beforeAll(async () => {
  await buildCli({ force: true });
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const noCrash = (r: { stdout: string; stderr: string }) => {
  expect(r.stdout + r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)|RangeError|TypeError|internal error/);
};

describe('fcos validate', () => {
  it('prints findings in Ignition form and exits 1 on errors', async () => {
    const f = put('bad.ign', '{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"a/b"}]},"storge":1}');
    const r = await validate(f);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('error at $.storage.files.0.path, line 1 col 61: path not absolute\nwarning at $.storge, line 1 col 70: unused key storge\n');
  });
  it('exits 0 with only warnings, 1 with --strict', async () => {
    const f = put('warn.ign', '{"ignition":{"version":"3.3.0"},"storge":1}');
    expect((await validate(f)).exitCode).toBe(0);
    expect((await validate('--strict', f)).exitCode).toBe(1);
  });
  it('exits 0 and prints nothing for a valid config', async () => {
    const r = await validate(put('ok.ign', '{"ignition":{"version":"3.6.0"}}'));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('');
  });
  it('prefixes each line with the file name when given several files', async () => {
    const a = put('a.ign', '{"ignition":{"version":"3.3.0"},"x":1}');
    const b = put('b.ign', '{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"r"}]}}');
    const r = await validate(a, b);
    expect(r.exitCode).toBe(1);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([`${a}: warning at $.x, line 1 col 33: unused key x`, `${b}: error at $.storage.files.0.path, line 1 col 61: path not absolute`]);
  });
  it('--json gives one result per file', async () => {
    const a = put('j.ign', '{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"r"}]},"x":1}');
    const r = await validate('--json', a);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([
      {
        file: a,
        valid: false,
        errors: [{ path: '$.storage.files.0.path', line: 1, col: 61, message: 'path not absolute' }],
        warnings: [{ path: '$.x', line: 1, col: 68, message: 'unused key x' }],
      },
    ]);
  });
});

describe('bad input: a clear finding and exit 1, never a crash', () => {
  it('empty file', async () => {
    const r = await validate(put('empty.ign', ''));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('error: not a config (empty)\n');
  });
  it('binary garbage', async () => {
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 256;
    const r = await validate(put('garbage.ign', bytes));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^error at line 1 col \d+: /);
    noCrash(r);
  });
  it('ASCII garbage', async () => {
    const r = await validate(put('ascii.ign', 'hello world'));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("error at line 1 col 2: invalid character 'h' looking for beginning of value\n");
  });
  it('non-UTF-8 file', async () => {
    const r = await validate(put('latin1.ign', Buffer.concat([Buffer.from('{"ignition":{"version":"3.3.0"},\n"a":"caf'), Buffer.from([0xe9]), Buffer.from('"}')])));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('error at line 2 col 9: config is not valid UTF-8 text\n');
  });
  it('100k nested arrays', async () => {
    const r = await validate(put('deep.ign', '{"ignition":{"version":"3.3.0"},"x":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}'));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("error at line 1 col 10037: invalid character '[' exceeded max depth\n");
    noCrash(r);
  });
  it('a 50 MB config', async () => {
    const big = 'data:,' + 'a'.repeat(50 * 1024 * 1024);
    const f = put('big.ign', JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files: [{ path: '/big', contents: { source: big } }, { path: 'rel' }] } }));
    const t0 = Date.now();
    const r = await validate(f);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('error at $.storage.files.1.path, line 1 col 52428908: path not absolute\n');
    expect(Date.now() - t0).toBeLessThan(60_000);
  });
  it('a config with 50k files', async () => {
    const files = Array.from({ length: 50_000 }, (_, i) => ({ path: `/f/${i}`, mode: 420, contents: { source: `data:,${i}` } }));
    const r = await validate(put('many.ign', JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files } })));
    expect(r.exitCode).toBe(0);
  });
  it('missing file', async () => {
    const r = await validate(join(dir, 'nope.ign'));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe(`error: no such file: ${join(dir, 'nope.ign')}\n`);
  });
  it('a directory', async () => {
    const d = join(dir, 'adir');
    mkdirSync(d);
    const r = await validate(d);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe(`error: ${d} is a directory, not a config file\n`);
  });
});
