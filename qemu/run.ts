/**
 * `fcos run`: boot an image (the latest build by default) through an overlay, print how to log in, and keep it
 * running until it powers off or Ctrl-C (which powers it off through QMP); --detach leaves it running.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cacheDir } from '../lib/paths.js';
import { run } from '../lib/run.js';
import { abortSignal } from '../lib/signals.js';
import { info } from '../lib/log.js';
import { UserError } from '../lib/errors.js';
import type { Firmware } from './args.js';
import { ensureBaseline } from './baseline.js';
import { injectSshKey, latestBuildImage, type IgnitionConfig } from './harness.js';
import type { AccelRequest } from './kvm.js';
import { Vm, type VmInfo, type VmSpec } from './vm.js';

export interface RunVmOptions {
  image?: string;
  baseline?: boolean;
  buildsDir: string;
  ignition?: string;
  firmware?: Firmware;
  memoryMiB?: number;
  cpus?: number;
  sshPort?: number;
  detach?: boolean;
  console?: boolean;
  persist?: boolean;
  accel?: AccelRequest;
  /** State directory (console.txt, overlay, QMP socket). Default tmp/fcos-run/<time>. */
  dir?: string;
  /** Seconds to wait for SSH. */
  sshTimeoutSec?: number;
  /**
   * Boot from the network instead of a disk image: QEMU's iPXE ROM gets boot.ipxe from user-mode networking's TFTP
   * (written into dir/tftp), which chains to `fcos pxe serve` at url (as the guest sees it: http://10.0.2.2:PORT).
   */
  pxe?: { url: string; mac?: string; diskGiB?: number };
  /** Called once SSH is up (the command prints the login line then). */
  onReady?: (i: RunVmResult) => void;
}

export interface RunVmResult extends VmInfo {
  image: string;
  ready: boolean;
  detached: boolean;
  ignition?: string;
  stopped?: string;
}

/** The key `fcos run` puts into configs so that the printed ssh command works. */
/**
 * Memory of a `--pxe` VM when none is given: the live system copies its rootfs into RAM (docs/pxe.md asks 3 GiB;
 * with 2 GiB the copy and the first boot ran out of memory or into soft lockups under load).
 */
export const PXE_MEMORY_MIB = 3072;

/** The VM's memory: the user's, else 3072 MiB for --pxe, else QEMU args' default (2048). */
export function runMemoryMiB(o: Pick<RunVmOptions, 'memoryMiB' | 'pxe'>): number | undefined {
  return o.memoryMiB ?? (o.pxe ? PXE_MEMORY_MIB : undefined);
}

export async function runKey(): Promise<{ key: string; pub: string }> {
  const dir = cacheDir('run-key');
  const key = join(dir, 'id_ed25519');
  if (!existsSync(key)) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fcos-run', '-f', key], { purpose: 'make the fcos run SSH key' });
  return { key, pub: readFileSync(key + '.pub', 'utf8').trim() };
}

/** The TFTP boot file of a PXE VM: chain to the HTTP server's per-machine script. */
export function pxeChainScript(url: string): string {
  return `#!ipxe\nchain ${url.replace(/\/$/, '')}/ipxe?mac=\${mac:hexhyp}\n`;
}

export async function runVm(o: RunVmOptions): Promise<RunVmResult> {
  const dir = resolve(o.dir ?? join('tmp', 'fcos-run', new Date().toISOString().replace(/[:.]/g, '-')));
  mkdirSync(dir, { recursive: true });
  let spec: Omit<VmSpec, 'name' | 'dir'>;
  let image: string;
  let ignitionPath: string | undefined;
  if (o.pxe) {
    const { key } = await runKey();
    const tftp = join(dir, 'tftp');
    mkdirSync(tftp, { recursive: true });
    writeFileSync(join(tftp, 'boot.ipxe'), pxeChainScript(o.pxe.url));
    image = `${o.pxe.url.replace(/\/$/, '')}/boot.ipxe`;
    spec = { netboot: { tftp, bootfile: 'boot.ipxe' }, mac: o.pxe.mac, emptyDiskGiB: o.pxe.diskGiB, ssh: { key } };
  } else if (o.baseline) {
    const b = await ensureBaseline();
    image = b.disk;
    spec = { disk: { path: b.disk, format: b.diskFormat }, kernelBoot: { kernel: b.kernel, initrd: b.initrd, append: b.append }, ssh: { key: b.sshKey } };
  } else {
    if (o.image) {
      image = resolve(o.image);
      if (!existsSync(image)) throw new UserError(`no such image: ${image}`);
    } else image = latestBuildImage(o.buildsDir).path;
    const { key, pub } = await runKey();
    let config: IgnitionConfig = { ignition: { version: '3.3.0' } };
    if (o.ignition) {
      try {
        config = JSON.parse(readFileSync(o.ignition, 'utf8'));
      } catch (e) {
        throw new UserError(`cannot read the Ignition config ${o.ignition}: ${(e as Error).message}`);
      }
    }
    ignitionPath = join(dir, 'config.ign');
    writeFileSync(ignitionPath, JSON.stringify(injectSshKey(config, pub), null, 2) + '\n');
    spec = { disk: { path: image, format: image.endsWith('.qcow2') ? 'qcow2' : 'raw' }, ignition: ignitionPath, ssh: { key } };
  }
  const vm = await Vm.start({
    ...spec,
    name: 'run',
    dir,
    firmware: o.firmware,
    memoryMiB: runMemoryMiB(o),
    cpus: o.cpus,
    accel: o.accel,
    persist: o.persist,
    console: o.console,
    detach: o.detach,
    gracefulOnAbort: !o.detach,
    ssh: { ...spec.ssh, port: o.sshPort },
  });
  info(`VM started (pid ${vm.pid}, ${vm.accel}); serial console: ${vm.consolePath}`);
  const result: RunVmResult = { ...vm.info(), image, ready: false, detached: !!o.detach, ignition: ignitionPath };
  const signal = abortSignal();
  const onAbort = () => void vm.shutdown(60_000);
  if (!o.detach) signal.addEventListener('abort', onAbort, { once: true });
  try {
    await vm.waitForSsh((o.sshTimeoutSec ?? 600) * 1000);
    result.ready = true;
    o.onReady?.(result);
    if (o.detach) {
      await vm.release();
      return result;
    }
    info('the VM runs until it powers off; Ctrl-C powers it off' + (o.console ? ' (on the console: Ctrl-A X quits QEMU)' : ''));
    await vm.waitExit(24 * 3600_000);
    result.stopped = signal.aborted ? 'powered off after Ctrl-C' : 'powered off';
    return result;
  } catch (e) {
    if (o.detach && !vm.exited) await vm.kill();
    if (!o.detach) {
      if (signal.aborted) await vm.shutdown(60_000);
      else await vm.kill();
    }
    throw e;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
