/**
 * `fcos build --format pxe`: the live PXE artifacts of a build (cosa's live-kernel / live-initramfs / live-rootfs),
 * plus the compressed disk image the bare-metal installer writes.
 *
 *   ostree checkout of the commit (a temporary tree; /etc from /usr/etc, as a deployment has it)
 *   → the 36fcos-live dracut module (ostree/guest/pxe-live) copied into the tree's modules.d
 *   → dracut in a chroot of the tree: ostree + ignition + fcos + systemd-networkd + fcos-live (network, live root,
 *     installer); the disk initramfs of the deployment is not touched
 *   → mksquashfs of the tree (zstd; the live initramfs downloads it and copies it into a tmpfs root)
 *   → the kernel (usr/lib/modules/$kver/vmlinuz)
 *   → zstd of the raw disk with an extent index (images/sparse-zst.ts: any zstd decompresses it; the installer
 *     writes only its data regions)
 *   → an iPXE script (a template: `fcos pxe serve` renders its own, per machine).
 *
 * Everything is written under `.partial` names and renamed when complete.
 */
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/run.js';
import { BugError, UserError } from '../lib/errors.js';
import { checkInterrupted, type Cleanup } from '../lib/signals.js';
import { projectRoot } from '../lib/version.js';
import { cacheDir, renameDurably } from '../lib/paths.js';
import { info } from '../lib/log.js';
import { createHash } from 'node:crypto';
import { MountStack } from '../lib/mounts.js';
import { writeSparseZst } from './sparse-zst.js';

export const PXE_TOOLS = ['ostree', 'mksquashfs', 'zstd', 'chroot', 'mount', 'umount'];

/** meta.json images.<key> → file suffix (fcos-<version>-<suffix>). cosa: live-kernel, live-initramfs, live-rootfs. */
export const PXE_FILES = {
  'live-kernel': 'live-kernel',
  'live-initramfs': 'live-initramfs.img',
  'live-rootfs': 'live-rootfs.squashfs',
  'metal-zst': 'metal.raw.zst',
  'live-ipxe': 'live.ipxe',
} as const;
export type PxeKey = keyof typeof PXE_FILES;

/** dracut modules of the PXE initramfs (on top of --add). Small, like the disk initramfs (ostree/manifests). */
export const PXE_DRACUT_MODULES = [
  'systemd',
  'systemd-initrd',
  'systemd-journald',
  'systemd-udevd',
  'systemd-modules-load',
  'systemd-tmpfiles',
  'systemd-sysusers',
  'systemd-networkd',
  'dracut-systemd',
  'base',
  'fs-lib',
  'rootfs-block',
  'udev-rules',
];
export const PXE_DRACUT_ADD = ['ostree', 'ignition', 'fcos', 'systemd-networkd', 'fcos-live'];
export const PXE_DRIVERS = ['virtio_blk', 'virtio_scsi', 'virtio_pci', 'virtio_net', 'sd_mod', 'ahci', 'nvme', 'qemu_fw_cfg', 'squashfs', 'overlay', 'loop', 'e1000', 'e1000e'];

export function pxeDracutArgs(kver: string, out: string): string[] {
  return [
    '--no-hostonly',
    '--reproducible',
    '--force',
    '--quiet',
    '--no-hostonly-cmdline',
    '--tmpdir',
    '/tmp',
    '--modules',
    PXE_DRACUT_MODULES.join(' '),
    '--add',
    PXE_DRACUT_ADD.join(' '),
    '--add-drivers',
    PXE_DRIVERS.join(' '),
    '--zstd',
    '--kver',
    kver,
    out,
  ];
}

/**
 * The iPXE script of a build. `${base}` is the URL the artifacts are served under (set it before chaining, or let
 * `fcos pxe serve` render a script with it filled in); the config URL comes from `${config}` likewise.
 */
export function ipxeScript(o: {
  base: string;
  files: { kernel: string; initramfs: string; rootfs: string };
  rootfsSha256?: string;
  configUrl?: string;
  extraArgs?: readonly string[];
  install?: { dev: string; imageUrl: string; imageSha256?: string; ignitionUrl?: string };
}): string {
  const b = o.base.replace(/\/$/, '');
  const args: string[] = [];
  if (o.install) {
    args.push(`fcos.inst.install_dev=${o.install.dev}`, `fcos.inst.image_url=${o.install.imageUrl}`);
    if (o.install.imageSha256) args.push(`fcos.inst.image_sha256=${o.install.imageSha256}`);
    if (o.install.ignitionUrl) args.push(`fcos.inst.ignition_url=${o.install.ignitionUrl}`);
  } else {
    args.push(`fcos.live.rootfs_url=${b}/${o.files.rootfs}`);
    if (o.rootfsSha256) args.push(`fcos.live.rootfs_sha256=${o.rootfsSha256}`);
    args.push('ignition.firstboot', 'ignition.platform.id=metal');
    if (o.configUrl) args.push(`ignition.config.url=${o.configUrl}`);
  }
  args.push('console=ttyS0,115200n8', ...(o.extraArgs ?? []));
  return ['#!ipxe', `kernel ${b}/${o.files.kernel} initrd=main ${args.join(' ')}`, `initrd --name main ${b}/${o.files.initramfs}`, 'boot', ''].join('\n');
}

export interface PxeBuildOptions {
  repo: string;
  commit: string;
  buildDir: string;
  /** fcos-<version> */
  prefix: string;
  /** The finished raw disk (for metal.raw.zst). */
  raw: string;
}

/** Cache key of the live kernel, initramfs and rootfs: the commit, the live module's files and the dracut command. */
export function pxeCacheKey(commit: string, moduleDir: string): string {
  const h = createHash('sha256').update(`fcos-pxe-2\0${commit}\0${pxeDracutArgs('K', 'O').join(' ')}\0`);
  for (const f of readdirSync(moduleDir).sort()) h.update(f).update('\0').update(readFileSync(join(moduleDir, f))).update('\0');
  return h.digest('hex').slice(0, 32);
}

const CACHED: PxeKey[] = ['live-kernel', 'live-initramfs', 'live-rootfs'];

/** Build the PXE artifacts into buildDir; returns images key → file name (relative to buildDir). */
export async function buildPxe(o: PxeBuildOptions, cleanup: Cleanup): Promise<Record<PxeKey, string>> {
  const moduleSrc = join(projectRoot(), 'ostree', 'guest', 'pxe-live');
  if (!existsSync(join(moduleSrc, 'module-setup.sh'))) throw new BugError(`the fcos-live dracut module is missing: ${moduleSrc}`);
  const cache = cacheDir('pxe', pxeCacheKey(o.commit, moduleSrc));
  const out = (k: PxeKey) => `${o.prefix}-${PXE_FILES[k]}`;
  const partial = (k: PxeKey) => join(o.buildDir, `.${out(k)}.partial`);
  const done: Partial<Record<PxeKey, string>> = {};
  const finish = (k: PxeKey) => {
    renameDurably(partial(k), join(o.buildDir, out(k)));
    done[k] = out(k);
  };
  for (const k of Object.keys(PXE_FILES) as PxeKey[]) cleanup.push(`remove ${partial(k)}`, () => rmSync(partial(k), { force: true }));
  if (CACHED.every((k) => existsSync(join(cache, k)))) {
    info(`PXE kernel, initramfs and rootfs of commit ${o.commit.slice(0, 12)}: from the cache (${cache})`);
    for (const k of CACHED) {
      copyFileSync(join(cache, k), partial(k));
      finish(k);
    }
  } else {
    await buildLive(o, moduleSrc, partial, cleanup);
    for (const k of CACHED) {
      copyFileSync(partial(k), join(cache, `.${k}.tmp`));
      renameSync(join(cache, `.${k}.tmp`), join(cache, k));
      finish(k);
    }
  }
  checkInterrupted();
  const regions = await writeSparseZst(o.raw, partial('metal-zst'), { level: 3 });
  const dataBytes = regions.filter((r) => r.kind !== 'zero').reduce((n, r) => n + r.length, 0);
  info(`metal image: ${regions.length} regions, ${(dataBytes / 2 ** 30).toFixed(2)} GiB of data written by the installer`);
  finish('metal-zst');
  writeFileSync(
    partial('live-ipxe'),
    ipxeScript({
      base: '${base}',
      files: { kernel: out('live-kernel'), initramfs: out('live-initramfs'), rootfs: out('live-rootfs') },
      configUrl: '${config}',
    }).replace('#!ipxe\n', '#!ipxe\n# fcos live PXE: set base (the URL these files are served under) and config (the Ignition config URL) first,\n# or use `fcos pxe serve`, which renders this per machine.\n'),
  );
  finish('live-ipxe');
  return done as Record<PxeKey, string>;
}

/** The live kernel, initramfs and rootfs, from a checkout of the commit, into partial(k). */
async function buildLive(o: PxeBuildOptions, moduleSrc: string, partial: (k: PxeKey) => string, cleanup: Cleanup): Promise<void> {
  const work = mkdtempSync(join(o.buildDir, '.pxe-work-'));
  const root = join(work, 'root');
  cleanup.push('remove the PXE work tree', () => {
    // Never recurse into something still mounted (the chroot binds /dev).
    if (readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1]?.startsWith(work))) {
      throw new UserError(`${work} still has mounts; not removing it`, `unmount what is below it (findmnt -R ${work}), then remove it`);
    }
    rmSync(work, { recursive: true, force: true });
  });
  await run('ostree', ['checkout', `--repo=${o.repo}`, o.commit, root], { purpose: 'check out the commit for the live rootfs' });
  checkInterrupted();
  // A deployment has /etc (ostree copies /usr/etc); the commit only has /usr/etc.
  if (!existsSync(join(root, 'etc'))) await run('cp', ['-a', join(root, 'usr', 'etc'), join(root, 'etc')], { purpose: 'create /etc in the live tree' });
  // Live only: no /boot partition (the image's fstab mounts LABEL=boot; waiting for it would end in emergency mode).
  writeFileSync(join(root, 'etc', 'fstab'), '# fcos live (PXE): the root is in RAM; there is no /boot partition.\n');
  // Live only: no root partition to grow.
  const dropin = join(root, 'etc', 'systemd', 'system', 'fcos-growfs.service.d');
  await run('mkdir', ['-p', dropin]);
  writeFileSync(join(dropin, '10-fcos-live.conf'), '# fcos live root (PXE): nothing to grow\n[Unit]\nConditionKernelCommandLine=!fcos.live.rootfs_url\n');

  const kdir = join(root, 'usr', 'lib', 'modules');
  const kvers = readdirSync(kdir).filter((k) => existsSync(join(kdir, k, 'vmlinuz')));
  if (kvers.length !== 1) throw new UserError(`expected one kernel in the tree, found ${kvers.length}: ${kvers.join(', ')}`);
  const kver = kvers[0]!;

  // The live module goes into the temporary tree only (the deployment's own initramfs stays as it is).
  const modDst = join(root, 'usr', 'lib', 'dracut', 'modules.d', '36fcos-live');
  rmSync(modDst, { recursive: true, force: true });
  cpSync(moduleSrc, modDst, { recursive: true });
  const inChrootOut = `/tmp/fcos-live-initramfs.img`;
  const chroot = new MountStack(cleanup, 'unmount chroot filesystems');
  await chroot.scope(async () => {
    await chroot.mountChroot(root);
    await run('chroot', [root, 'dracut', ...pxeDracutArgs(kver, inChrootOut)], {
      purpose: 'build the PXE initramfs (dracut in the tree)',
      env: { LC_ALL: 'C.UTF-8', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    await run('cp', [join(root, 'tmp', 'fcos-live-initramfs.img'), partial('live-initramfs')], { purpose: 'copy the PXE initramfs' });
  });
  rmSync(modDst, { recursive: true, force: true });
  await run('cp', [join(kdir, kver, 'vmlinuz'), partial('live-kernel')], { purpose: 'copy the kernel' });
  checkInterrupted();
  // The live initramfs copies it into a tmpfs (see 36fcos-live/fcos-live-rootfs.sh): read once, sequentially.
  await run('mksquashfs', [root, partial('live-rootfs'), '-noappend', '-comp', 'zstd', '-Xcompression-level', '6', '-quiet', '-no-progress'], {
    purpose: 'make the live rootfs (squashfs)',
  });
}
