/**
 * What `make build` generates so that a start loads only the invoked command (scripts/build-dist.mjs):
 * oclif.manifest.json, which bin/fcos ignores when it is older than the compiled commands (a stale manifest cannot
 * break a command).
 */
import { readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli, fcosCli, REPO } from './cli-helpers.js';

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
