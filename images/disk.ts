/**
 * Build a bootable GPT disk image from an ostree commit.
 *
 *   truncate → sgdisk (images/layout.ts) → losetup + partx -a → mkfs → mount root and /boot
 *   → ostree admin init-fs / os-init / pull-local / deploy (sysroot.bootloader=none, BLS entries)
 *   → in a chroot of the new deployment (its own trixie GRUB 2.12 and ostree): grub-install for BIOS and/or UEFI,
 *     grub-mkconfig (/etc/grub.d/15_ostree → `ostree admin instutil grub2-generate`) into /boot/loader/grub.cfg,
 *     with /boot/grub/grub.cfg → ../loader/grub.cfg
 *   → switch the repo to sysroot.bootloader=grub2, so every later deploy/upgrade/rollback on the host regenerates
 *     the menu by itself (libostree runs grub-mkconfig)
 *   → the first-boot stamp /boot/ignition.firstboot and the embedded config /boot/ignition/config.ign.
 *
 * Every loop device and mount is registered on the Cleanup stack right after it is made, so a failure or a
 * Ctrl-C never leaves one behind. The image is written under a temporary name; the caller renames it.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/run.js';
import { BugError, UserError } from '../lib/errors.js';
import { MountStack } from '../lib/mounts.js';
import { checkInterrupted, type Cleanup } from '../lib/signals.js';
import { debug } from '../lib/log.js';
import { computeLayout, sgdiskArgs, type DiskLayout } from './layout.js';
import { assembleKargs, firstbootStamp } from './kargs.js';

export type Firmware = 'bios' | 'uefi' | 'both';

export interface DiskOptions {
  /** Where to write the raw image (a temporary name; the caller renames it). */
  path: string;
  sizeBytes: number;
  /** The archive repo (builds/repo) and the commit to deploy. */
  repo: string;
  ref: string;
  commit: string;
  /** ostree stateroot ("os") name. */
  stateroot: string;
  /** From the manifest. */
  kernelArguments: readonly string[];
  firmware: Firmware;
  /** The Ignition config (already down-levelled) to embed; undefined: no embedded config. */
  ignition?: string;
  /** Ignition platform GRUB passes on first boot. */
  platform?: string;
  /** Minimum root filesystem size (the tree's size with headroom). */
  minRootBytes?: number;
}

export interface DiskResult {
  layout: DiskLayout;
  deployment: string;
  kargs: string[];
  /** grub.cfg as generated (for the record and tests). */
  grubCfg: string;
  bootEntries: string[];
}

async function waitForNode(path: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (existsSync(path)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new UserError(`partition device ${path} did not appear`, 'is the loop driver able to scan partitions? (partx -a)');
}

export async function buildDisk(opts: DiskOptions, cleanup: Cleanup): Promise<DiskResult> {
  const layout = computeLayout(opts.sizeBytes, { minRootBytes: opts.minRootBytes });
  // 1. A sparse file with the GPT.
  rmSync(opts.path, { force: true });
  await run('truncate', ['-s', String(layout.sizeBytes), opts.path], { purpose: 'create the image file' });
  await run('sgdisk', sgdiskArgs(layout, opts.path), { purpose: 'partition the image' });
  checkInterrupted();

  // 2. Loop device and filesystems. One stack for the loop device, the mount point and the mounts.
  const stack = new MountStack(cleanup, 'unmount image filesystems and detach the loop device');
  const loop = await stack.attachLoop(opts.path);
  const part = (n: number) => `${loop}p${n}`;
  await formatPartitions(layout, part);

  // The mount point: removed (never recursively: something may still be mounted) after everything is unmounted.
  const work = mkdtempSync('/tmp/fcos-image-');
  const sysroot = join(work, 'sysroot');
  stack.defer('remove the mount point', () => {
    if (existsSync(sysroot)) rmdirSync(sysroot);
    rmdirSync(work);
  });
  const mounted = stack.size;
  await stack.mount([part(4)], sysroot, 'mount the root filesystem');
  await stack.mount([part(3)], join(sysroot, 'boot'), 'mount /boot');

  const { repo, kargs, deployment, dep } = await deployCommit(opts, sysroot);
  const grubCfg = await installGrub(opts, stack, { sysroot, dep, loop, esp: part(2) });
  // From now on, libostree on the host regenerates the menu on every deploy, upgrade and rollback.
  await run('ostree', ['config', `--repo=${repo}`, 'set', 'sysroot.bootloader', 'grub2'], { purpose: 'configure the repo' });

  const bootEntries = writeFirstBoot(opts, sysroot);
  // Write everything back now and fail on a write error (a full disk under the image file shows up here as EIO):
  // an image whose data did not reach its file must not be renamed into place.
  for (const fs of [join(sysroot, 'boot'), sysroot]) await run('sync', ['-f', fs], { purpose: `write back ${fs} to the image file` });
  // The loop device and the mount point are left to the caller's cleanup, which runs after the image is written.
  await stack.unwind(mounted);
  return { layout, deployment, kargs, grubCfg, bootEntries };
}

async function formatPartitions(layout: DiskLayout, part: (n: number) => string): Promise<void> {
  for (const p of layout.partitions) await waitForNode(part(p.number));
  for (const p of layout.partitions) {
    if (p.fs === 'vfat') await run('mkfs.vfat', ['-F', '32', '-n', p.label!, part(p.number)], { purpose: `format ${p.name}` });
    if (p.fs === 'ext4') {
      // No lazy init: the image is written once and read by every boot. Default features otherwise (GRUB 2.12 reads them).
      await run('mkfs.ext4', ['-q', '-F', '-L', p.label!, '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-O', '^metadata_csum_seed', part(p.number)], {
        purpose: `format ${p.name}`,
      });
    }
  }
  checkInterrupted();
}

/** 3. ostree: init, stateroot, pull, deploy. bootloader=none: ostree writes BLS entries only. */
async function deployCommit(opts: DiskOptions, sysroot: string): Promise<{ repo: string; kargs: string[]; deployment: string; dep: string }> {
  const sys = `--sysroot=${sysroot}`;
  const repo = join(sysroot, 'ostree', 'repo');
  await run('ostree', ['admin', 'init-fs', '--modern', sysroot], { purpose: 'initialize the ostree sysroot' });
  await run('ostree', ['admin', 'os-init', sys, opts.stateroot], { purpose: 'create the stateroot' });
  await run('ostree', ['config', `--repo=${repo}`, 'set', 'sysroot.bootloader', 'none'], { purpose: 'configure the repo' });
  await run('ostree', ['config', `--repo=${repo}`, 'set', 'sysroot.readonly', 'false'], { purpose: 'configure the repo' });
  await run('ostree', ['pull-local', `--repo=${repo}`, opts.repo, opts.commit], { purpose: 'copy the commit into the image' });
  await run('ostree', ['refs', `--repo=${repo}`, '--create', opts.ref, opts.commit], { purpose: 'set the ref in the image' });
  checkInterrupted();
  const kargs = assembleKargs({ manifest: opts.kernelArguments });
  await run('ostree', ['admin', 'deploy', sys, `--os=${opts.stateroot}`, ...kargs.map((k) => `--karg-append=${k}`), opts.ref], {
    purpose: 'deploy the commit',
  });
  const deployDir = join(sysroot, 'ostree', 'deploy', opts.stateroot, 'deploy');
  const deployment = readdirSync(deployDir).find((d) => d.startsWith(opts.commit) && !d.endsWith('.origin'));
  if (!deployment) throw new BugError(`no deployment of ${opts.commit} in ${deployDir}`);
  checkInterrupted();
  return { repo, kargs, deployment, dep: join(deployDir, deployment) };
}

/** 4. GRUB, from the deployment itself (trixie's grub-install 2.12 works on loop devices; the host's may not). Returns grub.cfg. */
async function installGrub(opts: DiskOptions, stack: MountStack, at: { sysroot: string; dep: string; loop: string; esp: string }): Promise<string> {
  const { sysroot, dep } = at;
  const chrootMounted = stack.size;
  await stack.mount(['--bind', '/dev'], join(dep, 'dev'), 'bind /dev into the deployment');
  await stack.mount(['-t', 'proc', 'proc'], join(dep, 'proc'), 'mount /proc into the deployment');
  await stack.mount(['-t', 'sysfs', 'sysfs'], join(dep, 'sys'), 'mount /sys into the deployment');
  await stack.mount(['--bind', sysroot], join(dep, 'sysroot'), 'bind the physical root into the deployment');
  await stack.mount(['--bind', join(sysroot, 'boot')], join(dep, 'boot'), 'bind /boot into the deployment');
  await stack.mount(['-t', 'tmpfs', 'tmpfs'], join(dep, 'run'), 'mount /run into the deployment');
  await stack.mount(['-t', 'tmpfs', 'tmpfs'], join(dep, 'tmp'), 'mount /tmp into the deployment');
  const inChroot = (args: string[], purpose: string) => run('chroot', [dep, ...args], { purpose, env: { LC_ALL: 'C.UTF-8', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  if (opts.firmware === 'bios' || opts.firmware === 'both') {
    await inChroot(['grub-install', '--target=i386-pc', '--boot-directory=/boot', '--modules=part_gpt ext2', at.loop], 'install GRUB for BIOS');
  }
  if (opts.firmware === 'uefi' || opts.firmware === 'both') {
    // The host kernel may have no vfat (no module loading here), and grub-install insists on a mounted FAT ESP:
    // build the EFI binary with grub-mkimage in the chroot, copy the modules to /boot/grub/x86_64-efi as
    // grub-install would, and write the ESP with mtools (no mount needed).
    const uuid = (await inChroot(['grub-probe', '--target=fs_uuid', '/boot'], 'find the UUID of /boot')).stdout.trim();
    writeFileSync(join(dep, 'tmp', 'early.cfg'), efiEarlyConfig(uuid));
    await inChroot(['cp', '-a', '/usr/lib/grub/x86_64-efi', '/boot/grub/'], 'copy the GRUB EFI modules');
    await inChroot(
      ['grub-mkimage', '-O', 'x86_64-efi', '-o', '/tmp/BOOTX64.EFI', '-p', '/grub', '-c', '/tmp/early.cfg', ...EFI_MODULES],
      'build the GRUB EFI image',
    );
    await run('mmd', ['-i', at.esp, '::/EFI', '::/EFI/BOOT'], { purpose: 'create \\EFI\\BOOT on the ESP' });
    await run('mcopy', ['-i', at.esp, join(dep, 'tmp', 'BOOTX64.EFI'), '::/EFI/BOOT/BOOTX64.EFI'], { purpose: 'copy GRUB to the ESP' });
  }
  checkInterrupted();
  // grub.cfg lives in /boot/loader/ (a symlink ostree swaps atomically); /boot/grub/grub.cfg points at it, as
  // libostree's grub2 backend expects.
  await inChroot(['grub-mkconfig', '-o', '/boot/loader/grub.cfg'], 'generate grub.cfg from the ostree deployments');
  const grubLink = join(sysroot, 'boot', 'grub', 'grub.cfg');
  rmSync(grubLink, { force: true });
  symlinkSync('../loader/grub.cfg', grubLink);
  await stack.unwind(chrootMounted);
  const grubCfg = readFileSync(join(sysroot, 'boot', 'loader', 'grub.cfg'), 'utf8');
  if (!/menuentry /.test(grubCfg)) throw new BugError('grub-mkconfig produced no menu entry (is ostree-boot in the tree?)');
  return grubCfg;
}

/** 5. First boot: the stamp GRUB looks for, and the embedded config. Returns the boot entries. */
function writeFirstBoot(opts: DiskOptions, sysroot: string): string[] {
  writeFileSync(join(sysroot, 'boot', 'ignition.firstboot'), firstbootStamp(opts.platform ?? 'qemu'));
  if (opts.ignition !== undefined) {
    const d = join(sysroot, 'boot', 'ignition');
    mkdirSync(d, { recursive: true, mode: 0o700 });
    writeFileSync(join(d, 'config.ign'), opts.ignition, { mode: 0o600 });
    chmodSync(join(d, 'config.ign'), 0o600);
  }
  const bootEntries = readdirSync(join(sysroot, 'boot', 'loader', 'entries'));
  debug(`boot entries: ${bootEntries.join(', ')}`);
  return bootEntries;
}

/** Modules built into the EFI image: enough to find /boot and read grub.cfg; the rest load from /boot/grub/x86_64-efi. */
export const EFI_MODULES = ['part_gpt', 'part_msdos', 'fat', 'ext2', 'search', 'search_fs_uuid', 'search_label', 'normal', 'configfile', 'echo', 'test', 'linux', 'gzio', 'serial', 'terminal', 'efi_gop', 'all_video', 'loadenv', 'boot'];

/** The config embedded in BOOTX64.EFI: find /boot by UUID, then the shared /boot/grub/grub.cfg. */
export function efiEarlyConfig(bootUuid: string): string {
  return `search --no-floppy --fs-uuid --set=root ${bootUuid}\nset prefix=($root)/grub\nconfigfile $prefix/grub.cfg\n`;
}
