/**
 * `fcos butane` through the built CLI (run `make build` first): bad input exits 1 with a
 * one-line message and writes nothing. (The successful paths need the Ignition validator and are in
 * butane-validate.test.ts.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../lib/run.js';

const root = join(__dirname, '..', '..');
const fcos = join(root, 'bin', 'fcos');
const files = join(root, 'test', 'fixtures', 'butane', 'files');

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'cli', 'commands', 'butane.js'))) throw new Error('the CLI is not built: run `make build` first');
});

const butane = (args: string[], input?: string) => run(fcos, ['butane', ...args], { allowFailure: true, ...(input !== undefined ? { input } : {}) });

describe('fcos butane (CLI errors)', () => {
  it('YAML syntax error: exit 1, one line with line and column, nothing on stdout', async () => {
    const r = await butane([], 'variant: fcos\nversion: 1.4.0\nstorage: [\n');
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toBe('fcos: error at line 4 col 1: error parsing YAML: unexpected end of the stream within a flow collection\n');
  });

  it('unknown version: exit 1 with the message', async () => {
    const r = await butane([], 'variant: fcos\nversion: 9.9.9\n');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      'fcos: error at line 2 col 10: No translator exists for variant fcos with version 9.9.9 (known versions: 1.0.0, 1.1.0, 1.2.0, 1.3.0, 1.4.0, 1.5.0, 1.6.0, 1.7.0, 1.8.0-experimental)\n',
    );
  });

  it('names the input file, and a ../ escape is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcos-butane-cli-'));
    try {
      const bu = join(dir, 'c.bu');
      const out = join(dir, 'out.ign');
      writeFileSync(bu, 'variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        local: ../etc/passwd\n');
      const r = await butane(['-d', files, '-o', out, bu]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(`fcos: ${bu}: error at $.storage.files.0.contents.local, line 7 col 16: local file path traverses outside the files directory\n`);
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a local file without --files-dir', async () => {
    const r = await butane([], 'variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys_local: [id_rsa.pub]\n');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('fcos: error at $.passwd.users.0.ssh_authorized_keys_local, line 6 col 34: local file paths are relative to a files directory that must be specified with -d/--files-dir\n');
  });

  it('--strict fails on an unused key; the message names the key and position', async () => {
    const r = await butane(['--strict'], 'variant: fcos\nversion: 1.4.0\npasswd:\n  userz: []\n');
    expect(r.exitCode).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('fcos: warning at $.passwd.userz, line 4 col 3: unused key userz');
  });

  it('wrong type, --json gives the error as JSON', async () => {
    const r = await butane(['--json'], 'variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n      mode: abc\n');
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ error: { kind: 'user', message: 'error at line 6 col 13: cannot unmarshal !!str `abc` into int' } });
  });

  it('a missing input file, a missing files dir', async () => {
    const r = await butane(['/nonexistent/c.bu']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('fcos: no such file: /nonexistent/c.bu\n');
    const r2 = await butane(['-d', '/nonexistent-dir'], 'variant: fcos\nversion: 1.4.0\n');
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toBe('fcos: files directory /nonexistent-dir does not exist\n');
  });
});
