/**
 * The upgrade scenario's checks against a scripted guest (issue #14: every check able to fail). Each check runs its
 * real code on a fake VM whose SSH answers are a table; the good guest passes, and each way the checked thing can be
 * broken (a counter left armed, a stale health record, a pull that was not running at the cut, a trial boot that ran
 * the old version, a refused update that moved Default or left its commit in the repo) fails the check with a
 * CheckError that names it. No QEMU: these are the negative controls of checks that otherwise run only in TCG VMs.
 */
import { describe, expect, it } from 'vitest';
import { Vm } from '../../qemu/vm.js';
import type { SshResult } from '../../qemu/ssh.js';
import { CheckError } from '../../lib/errors.js';
import { afterCut, cutDuringPull } from '../scenarios/upgrade-power-cuts.js';
import { OSTREE_ERR, refused, v3TrialBoots } from '../scenarios/upgrade.js';
import type { UpgradeRun } from '../scenarios/upgrade-run.js';
import type { ComposeResult } from '../../ostree/compose.js';

const V1 = { version: '13.20261204.0', commit: 'a'.repeat(64) };
const V3 = { version: '13.20261204.3', commit: 'c'.repeat(64) };
const V5 = { version: '13.20261204.5', commit: 'e'.repeat(64) };

type Answer = Partial<SshResult> | ((cmd: string) => Partial<SshResult>);

/** A Vm whose ssh() answers from [regexp, answer] rules (first match; no match is a bug in the test). */
function fakeVm(rules: [RegExp, Answer][], extra: Record<string, unknown> = {}): Vm & { log: string[] } {
  const log: string[] = [];
  const vm = Object.create(Vm.prototype) as Vm & { log: string[] };
  Object.assign(vm, {
    log,
    spec: { name: 'fake' },
    async ssh(cmd: string): Promise<SshResult> {
      log.push(cmd);
      const rule = rules.find(([re]) => re.test(cmd));
      if (!rule) throw new Error(`the fake guest has no answer for: ${cmd}`);
      const a = typeof rule[1] === 'function' ? rule[1](cmd) : rule[1];
      return { exitCode: 0, stdout: '', stderr: '', ...a } as SshResult;
    },
    async powerCut() {},
    async powerOn() {},
    async poweroff() {},
    async waitForSsh() {},
    expectExit() {},
    ...extra,
  });
  return vm;
}

/** `fcos-update status` as the agent prints it. */
function statusText(s: Record<string, string>): string {
  return Object.entries(s)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
}

const healthyV1 = {
  Booted: V1.version,
  Default: V1.version,
  Rollback: '13.20261204.2',
  'Boot counter': 'none',
  'Last health check': `2026-12-04T22:00:00Z healthy: ${V1.version} (3 checks)`,
};
const now = 1_796_430_000;
/** stat of the health record, date, uptime: a record written 20 s after this boot began. */
const freshRecord = { stdout: `${now - 40} ${now} 60\n` };
const adminStatus = (booted: string) => ({ stdout: `* debian ${booted}.0\n    Version: x\n  debian ${'b'.repeat(64)}.0 (rollback)\n` });

describe('after a power cut: the version booted, healthy on this boot, no counter armed (afterCut)', () => {
  const guest = (status: Record<string, string>, record = freshRecord) =>
    fakeVm([
      [/fcos-update status/, { stdout: statusText(status) }],
      [/last-health/, record],
      [/ostree admin status/, adminStatus(V1.commit)],
    ]);
  it('passes on a healthy v1 with its record from this boot', async () => {
    await expect(afterCut(guest(healthyV1), [V1.version])).resolves.toContain(`booted ${V1.version}`);
  });
  it('fails when another version booted', async () => {
    await expect(afterCut(guest({ ...healthyV1, Booted: V5.version }), [V1.version])).rejects.toThrow(CheckError);
  });
  it('fails when a boot counter is left armed', async () => {
    await expect(afterCut(guest({ ...healthyV1, 'Boot counter': '1' }), [V1.version])).rejects.toThrow(/Boot counter: got "1", want "none"/);
  });
  it('fails when the last health check is not "healthy" for the booted version', async () => {
    await expect(afterCut(guest({ ...healthyV1, 'Last health check': `2026-12-04T22:00:00Z unhealthy: ${V1.version} (10-no-failed-units)` }), [V1.version])).rejects.toThrow(/Last health check/);
    await expect(afterCut(guest({ ...healthyV1, 'Last health check': `2026-12-04T22:00:00Z healthy: 13.20261204.2 (3 checks)` }), [V1.version])).rejects.toThrow(/Last health check/);
  });
  it('fails when the health record is from an earlier boot', async () => {
    await expect(afterCut(guest(healthyV1, { stdout: `${now - 600} ${now} 60\n` }), [V1.version])).rejects.toThrow(/older than this boot/);
  });
});

describe('the power cut during the pull (cutDuringPull): the pull must still run at the cut', () => {
  function run(pullState: { unit: string; partial: string }) {
    const counts = { objectFiles: 0 };
    const vm = fakeVm([
      [/systemd-run --unit=fcos-test-upgrade-pull/, () => ((counts.objectFiles = 3), {})],
      [/systemctl is-active fcos-test-upgrade-pull/, { stdout: `${pullState.unit}\n${pullState.partial}\n` }],
      [/systemctl is-active fcos-update-health/, { stdout: 'active\n' }],
      [/fcos-update status/, { stdout: statusText(healthyV1) }],
      [/last-health/, freshRecord],
      [/ostree admin status/, adminStatus(V1.commit)],
    ]);
    const r = { vm, srv: { objectDelayMs: 0 }, counts, home: V1 } as unknown as UpgradeRun;
    return { vm, p: cutDuringPull(r, V5 as unknown as ComposeResult) };
  }
  it('passes when the unit is active and the commit partial at the cut', async () => {
    const { vm, p } = run({ unit: 'active', partial: '1' });
    await expect(p).resolves.toContain('cut after 3 of');
    expect(vm.log.some((c) => c.includes('is-active fcos-test-upgrade-pull'))).toBe(true);
  });
  it('fails when the pull had ended before the cut (unit inactive)', async () => {
    await expect(run({ unit: 'inactive', partial: '1' }).p).rejects.toThrow(/the pull was not running at the cut \(unit inactive/);
  });
  it('fails when the commit is not partial in the repo (the pull had finished)', async () => {
    await expect(run({ unit: 'active', partial: '0' }).p).rejects.toThrow(/commitpartial 0/);
  });
});

describe('a refused update (refused): ostree\'s message, Default and Booted stay, the commit is not in the repo', () => {
  const unsignedErr = 'error: GPG verification enabled, but no signatures found (use gpg-verify=false in remote config to disable)';
  function guest(o: { status?: Record<string, string>; objectThere?: boolean; upgradeExit?: number } = {}) {
    const vm = fakeVm([
      [/rm -f \/var\/lib\/fcos-update\/last-error/, {}],
      [/fcos-update upgrade --no-reboot/, { exitCode: o.upgradeExit ?? 1, stderr: unsignedErr }],
      [/fcos-update status/, { stdout: statusText(o.status ?? { ...healthyV1, 'Last error': `2026-12-04T22:00:00Z ${unsignedErr}` }) }],
      [/test -e \/ostree\/repo\/objects\//, { exitCode: o.objectThere ? 0 : 1 }],
    ]);
    return refused({ vm, home: V1 } as unknown as UpgradeRun, OSTREE_ERR.unsigned, V5.commit, 'absent');
  }
  it('passes when everything stays', async () => {
    await expect(guest()).resolves.toContain('no signatures found');
  });
  it('fails when the upgrade succeeded', async () => {
    await expect(guest({ upgradeExit: 0 })).rejects.toThrow(/must fail/);
  });
  it('fails when Default moved to the refused version', async () => {
    await expect(guest({ status: { ...healthyV1, Default: V5.version, 'Last error': unsignedErr } })).rejects.toThrow(/Default: got/);
  });
  it('fails when something was staged', async () => {
    await expect(guest({ status: { ...healthyV1, Staged: V5.version, 'Last error': unsignedErr } })).rejects.toThrow(/something was staged/);
  });
  it("fails on another error than ostree's own message", async () => {
    await expect(guest({ status: { ...healthyV1, 'Last error': 'signature check failed' } })).rejects.toThrow(/not ostree's message/);
  });
  it("fails when the refused commit is in the VM's repo", async () => {
    await expect(guest({ objectThere: true })).rejects.toThrow(/succeeded in VM fake, but it must fail/);
  });
});

describe('the automatic rollback (v3TrialBoots): each trial boot seen with its boot id and v3 booted, then v1', () => {
  /** boots: what each power-on runs (the booted commit and its boot id); the last one is the fallback boot. */
  function guest(boots: { commit: string; id: string }[]) {
    let n = 0;
    const vm = fakeVm(
      [
        [/fcos-update upgrade --no-reboot/, {}],
        [/fcos-update status/, { stdout: statusText({ ...healthyV1, Staged: V3.version, 'Boot counter': '1' }) }],
        [/boot_id && sudo ostree admin status/, () => ({ stdout: `${boots[n - 1]!.id}\n${adminStatus(boots[n - 1]!.commit).stdout}` })],
        [/touch \/run\/fcos-test-trial-seen/, {}],
        [/test -s \/var\/lib\/fcos-update\/fallback/, () => (n === boots.length ? { stdout: 'active\n' } : { exitCode: 1 })],
      ],
      {
        async powerOn() {
          n++;
        },
        // A trial boot ends with QEMU's exit once it was seen over SSH; the fallback boot keeps running.
        async waitForExit() {
          return n < boots.length && vm.log.filter((c) => c.includes('boot_id')).length >= n;
        },
      },
    );
    const r = { vm, home: V1, ctx: { log() {} } } as unknown as UpgradeRun;
    return v3TrialBoots(r, V3 as unknown as ComposeResult);
  }
  it('passes: boot 1 ran v3, boot 2 ran v1, distinct boot ids', async () => {
    await expect(guest([{ commit: V3.commit, id: 'id-1' }, { commit: V1.commit, id: 'id-2' }])).resolves.toMatch(/1 boots of v3, then v1/);
  });
  it('fails when the trial boot ran v1 (the staged v3 never booted)', async () => {
    await expect(guest([{ commit: V1.commit, id: 'id-1' }, { commit: V1.commit, id: 'id-2' }])).rejects.toThrow(/boot 1 booted aaaaaaaaaaaa, want cccccccccccc \(v3 on trial\)/);
  });
  it('fails when the boot after the trial is not v1', async () => {
    await expect(guest([{ commit: V3.commit, id: 'id-1' }, { commit: V3.commit, id: 'id-2' }])).rejects.toThrow(/boot 2 booted cccccccccccc, want aaaaaaaaaaaa/);
  });
  it('fails when two boots have one boot id (one boot counted twice)', async () => {
    await expect(guest([{ commit: V3.commit, id: 'same' }, { commit: V1.commit, id: 'same' }])).rejects.toThrow(/a boot id repeats/);
  });
  it('fails when GRUB fell back at once (no trial boot of v3)', async () => {
    await expect(guest([{ commit: V1.commit, id: 'id-1' }])).rejects.toThrow(/want cccccccccccc \(v3 on trial\)/);
  });
});
