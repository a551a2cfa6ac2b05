/**
 * Outputs of fcos butane pass validateConfig (ignition/validate.ts) with no error, and the CLI's successful
 * paths (stdin, -o, --pretty, --json) — all of which validate before writing. Needs the validator
 * implementation, and the built CLI (`make build`).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { translateAndValidate, nodeFilesDir } from '../../ignition/butane/index.js';
import { validateConfig } from '../../ignition/validate.js';
import { run } from '../../lib/run.js';
import { referencePath } from './ignition-helpers.js';

const root = join(__dirname, '..', '..');
// Needed, never skipped: a missing reference directory fails this file with what to do.
const docs = referencePath(['ignition', 'doc-examples', 'butane']);
const filesPath = join(root, 'test', 'fixtures', 'butane', 'files');
const filesDir = nodeFilesDir(filesPath);
const fcos = join(root, 'bin', 'fcos');

describe('Butane outputs pass validateConfig', () => {
  for (const name of readdirSync(docs).filter((f) => f.endsWith('.bu')).sort()) {
    const text = readFileSync(join(docs, name), 'utf8');
    it(name, () => {
      const r = translateAndValidate(text, { filesDir, strict: true });
      expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
      expect(r.json).toBeDefined();
      if (!r.ignitionVersion!.endsWith('-experimental')) {
        const v = validateConfig(r.json!);
        expect(v.findings.filter((f) => f.severity === 'error')).toEqual([]);
        expect(v.version).toBe(r.ignitionVersion);
      }
    });
  }

  it('an invalid generated config is refused with the validator finding', () => {
    // A relative path translates but is invalid Ignition.
    const r = translateAndValidate('variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: relative/path\n');
    expect(r.json).toBeUndefined();
    const errors = r.findings.filter((f) => f.severity === 'error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]!.path).toBe('$.storage.files.0.path');
    expect(errors[0]!.message).toMatch(/^config generated was invalid: /);
    expect(errors[0]!.line).toBe(5);
  });
});

const butane = (args: string[], input?: string) => run(fcos, ['butane', ...args], { allowFailure: true, ...(input !== undefined ? { input } : {}) });
const SIMPLE = 'variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /opt/hello\n      mode: 0644\n      contents:\n        inline: Hello, world!\n';
const SIMPLE_JSON = '{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/opt/hello","contents":{"compression":"","source":"data:,Hello%2C%20world!"},"mode":420}]}}';

describe('fcos butane (CLI, successful paths)', () => {
  it('reads stdin, writes compact JSON on stdout', async () => {
    expect(existsSync(join(root, 'dist', 'cli', 'commands', 'butane.js'))).toBe(true);
    const r = await butane([], SIMPLE);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(SIMPLE_JSON + '\n');
  });

  it('--pretty indents by two spaces', async () => {
    const r = await butane(['--pretty'], SIMPLE);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(JSON.stringify(JSON.parse(SIMPLE_JSON), null, 2) + '\n');
  });

  it('-o writes the file atomically (nothing else left in the directory) and prints nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcos-butane-o-'));
    try {
      const bu = join(dir, 'c.bu');
      writeFileSync(bu, 'variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys_local: [id_rsa.pub]\n');
      const out = join(dir, 'config.ign');
      writeFileSync(out, 'old contents');
      const r = await butane(['--strict', '-d', filesPath, '-o', out, bu]);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('');
      const key = readFileSync(join(filesPath, 'id_rsa.pub'), 'utf8').trim();
      expect(readFileSync(out, 'utf8')).toBe(JSON.stringify({ ignition: { version: '3.4.0' }, passwd: { users: [{ name: 'core', sshAuthorizedKeys: [key] }] } }) + '\n');
      expect(readdirSync(dir).sort()).toEqual(['c.bu', 'config.ign']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warnings go to stderr without --strict; --json prints {ignition, warnings}', async () => {
    const input = SIMPLE + 'extra: 1\n';
    const r = await butane([], input);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(SIMPLE_JSON + '\n');
    expect(r.stderr).toBe('warning at $.extra, line 9 col 1: unused key extra\n');
    const j = await butane(['--json'], input);
    expect(j.exitCode).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual({ ignition: JSON.parse(SIMPLE_JSON), warnings: [{ severity: 'warning', path: '$.extra', line: 9, col: 1, message: 'unused key extra' }] });
  });

  it('openshift: a MachineConfig in YAML; --raw gives the Ignition config and warns about MachineConfig-only fields', async () => {
    const input = 'variant: openshift\nversion: 4.14.0\nmetadata:\n  name: m\n  labels:\n    machineconfiguration.openshift.io/role: worker\nopenshift:\n  fips: true\n';
    const r = await butane([], input);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      '# Generated by Butane; do not edit\napiVersion: machineconfiguration.openshift.io/v1\nkind: MachineConfig\nmetadata:\n  labels:\n    machineconfiguration.openshift.io/role: worker\n  name: m\nspec:\n  config:\n    ignition:\n      version: 3.4.0\n  fips: true\n',
    );
    const raw = await butane(['--raw'], input);
    expect(raw.exitCode).toBe(0);
    expect(raw.stdout).toBe('{"ignition":{"version":"3.4.0"}}\n');
    expect(raw.stderr).toBe('warning at $.openshift.fips, line 8 col 9: field ignored in raw mode\n');
    const strict = await butane(['--raw', '--strict'], input);
    expect(strict.exitCode).toBe(1);
  });

  it('an invalid result is not written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcos-butane-inv-'));
    try {
      const out = join(dir, 'config.ign');
      const r = await butane(['-o', out], 'variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: relative/path\n');
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/^fcos: error at \$\.storage\.files\.0\.path, line 5 col \d+: config generated was invalid: /);
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
