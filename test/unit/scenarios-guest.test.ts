/**
 * The scenarios' guest-side files (test/scenarios/guest/) and how the scenarios hand them to the guest: read from
 * the project root, run with sh and their arguments quoted; and the scenarios' per-run state.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { guestDir, guestFile, guestScript } from '../../test/scenarios/guest.js';
import { composeEnv, upgrade } from '../../test/scenarios/upgrade.js';
import { updateServerSetup } from '../../test/scenarios/upgrade-run.js';
import type { SetupContext } from '../../qemu/harness.js';
import { basic } from '../../test/scenarios/basic.js';
import { SCENARIOS } from '../../test/scenarios/index.js';
import { BugError } from '../../lib/errors.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A PATH directory of stub commands (name → sh body). */
function stubs(bodies: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'fcos-guest-'));
  dirs.push(d);
  for (const [name, body] of Object.entries(bodies)) {
    writeFileSync(join(d, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(d, name), 0o755);
  }
  return d;
}

function runLocally(cmdline: string, path: string): { status: number | null; stdout: string } {
  const r = spawnSync('sh', ['-c', cmdline], { encoding: 'utf8', env: { ...process.env, PATH: `${path}:/usr/bin:/bin` } });
  return { status: r.status, stdout: r.stdout };
}

describe('the guest files', () => {
  it('are found under the project root, and a missing one is a bug', () => {
    expect(guestDir()).toBe(join(import.meta.dirname, '..', 'scenarios', 'guest'));
    expect(guestFile('basic-ran.service')).toMatch(/^\[Unit\]/);
    expect(() => guestFile('no-such-file')).toThrow(BugError);
  });

  it('every shell script parses (sh -n)', () => {
    const scripts = readdirSync(guestDir()).filter((f) => f.endsWith('.sh'));
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    for (const f of scripts) expect(spawnSync('sh', ['-n', join(guestDir(), f)]).status, f).toBe(0);
  });

  it('guestScript runs the script with sh, its arguments quoted ($1 intact, spaces and quotes included)', () => {
    const log = join(stubs({}), 'args');
    // pgrep finds a PID that is gone by the time of the freeze: "staging ended before the freeze", exit 3.
    const bin = stubs({ 'systemd-run': `printf '%s\\n' "$@" > '${log}'`, pgrep: 'echo 999999999', sleep: 'true' });
    const r = runLocally(guestScript('upgrade-freeze-staging.sh', ["fcos-test 'x"]), bin);
    expect(r.status).toBe(3);
    expect(r.stdout.trim()).toBe('staging ended before the freeze');
    expect(readFileSync(log, 'utf8').split('\n')[0]).toBe("--unit=fcos-test 'x");
  });

  it('the staging freeze gives up with exit 4 when the upgrade ends without staging', () => {
    const bin = stubs({ 'systemd-run': 'true', pgrep: 'exit 1', systemctl: 'exit 3', sleep: 'true' });
    const r = runLocally(guestScript('upgrade-freeze-staging.sh', ['fcos-test-upgrade-stage']), bin);
    expect(r.status).toBe(4);
    expect(r.stdout.trim()).toBe('the upgrade ended without staging');
  });

  it('the finalization drop-in writes the shell $ as $$ (systemd expands $VAR)', () => {
    const conf = guestFile('upgrade-freeze-finalize.conf');
    expect(conf).toMatch(/^ExecStop=$/m);
    expect(conf).toContain('p=$$!;');
    expect(conf.split('\n').filter((l) => l.startsWith('ExecStop=/bin/sh')).join('')).not.toMatch(/[^$]\$[a-z!]/);
  });
});

describe('the upgrade scenario composes through its own environment', () => {
  it("v1's SOURCE_DATE_EPOCH, and a week of package-index age unless FCOS_APT_MAX_AGE says otherwise", () => {
    expect(composeEnv(1700000000, {})).toEqual({ SOURCE_DATE_EPOCH: '1700000000', FCOS_APT_MAX_AGE: String(7 * 24 * 3600) });
    expect(composeEnv(1, { FCOS_APT_MAX_AGE: '60' }).FCOS_APT_MAX_AGE).toBe('60');
  });
});

describe('the update scenarios\' config', () => {
  it('ignition() puts a free port into the run\'s state and update.conf pointing at it, with the extra lines', async () => {
    const setup = updateServerSetup('BOOT_TRIES=2\n');
    const state = setup.state();
    const ctx = { state, outDir: tmpdir(), serve: async () => ({ port: 0, url: () => '' }) } as SetupContext<{ port: number }>;
    const c = (await setup.ignition(ctx)) as unknown as { storage: { files: { path: string; contents: { source: string } }[] } };
    expect(state.port).toBeGreaterThan(0);
    const f = c.storage.files[0]!;
    expect(f.path).toBe('/etc/fcos/update.conf');
    expect(decodeURIComponent(f.contents.source.replace(/^data:,/, ''))).toBe(`URL=http://10.0.2.2:${state.port}/repo\nSTRATEGY=off\nBOOT_TRIES=2\n`);
  });
});

describe('per-run state', () => {
  it('each run of a scenario starts from a fresh state object', () => {
    expect(basic.state!()).not.toBe(basic.state!());
    expect(upgrade.state!()).toEqual({ port: 0 });
    expect(upgrade.state!()).not.toBe(upgrade.state!());
  });

  it('no scenario module keeps mutable state of its own (no top-level let/var) or writes process.env', () => {
    const dir = join(import.meta.dirname, '..', 'scenarios');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(SCENARIOS.length / 2);
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(text, f).not.toMatch(/^(let|var) /m);
      expect(text, f).not.toMatch(/process\.env\.\w+\s*(\?\?|\|\||)=(?!=)/);
    }
  });
});
