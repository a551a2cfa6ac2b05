/**
 * The disk layout of an fcos image (FCOS's layout): pure computation, unit-tested.
 *
 *   p1 BIOS-BOOT   1 MiB    BIOS boot partition (GRUB's core.img for SeaBIOS/legacy BIOS)
 *   p2 EFI-SYSTEM  127 MiB  vfat ESP (GRUB for UEFI, \EFI\BOOT\BOOTX64.EFI)
 *   p3 boot        384 MiB  ext4 /boot (ostree's loader/, BLS entries, kernels, grub.cfg, the first-boot stamp)
 *   p4 root        rest     ext4 physical root (/ostree), grown to the disk on first boot
 */
import { BugError, UserError } from '../lib/errors.js';

export const SECTOR = 512;
export const MiB = 1024 * 1024;

export const GPT_TYPES = {
  biosBoot: '21686148-6449-6E6F-744E-656564454649',
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
} as const;

export type FsType = 'none' | 'vfat' | 'ext4';

export interface Partition {
  number: number;
  /** GPT partition name. */
  name: string;
  /** Filesystem label (what the kernel arguments and fstab use). */
  label?: string;
  typeGuid: string;
  fs: FsType;
  startSector: number;
  /** Inclusive. */
  endSector: number;
  sizeBytes: number;
}

export interface DiskLayout {
  sizeBytes: number;
  partitions: Partition[];
}

export interface LayoutOptions {
  biosBootMiB?: number;
  espMiB?: number;
  bootMiB?: number;
  /** The root partition must hold at least this much (the deployment plus the repo). */
  minRootBytes?: number;
}

/** GPT needs 33 sectors at the end for the backup header and table. */
const GPT_BACKUP_SECTORS = 33;

/** Parse "8G", "512M", "10GiB", or a byte count. */
export function parseSize(s: string | number): number {
  if (typeof s === 'number') return s;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*$/i.exec(s);
  if (!m) throw new UserError(`invalid size '${s}'`, 'use a number with K, M, G or T (e.g. 8G)');
  const n = Number(m[1]);
  const mult = { '': 1, K: 1024, M: MiB, G: 1024 * MiB, T: 1024 * 1024 * MiB }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.round(n * mult);
}

export function computeLayout(sizeBytes: number, opts: LayoutOptions = {}): DiskLayout {
  const bios = (opts.biosBootMiB ?? 1) * MiB;
  const esp = (opts.espMiB ?? 127) * MiB;
  const boot = (opts.bootMiB ?? 384) * MiB;
  const align = MiB / SECTOR; // 2048 sectors
  if (sizeBytes % SECTOR !== 0) sizeBytes = Math.ceil(sizeBytes / MiB) * MiB;
  const totalSectors = sizeBytes / SECTOR;
  const lastUsable = totalSectors - GPT_BACKUP_SECTORS - 1;
  const parts: Partition[] = [];
  let next = align; // first partition at 1 MiB
  const add = (number: number, name: string, typeGuid: string, fs: FsType, bytes: number | 'rest', label?: string) => {
    const start = next;
    let end: number;
    if (bytes === 'rest') {
      end = lastUsable;
    } else {
      end = start + bytes / SECTOR - 1;
    }
    parts.push({ number, name, label, typeGuid, fs, startSector: start, endSector: end, sizeBytes: (end - start + 1) * SECTOR });
    next = Math.ceil((end + 1) / align) * align;
  };
  add(1, 'BIOS-BOOT', GPT_TYPES.biosBoot, 'none', bios);
  add(2, 'EFI-SYSTEM', GPT_TYPES.esp, 'vfat', esp, 'EFI-SYSTEM');
  add(3, 'boot', GPT_TYPES.linux, 'ext4', boot, 'boot');
  if (next >= lastUsable) throw new UserError(`image size ${sizeBytes} bytes is too small for the boot partitions`);
  add(4, 'root', GPT_TYPES.linux, 'ext4', 'rest', 'root');
  const root = parts[3]!;
  const minRoot = opts.minRootBytes ?? 0;
  if (root.sizeBytes < minRoot) {
    const need = Math.ceil((minRoot + root.startSector * SECTOR + GPT_BACKUP_SECTORS * SECTOR) / (1024 * MiB));
    throw new UserError(
      `image size ${(sizeBytes / (1024 * MiB)).toFixed(1)} GiB leaves ${(root.sizeBytes / MiB).toFixed(0)} MiB for the root filesystem, but the tree needs ${(minRoot / MiB).toFixed(0)} MiB`,
      `raise image-size in the manifest (at least ${need}G)`,
    );
  }
  return { sizeBytes, partitions: parts };
}

/** sgdisk arguments that create the layout on a blank disk (after `sgdisk --zap-all`). */
export function sgdiskArgs(layout: DiskLayout, disk: string): string[] {
  const args = ['--zap-all', '--clear'];
  for (const p of layout.partitions) {
    args.push(`--new=${p.number}:${p.startSector}:${p.endSector}`, `--typecode=${p.number}:${p.typeGuid}`, `--change-name=${p.number}:${p.name}`);
  }
  // Legacy BIOS boot flag on the protective MBR is not needed by SeaBIOS; keep the table plain.
  args.push(disk);
  return args;
}

export function partitionByName(layout: DiskLayout, name: string): Partition {
  const p = layout.partitions.find((x) => x.name === name);
  if (!p) throw new BugError(`no partition ${name}`);
  return p;
}
