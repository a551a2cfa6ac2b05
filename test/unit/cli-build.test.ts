/**
 * What `make build` generates so that a start loads only the invoked command (scripts/build-dist.mjs): the ajv
 * validators as standalone code, equal to the ones compiled at run time, and oclif.manifest.json, which bin/fcos
 * ignores when it is older than the compiled commands (a stale manifest cannot break a command).
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPECS, schemaHash, validatorFor } from '../../ignition/schema/index.js';
import { standaloneValidator } from '../../ignition/schema/standalone.js';
import { buildCli, fcosCli, REPO } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'fcos-cli-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const require = createRequire(import.meta.url);

/** Values that pass and fail each version's type checks (the ajv part of validation). */
const SAMPLES: unknown[] = [
  { ignition: { version: 'x' } },
  { ignition: { version: 3 } },
  { storage: { files: [{ path: '/a', mode: 420, contents: { source: 'data:,' } }, { path: 5 }, { mode: '420' }] } },
  { passwd: { users: [{ name: 'core', sshAuthorizedKeys: ['k', 7] }, {}] }, systemd: { units: 'no' } },
  { storage: { disks: [{ device: '/dev/vdb', partitions: [{ number: 'one', sizeMiB: 1.5 }] }], raid: [{}] } },
  [],
  'text',
];

describe('ajv validators compiled at build time', () => {
  it.each(SPECS.map((s) => [s.version, s] as const))('spec %s: the standalone code finds what the run-time compile finds', (_v, spec) => {
    const file = join(dir, `v${spec.version}.cjs`);
    writeFileSync(file, standaloneValidator(spec));
    const pre = require(file) as ValidateFunction & { schemaHash: string };
    expect(pre.schemaHash).toBe(schemaHash(spec.schema));
    // Under vitest there is no dist next to the sources: validatorFor compiles with ajv.
    const compiled = validatorFor(spec);
    for (const value of SAMPLES) {
      const ok = compiled(value);
      const errors = compiled.errors;
      expect(pre(value)).toBe(ok);
      expect(pre.errors ?? null).toEqual(errors ?? null);
    }
  });

  it('the built CLI uses them: dist/ignition/schema/index.js loads each version precompiled', async () => {
    await buildCli();
    const built = (await import(pathToFileURL(join(REPO, 'dist', 'ignition', 'schema', 'index.js')).href)) as typeof import('../../ignition/schema/index.js');
    for (const spec of built.SPECS) expect((built.validatorFor(spec) as { schemaHash?: string }).schemaHash, spec.version).toBe(schemaHash(spec.schema));
  });
});

describe('oclif.manifest.json', () => {
  beforeAll(() => buildCli(), 300_000);

  it('is written by the build and lists every command with its file', () => {
    const m = JSON.parse(readFileSync(join(REPO, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, { relativePath: string[] }> };
    expect(Object.keys(m.commands)).toEqual(expect.arrayContaining(['validate', 'butane', 'pxe:serve', 'cluster:init', 'cluster:up']));
    expect(m.commands.validate!.relativePath).toEqual(['dist', 'cli', 'commands', 'validate.js']);
  });

  it('a manifest older than the compiled commands is ignored, even a wrong one', async () => {
    const path = join(REPO, 'oclif.manifest.json');
    const good = readFileSync(path, 'utf8');
    const bad = JSON.parse(good) as { commands: Record<string, unknown> };
    bad.commands = { validate: { ...(bad.commands.validate as object), relativePath: ['dist', 'nowhere.js'] } };
    // Renamed into place (other test files may start the CLI meanwhile), dated before any build.
    const put = (text: string, old: boolean) => {
      writeFileSync(`${path}.test.tmp`, text);
      if (old) utimesSync(`${path}.test.tmp`, new Date(2000, 0, 1), new Date(2000, 0, 1));
      renameSync(`${path}.test.tmp`, path);
    };
    put(JSON.stringify(bad), true);
    try {
      const r = await fcosCli(['validate', join(REPO, 'examples', 'config.ign')]);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const help = await fcosCli(['--help']);
      expect(help.stdout).toMatch(/\bbutane\b/);
    } finally {
      put(good, false);
    }
  });
});
