/**
 * Scenario `uefi` (issue #4): the same image booted under UEFI (OVMF), one boot. The config comes through fw_cfg,
 * so this also proves that a fw_cfg config wins over the one embedded in the image. The same boot then runs the
 * `kubelet` scenario's checks (a static pod, podman, no network: test/scenarios/kubelet.ts): both need only a
 * booted default image, so one TCG boot serves both (the `kubelet` scenario alone boots under BIOS).
 */
import type { IgnitionConfig, Scenario } from '../../qemu/harness.js';
import { kubeletChecks, kubeletConfig, podmanChecks, POD_HOST_PORT, PODMAN_PORT } from './kubelet.js';
import { bootedDeployments } from './ostree-status.js';
import { CheckError } from '../../lib/errors.js';

const HOSTNAME = 'fcos-uefi';

export function uefiConfig(): IgnitionConfig {
  const k = kubeletConfig() as IgnitionConfig & { storage: { files: object[] } };
  return {
    ...k,
    storage: { files: [...k.storage.files, { path: '/etc/hostname', mode: 0o644, overwrite: true, contents: { source: `data:,${HOSTNAME}%0A` } }] },
  };
}

export const uefi: Scenario = {
  name: 'uefi',
  description: 'the image boots under UEFI (OVMF); Ignition applies the fw_cfg config; then the kubelet and podman checks on the same boot',
  needs: { image: 'fcos', firmware: 'uefi', forwardPorts: [PODMAN_PORT, POD_HOST_PORT], restrictNetwork: true },
  boots: 1,
  timeoutMin: 25,
  ignition: () => uefiConfig(),
  async run(ctx) {
    const vm = ctx.vm;
    await ctx.check('booted by UEFI firmware', async () => {
      await vm.sshOk('test -d /sys/firmware/efi');
      return '/sys/firmware/efi present';
    });
    await ctx.check('hostname from the fw_cfg config (not the embedded one)', async () => {
      const h = (await vm.sshOk('hostname')).trim();
      if (h !== HOSTNAME) throw new CheckError(`hostname is ${JSON.stringify(h)}, want ${HOSTNAME}`);
    });
    await ctx.check('ostree admin status shows the booted deployment', async () => {
      const d = bootedDeployments(await vm.sshOk('sudo ostree admin status'));
      if (d.all.length !== 1 || !d.booted) throw new CheckError(`want one deployment, booted: ${JSON.stringify(d.all)}`);
      return `${d.booted.stateroot} ${d.booted.checksum.slice(0, 12)}.${d.booted.serial}`;
    });
    await kubeletChecks(ctx);
    await podmanChecks(ctx);
  },
};
