/**
 * Upgrade scenario of issue #6 through the real CLI: `fcos build` (the default image from examples/config.ign), then
 * `fcos test upgrade`, which composes v2…v5 in the background from the start (layered composes: seconds, not a
 * bootstrap; each in a fork of the previous version's builds dir under the run's directory), publishes them in turn
 * with the `fcos serve` library server, and drives one VM through v1 → v2 → rollback → v1
 * (v2 staged again) → a broken v3 staged over it (automatic rollback to v1); refuses an unsigned v4, a v4 signed only with another key and a v5 with a
 * tampered object; then cuts the power (SIGKILL of QEMU) during the pull, the staging and the finalization of v5.
 * 8 boots.
 *
 * The builds dir is a fork of the boot tests' builds dir (forkDefaultBuild: the run's one compose, its default image
 * hard-linked), made anew each run: the versions the scenario composes never reach the shared dir.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { forkDefaultBuild, plannedBoots, ROOT, runScenario, UPGRADE_BUILDS } from './fcos-cli.js';

const B = UPGRADE_BUILDS;
const OUT = join(ROOT, 'tmp', 'fcos-test');

describe('upgrade scenario (TCG)', () => {
  beforeAll(async () => {
    const meta = await forkDefaultBuild(B, { images: true });
    expect(existsSync(join(B, 'latest', meta.images.qemu!.path))).toBe(true);
  });

  it('v1 → v2 (delta), manual rollback, automatic rollback of a broken v3, bad updates refused, power cuts, fsck', async () => {
    const s = await runScenario('upgrade', { builds: B, out: OUT });
    const names = s.checks.map((c) => c.name);
    for (const want of [
      'v1 booted and healthy',
      'compose v2 (one more file): layered, signed, with a static delta',
      'fcos-update check sees v2',
      'fcos-update upgrade stages v2 from the static delta',
      'reboot into v2: v1 is the rollback, /etc kept, the new file there',
      'fcos-update rollback + reboot brings back v1',
      'after the rollback, fcos-update upgrade stages v2 again',
      'compose v3 with a failing required health check',
      'v3 (staged over the staged v2) fails its checks, reboots up to the limit, and GRUB falls back to v1',
      'after the fallback: v1 booted and default, counter cleared, reason recorded',
      'an unsigned v4 is refused; the VM stays on v1',
      'a v4 signed only with another key is refused; the VM stays on v1',
      'a signed v5 with a tampered object in the served repo is refused',
      'power cut during the pull of v5: v1 boots, healthy',
      'power cut during the staging of v5: v1 boots, healthy',
      'power cut during the finalization of v5 at shutdown: v1 or v5 boots, healthy',
      'ostree fsck is clean after the power cuts',
      'system is running (no failed units)',
      'console shows no failure',
    ]) {
      expect(names).toContain(want);
    }
    // QEMU launches counted by the harness (Vm.launches), not the scenario's own bookkeeping.
    expect(plannedBoots(s)).toBe(8);
  }, 115 * 60_000);
});
