/**
 * Upgrade scenario of issue #6 through the real CLI: `fcos build` (the default image from examples/config.ign), then
 * `fcos test upgrade`, which composes v2, v3 and v4 into the same builds dir (layered composes: seconds, not a
 * bootstrap), serves them with the `fcos serve` library server, and drives one VM through v1 → v2 → rollback → v2
 * → broken v3 (automatic rollback); refuses an unsigned v4, a v4 signed only with another key and a v5 with a
 * tampered object; then cuts the power (SIGKILL of QEMU) during the pull, the staging and the finalization of v5.
 * 10 boots.
 *
 * The builds dir is kept between CI runs (a warm run reuses the compose). The scenario leaves its versions in it;
 * beforeAll moves the ref, builds.json and latest back to the newest build that has a disk image (v1), so the next
 * `fcos build` sees unchanged inputs and v2 is again one layer away.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readBuildsJson, readMeta, setLatest, addBuild } from '../../ostree/builds.js';
import { setRef, updateSummary } from '../../ostree/repo.js';

const ROOT = resolve(__dirname, '../..');
const FCOS = join(ROOT, 'bin', 'fcos');
const B = process.env.FCOS_E2E_UPGRADE_BUILDS ?? '/var/tmp/fcos-e2e-upgrade/builds';
const OUT = join(ROOT, 'tmp', 'fcos-test');

interface Report {
  ok: boolean;
  scenarios: { name: string; ok: boolean; boots: number; seconds: number; checks: { name: string; ok: boolean; error?: string; detail?: string }[] }[];
}

/** Undo what a previous run of the scenario left: ref, builds.json and latest back at the newest imaged build. */
async function resetToImagedBuild(): Promise<void> {
  if (!existsSync(join(B, 'builds.json'))) return;
  const builds = readBuildsJson(B).builds;
  const imaged = builds.find((b) => {
    try {
      return Object.keys(readMeta(join(B, b.id)).images ?? {}).length > 0;
    } catch {
      return false;
    }
  });
  if (!imaged || imaged.id === builds[0]?.id) return;
  const meta = readMeta(join(B, imaged.id));
  await setRef(join(B, 'repo'), meta.ref, meta['ostree-commit']);
  await updateSummary(join(B, 'repo'));
  addBuild(B, imaged.id);
  setLatest(B, imaged.id);
}

describe('upgrade scenario (TCG)', () => {
  beforeAll(async () => {
    mkdirSync(B, { recursive: true });
    await resetToImagedBuild();
    const r = await execa(FCOS, ['build', '--ignition', join(ROOT, 'examples', 'config.ign'), '--builds', B, '--json'], { reject: false });
    if (r.exitCode !== 0) throw new Error(`fcos build failed (exit ${r.exitCode}):\n${r.stderr.slice(-4000)}`);
    const meta = JSON.parse(readFileSync(join(B, 'latest', 'meta.json'), 'utf8'));
    expect(existsSync(join(B, 'latest', meta.images.qemu.path))).toBe(true);
  });

  it('v1 → v2 (delta), manual rollback, automatic rollback of a broken v3, bad updates refused, power cuts', async () => {
    const r = await execa(FCOS, ['test', 'upgrade', '--builds', B, '--out', OUT, '--json'], { reject: false });
    let report: Report;
    try {
      report = JSON.parse(r.stdout) as Report;
    } catch {
      throw new Error(`fcos test upgrade printed no JSON report (exit ${r.exitCode}):\n${r.stderr.slice(-3000)}`);
    }
    const s = report.scenarios.find((x) => x.name === 'upgrade')!;
    const failed = s.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error}`);
    expect(failed, `failed checks (logs in ${join(OUT, 'upgrade')})`).toEqual([]);
    const names = s.checks.map((c) => c.name);
    for (const want of [
      'v1 booted and healthy',
      'compose v2 (one more file): layered, signed, with a static delta',
      'fcos-update check sees v2',
      'fcos-update upgrade stages v2 from the static delta',
      'reboot into v2: v1 is the rollback, /etc kept, the new file there',
      'fcos-update rollback + reboot brings back v1',
      'fcos-update upgrade goes to v2 again',
      'compose v3 with a failing required health check',
      'v3 fails its checks, reboots up to the limit, and GRUB falls back to v2',
      'after the fallback: v2 booted and default, counter cleared, reason recorded',
      'an unsigned v4 is refused; the VM stays on v2',
      'a v4 signed only with another key is refused; the VM stays on v2',
      'a signed v5 with a tampered object in the served repo is refused',
      'power cut during the pull of v5: v2 boots, fsck clean',
      'power cut during the staging of v5: v2 boots, fsck clean',
      'power cut during the finalization of v5 at shutdown: v2 or v5 boots, fsck clean',
    ]) {
      expect(names).toContain(want);
    }
    expect(s.ok).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(s.boots).toBeGreaterThanOrEqual(10);
  }, 115 * 60_000);
});
