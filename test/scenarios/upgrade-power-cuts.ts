/**
 * The upgrade scenario's power cuts (SIGKILL of QEMU, then a cold boot on the same disk) during the pull, the
 * staging and the finalization of v1 → v5, and the `ostree fsck` after them; see test/scenarios/upgrade.ts.
 */
import type { Vm } from '../../qemu/vm.js';
import type { ComposeResult } from '../../ostree/compose.js';
import { guestFile, guestScript } from './guest.js';
import { eqOrThrow, PULL_FILES, status, waitHealth, type UpgradeRun } from './upgrade-run.js';
import { CheckError } from '../../lib/errors.js';

/* ---------- 5. power cuts (SIGKILL of QEMU) during the pull, the staging and the finalization of v1 → v5 ---------- */

export async function powerCuts(r: UpgradeRun): Promise<void> {
  const { ctx } = r;
  const v5 = r.v5!;
  const cutPull = await ctx.check('power cut during the pull of v5: v1 boots, healthy', () => cutDuringPull(r, v5));
  const cutStage = cutPull && (await ctx.check('power cut during the staging of v5: v1 boots, healthy', () => cutDuringStaging(r)));
  if (cutStage) await ctx.check('power cut during the finalization of v5 at shutdown: v1 or v5 boots, healthy', () => cutDuringFinalization(r, v5));
  // After whichever cuts ran: the whole repo, every object checked against its checksum.
  if (cutPull) await ctx.check('ostree fsck is clean after the power cuts', () => fsckClean(r.vm));
}

/** After a cut and a cold boot: a wanted version booted and healthy on this boot, ostree shows it booted. */
export async function afterCut(vm: Vm, want: string[]): Promise<string> {
  const st = await status(vm);
  if (!st.Booted || !want.includes(st.Booted)) throw new CheckError(`Booted ${JSON.stringify(st.Booted)}, want one of ${want.join(', ')}`);
  // The booted version passed its health checks on this boot, and no boot counter is left armed.
  eqOrThrow('Boot counter', st['Boot counter'], 'none');
  if (!new RegExp(`^\\S+ healthy: ${st.Booted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(`).test(st['Last health check'] ?? '')) {
    throw new CheckError(`Last health check: ${JSON.stringify(st['Last health check'])}, want "healthy: ${st.Booted} (…)"`);
  }
  const fresh = (await vm.sshOk("sudo sh -c 'echo $(stat -c %Y /var/lib/fcos-update/last-health) $(date +%s) $(cut -d. -f1 /proc/uptime)'")).trim().split(' ').map(Number);
  if (!(fresh[0]! >= fresh[1]! - fresh[2]! - 5)) throw new CheckError(`the health record is older than this boot (${fresh.join(' ')})`);
  const adm = await vm.sshOk('sudo ostree admin status');
  if (!/^\* /m.test(adm)) throw new CheckError(`ostree admin status shows no booted deployment:\n${adm}`);
  return `booted ${st.Booted}, staged ${st.Staged ?? 'none'}, rollback ${st.Rollback}`;
}

async function cutAndBoot(vm: Vm, note: string): Promise<void> {
  await vm.powerCut();
  await vm.powerOn(`power on after a power cut ${note}`);
  await vm.waitForSsh(10 * 60_000);
  await waitHealth(vm);
}

/** The server holds each object 1.5 s; the power goes after the 2nd file object, while the pull still runs. */
export async function cutDuringPull(r: UpgradeRun, v5: ComposeResult): Promise<string> {
  const { vm, srv, counts, home } = r;
  counts.objectFiles = 0;
  srv.objectDelayMs = 1500;
  try {
    await vm.sshOk('sudo systemd-run --unit=fcos-test-upgrade-pull --collect /usr/bin/fcos-update upgrade --no-reboot');
    const end = Date.now() + 10 * 60_000;
    while (counts.objectFiles < 2) {
      if (Date.now() > end) throw new CheckError('the pull fetched no file objects within 10 min');
      await new Promise((res) => setTimeout(res, 200));
    }
    // The pull must still be running at the cut: the unit active, its commit marked partial in the VM's repo.
    const running = await vm.sshOk(
      `systemctl is-active fcos-test-upgrade-pull.service; sudo sh -c 'ls /ostree/repo/state/ 2>/dev/null | grep -c "^${v5.commit}\\.commitpartial$"'; true`,
    );
    const [unit, partial] = running.trim().split('\n');
    if (unit !== 'active' || partial !== '1') throw new CheckError(`the pull was not running at the cut (unit ${unit}, commitpartial ${partial})`);
    const seen = counts.objectFiles;
    await cutAndBoot(vm, '(during the pull)');
    srv.objectDelayMs = 0;
    const st = await status(vm);
    if (st.Staged) throw new CheckError(`staged after a cut during the pull: ${st.Staged}`);
    return `cut after ${seen} of ${PULL_FILES}+ file objects; ${await afterCut(vm, [home.version])}`;
  } finally {
    srv.objectDelayMs = 0;
  }
}

/** The pull completes; `ostree admin deploy --stage` is frozen 1 s into its work, then the power goes. */
async function cutDuringStaging(r: UpgradeRun): Promise<string> {
  const { vm, home } = r;
  const frozen = await vm.sshOk(guestScript('upgrade-freeze-staging.sh', ['fcos-test-upgrade-stage'], { sudo: true }), { timeoutMs: 15 * 60_000 });
  await cutAndBoot(vm, '(during the staging)');
  const st = await status(vm);
  if (st.Staged) throw new CheckError(`staged after a cut during staging: ${st.Staged}`);
  return `${frozen.trim()}; ${await afterCut(vm, [home.version])}`;
}

/** Only in this test: a drop-in (guest/upgrade-freeze-finalize.conf) freezes the finalization at shutdown; the power goes then. */
async function cutDuringFinalization(r: UpgradeRun, v5: ComposeResult): Promise<string> {
  const { vm, home } = r;
  const out = await vm.sshOk('sudo fcos-update upgrade --no-reboot', { timeoutMs: 15 * 60_000 });
  if (!out.includes(`staged ${v5.version}`)) throw new CheckError(out);
  const dropIn = '/etc/systemd/system/ostree-finalize-staged.service.d/50-fcos-test-freeze.conf';
  await vm.sshOk(`sudo mkdir -p ${dropIn.replace(/\/[^/]+$/, '')} && sudo tee ${dropIn} >/dev/null && sudo systemctl daemon-reload`, { input: guestFile('upgrade-freeze-finalize.conf') });
  const from = vm.consoleText().length;
  vm.expectExit();
  await vm.ssh('sudo systemctl poweroff', { timeoutMs: 30_000 }).catch(() => undefined);
  let marker = '';
  const end = Date.now() + 5 * 60_000;
  while (!marker) {
    marker = /fcos-test: finalize (frozen|done)/.exec(vm.consoleText().slice(from))?.[1] ?? '';
    if (!marker && Date.now() > end) throw new CheckError('no finalize marker on the console within 5 min');
    if (!marker) await new Promise((res) => setTimeout(res, 100));
  }
  await cutAndBoot(vm, `(finalization ${marker})`);
  vm.expectExit(false);
  // "done": finalize-staged ended within 0.3 s, so the cut came after it, not during it. Not seen under TCG
  // (finalization takes seconds there), but the check must not pass without the cut it is named after.
  if (marker !== 'frozen') throw new CheckError('finalize-staged finished before the freeze: the power cut did not hit the finalization');
  // Frozen: the deployment swap may or may not have happened (v1 or v5).
  const res = await afterCut(vm, [home.version, v5.version]);
  const st = await status(vm);
  if (st.Booted === v5.version) eqOrThrow('Rollback', st.Rollback, home.version);
  await vm.sshOk(`sudo rm -f ${dropIn} && sudo systemctl daemon-reload`);
  return `finalization ${marker} at the cut; ${res}`;
}

async function fsckClean(vm: Vm): Promise<string> {
  const t0 = Date.now();
  const fsck = await vm.ssh('sudo ostree fsck', { timeoutMs: 20 * 60_000 });
  if (fsck.exitCode !== 0) throw new CheckError(`ostree fsck failed (exit ${fsck.exitCode}):\n${(fsck.stdout + fsck.stderr).slice(-2000)}`);
  return `clean in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${fsck.stdout.trim().split('\n').slice(-2).join(' ')}`;
}
