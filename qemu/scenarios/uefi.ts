/**
 * Scenario `uefi` (issue #4): the same image booted under UEFI (OVMF), one boot. The config comes through fw_cfg,
 * so this also proves that a fw_cfg config wins over the one embedded in the image.
 */
import type { Scenario } from '../harness.js';

const HOSTNAME = 'fcos-uefi';

export const uefi: Scenario = {
  name: 'uefi',
  description: 'the image boots under UEFI (OVMF); Ignition applies the fw_cfg config',
  needs: { image: 'fcos', firmware: 'uefi' },
  boots: 1,
  timeoutMin: 15,
  ignition: () => ({
    ignition: { version: '3.3.0' },
    storage: { files: [{ path: '/etc/hostname', mode: 0o644, overwrite: true, contents: { source: `data:,${HOSTNAME}%0A` } }] },
  }),
  async run(ctx) {
    const vm = ctx.vm;
    await ctx.check('booted by UEFI firmware', async () => {
      const r = await vm.ssh('test -d /sys/firmware/efi');
      if (r.exitCode !== 0) throw new Error('/sys/firmware/efi is missing: not a UEFI boot');
    });
    await ctx.check('hostname from the fw_cfg config (not the embedded one)', async () => {
      const h = (await vm.sshOk('hostname')).trim();
      if (h !== HOSTNAME) throw new Error(`hostname is ${JSON.stringify(h)}, want ${HOSTNAME}`);
    });
    await ctx.check('ostree admin status shows the booted deployment', async () => {
      const out = await vm.sshOk('sudo ostree admin status');
      if (!out.split('\n').some((l) => l.startsWith('* '))) throw new Error(`no booted deployment:\n${out}`);
    });
  },
};
