/**
 * Harness self-tests on the plain Debian baseline (no fcos build needed): one that must pass, and three negative
 * controls that must be reported as failures (a failing unit, a kernel panic, a QEMU that dies after the last check).
 */
import type { Scenario } from '../../qemu/harness.js';
import { CheckError } from '../../lib/errors.js';

export const baselineSmoke: Scenario = {
  name: 'baseline-smoke',
  description: 'the baseline Debian image boots, answers on SSH, runs commands, and reboots',
  needs: { image: 'baseline' },
  boots: 2,
  selftest: true,
  async run(ctx) {
    await ctx.check('runs a command over SSH', async () => {
      const r = await ctx.vm.ssh('uname -r; hostname');
      if (r.exitCode !== 0 || !/cloud-amd64/.test(r.stdout)) throw new CheckError(`unexpected: ${r.stdout}${r.stderr}`);
      return r.stdout.trim().replace(/\n/g, ', ');
    });
    await ctx.check('reports a failing command with its exit code', async () => {
      const r = await ctx.vm.ssh('echo to-stderr >&2; exit 7');
      if (r.exitCode !== 7 || r.stderr.trim() !== 'to-stderr') throw new CheckError(`exit ${r.exitCode}, stderr ${r.stderr}`);
    });
    await ctx.check('the guest reaches a host HTTP server at 10.0.2.2', async () => {
      const srv = await ctx.serve({ 'hello.txt': 'hello from the host\n' });
      // No curl in the baseline: bash's /dev/tcp.
      const r = await ctx.vm.sshOk(
        `exec 3<>/dev/tcp/10.0.2.2/${srv.port}; printf 'GET /hello.txt HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3; cat <&3`,
      );
      if (!r.includes('hello from the host')) throw new CheckError(`unexpected answer:\n${r}`);
      return `port ${srv.port}`;
    });
    await ctx.check('/etc change persists across a power cycle (new boot_id)', async () => {
      await ctx.vm.sshOk('echo kept | sudo tee /etc/fcos-selftest >/dev/null');
      const before = await ctx.vm.bootId();
      const after = await ctx.vm.reboot(6 * 60_000, { cold: true });
      if (after === before) throw new CheckError('boot_id did not change');
      const v = (await ctx.vm.sshOk('cat /etc/fcos-selftest')).trim();
      if (v !== 'kept') throw new CheckError(`/etc/fcos-selftest: ${v}`);
    });
  },
};

/** A negative control on the baseline: booted with kernel arguments that must make the scenario fail; no checks of its own. */
function negativeControl(name: string, description: string, appendKargs: string): Scenario {
  return { name, description, needs: { image: 'baseline', appendKargs }, boots: 1, selftest: true, async run() {} };
}

export const baselineUnitFailure = negativeControl(
  'baseline-unit-failure',
  'negative control: a unit that fails at boot must fail the scenario (expected FAIL)',
  'systemd.wants=fcos-selftest-fail.service',
);

// init exits at once: "Kernel panic - not syncing: Attempted to kill init!"
export const baselinePanic = negativeControl('baseline-panic', 'negative control: a kernel panic must fail the scenario at once (expected FAIL)', 'init=/bin/false panic=0');

export const baselineQemuDies: Scenario = {
  name: 'baseline-qemu-dies',
  description: 'negative control: QEMU dies after the last check, so the machine checks cannot run (expected FAIL)',
  needs: { image: 'baseline' },
  boots: 1,
  selftest: true,
  async run(ctx) {
    await ctx.check('runs a command over SSH', async () => (await ctx.vm.sshOk('true; echo ok')).trim());
    // Gone without a word, as a crashed QEMU would be (expected: no console failure, the VM just is not there).
    ctx.vm.expectExit();
    await ctx.vm.powerCut();
  },
};
