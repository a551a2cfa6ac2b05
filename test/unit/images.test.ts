import { describe, expect, it } from 'vitest';
import { computeLayout, sgdiskArgs, parseSize, GPT_TYPES, MiB, SECTOR } from '../../images/layout.js';
import { assembleKargs, firstbootStamp, parseBls, FIRSTBOOT_KARG } from '../../images/kargs.js';
import { FORMATS, validateFormats } from '../../images/formats.js';
import { UserError } from '../../lib/errors.js';
import { buildSpaceNeeded, checkBuildSpace } from '../../images/build.js';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';

const GiB = 1024 * MiB;

describe('parseSize', () => {
  it('reads manifest sizes', () => {
    expect(parseSize('8G')).toBe(8 * GiB);
    expect(parseSize('512M')).toBe(512 * MiB);
    expect(parseSize('10GiB')).toBe(10 * GiB);
    expect(parseSize(4096)).toBe(4096);
    expect(() => parseSize('lots')).toThrow(UserError);
  });
});

describe('computeLayout', () => {
  const l = computeLayout(8 * GiB);
  it('has the FCOS partitions in order', () => {
    expect(l.partitions.map((p) => [p.number, p.name, p.label, p.fs])).toEqual([
      [1, 'BIOS-BOOT', undefined, 'none'],
      [2, 'EFI-SYSTEM', 'EFI-SYSTEM', 'vfat'],
      [3, 'boot', 'boot', 'ext4'],
      [4, 'root', 'root', 'ext4'],
    ]);
    expect(l.partitions.map((p) => p.typeGuid)).toEqual([GPT_TYPES.biosBoot, GPT_TYPES.esp, GPT_TYPES.linux, GPT_TYPES.linux]);
  });
  it('aligns partitions to 1 MiB and sizes them exactly', () => {
    const [bios, esp, boot, root] = l.partitions;
    expect(bios!.startSector).toBe(2048);
    expect(bios!.sizeBytes).toBe(1 * MiB);
    expect(esp!.startSector).toBe(2 * 2048);
    expect(esp!.sizeBytes).toBe(127 * MiB);
    expect(boot!.startSector).toBe(129 * 2048);
    expect(boot!.sizeBytes).toBe(384 * MiB);
    expect(root!.startSector).toBe(513 * 2048);
    for (const p of l.partitions) expect(p.startSector % 2048).toBe(0);
  });
  it('gives the root partition the rest, leaving room for the backup GPT', () => {
    const root = l.partitions[3]!;
    const total = (8 * GiB) / SECTOR;
    expect(root.endSector).toBe(total - 34);
    expect(root.sizeBytes).toBe((root.endSector - root.startSector + 1) * SECTOR);
  });
  it('partitions never overlap', () => {
    for (let i = 1; i < l.partitions.length; i++) expect(l.partitions[i]!.startSector).toBeGreaterThan(l.partitions[i - 1]!.endSector);
  });
  it('refuses a disk too small for the tree, with a hint', () => {
    expect(() => computeLayout(1 * GiB, { minRootBytes: 2 * GiB })).toThrow(/tree needs 2048 MiB/);
    const e = (() => {
      try {
        computeLayout(1 * GiB, { minRootBytes: 2 * GiB });
      } catch (x) {
        return x as UserError;
      }
    })();
    expect(e?.hint).toMatch(/at least 3G/);
  });
  it('refuses a disk too small for the boot partitions', () => {
    expect(() => computeLayout(256 * MiB)).toThrow(UserError);
  });
  it('makes sgdisk arguments from the layout', () => {
    const a = sgdiskArgs(l, '/tmp/x.raw');
    expect(a[0]).toBe('--zap-all');
    expect(a).toContain('--new=1:2048:4095');
    expect(a).toContain(`--typecode=2:${GPT_TYPES.esp}`);
    expect(a).toContain('--change-name=4:root');
    expect(a.at(-1)).toBe('/tmp/x.raw');
  });
});

describe('assembleKargs', () => {
  it('puts root, rw, the manifest arguments and the first-boot variable in order', () => {
    expect(assembleKargs({ manifest: ['console=tty0', 'console=ttyS0,115200n8'] })).toEqual([
      'root=LABEL=root',
      'rw',
      'console=tty0',
      'console=ttyS0,115200n8',
      FIRSTBOOT_KARG,
    ]);
  });
  it('adds a serial console when the manifest has none', () => {
    expect(assembleKargs({ manifest: ['quiet'] })).toEqual(['root=LABEL=root', 'rw', 'quiet', 'console=ttyS0,115200n8', '$ignition_firstboot']);
  });
  it('lets the manifest choose root= and drops duplicates', () => {
    expect(assembleKargs({ manifest: ['root=UUID=abc', 'rw', 'quiet', 'quiet'] })).toEqual(['rw', 'root=UUID=abc', 'quiet', 'console=ttyS0,115200n8', '$ignition_firstboot']);
  });
  it('refuses ostree=, which ostree sets itself', () => {
    expect(() => assembleKargs({ manifest: ['ostree=/ostree/boot.1/x'] })).toThrow(/ostree= is set by ostree/);
    // a user error (exit 1), not an internal one (exit 70): issue 15 #9
    expect(() => assembleKargs({ manifest: ['ostree=/ostree/boot.1/x'] })).toThrow(UserError);
  });
});

describe('first-boot files', () => {
  it('the stamp is a GRUB script that sets the platform', () => {
    expect(firstbootStamp()).toContain('set ignition_platform="qemu"');
    expect(firstbootStamp('metal')).toContain('set ignition_platform="metal"');
  });
  it('parses a BLS entry as ostree writes it', () => {
    const e = parseBls(
      'title fcos 13.20261126.0 (ostree:0)\nversion 1\noptions root=LABEL=root rw $ignition_firstboot ostree=/ostree/boot.1/fcos/abc/0\nlinux /ostree/fcos-abc/vmlinuz-6.12\ninitrd /ostree/fcos-abc/initramfs-6.12.img\n',
    );
    expect(e.title).toBe('fcos 13.20261126.0 (ostree:0)');
    expect(e.options).toContain('$ignition_firstboot');
    expect(e.linux).toBe('/ostree/fcos-abc/vmlinuz-6.12');
  });
});

describe('formats registry', () => {
  it('knows qcow2 and raw under cosa names', () => {
    expect(FORMATS.qcow2!.key).toBe('qemu');
    expect(FORMATS.qcow2!.suffix).toBe('qemu.qcow2');
    expect(FORMATS.raw!.key).toBe('metal');
    expect(FORMATS.raw!.suffix).toBe('metal.raw');
  });
  it('refuses unknown formats before any work', () => {
    expect(() => validateFormats(['qcow2', 'vhd'])).toThrow(/unknown image format: vhd/);
    expect(() => validateFormats(['raw'])).not.toThrow();
  });
});

describe('free space before a build', () => {
  it('estimates the raw disk plus one tree per output format', () => {
    expect(buildSpaceNeeded(800 * MiB, 1)).toBe(2 * (800 + 256) * MiB);
    expect(buildSpaceNeeded(800 * MiB, 3)).toBe(4 * (800 + 256) * MiB);
  });

  it('refuses a build that cannot fit, with the numbers and what to do; FCOS_SPACE_CHECK=0 skips it', () => {
    const s = statfsSync(tmpdir());
    const free = s.bavail * s.bsize;
    expect(() => checkBuildSpace(tmpdir(), 1024)).not.toThrow();
    let err: unknown;
    try {
      checkBuildSpace(tmpdir(), free + 1024 ** 4);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(new RegExp(`^not enough free disk space in ${tmpdir()}: [0-9.]+ GiB free, this build needs about [0-9.]+ GiB$`));
    expect((err as UserError).hint).toMatch(/larger filesystem/);
    const old = process.env.FCOS_SPACE_CHECK;
    process.env.FCOS_SPACE_CHECK = '0';
    try {
      expect(() => checkBuildSpace(tmpdir(), free + 1024 ** 4)).not.toThrow();
    } finally {
      if (old === undefined) delete process.env.FCOS_SPACE_CHECK;
      else process.env.FCOS_SPACE_CHECK = old;
    }
  });
});

describe('renameDurably (image files are flushed before they are moved into place)', () => {
  it('moves the file with its content and leaves no source behind', async () => {
    const { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { renameDurably } = await import('../../lib/paths.js');
    const d = mkdtempSync(join(tmpdir(), 'fcos-rename-'));
    try {
      writeFileSync(join(d, '.img.partial'), 'disk bytes');
      renameDurably(join(d, '.img.partial'), join(d, 'img'));
      expect(readFileSync(join(d, 'img'), 'utf8')).toBe('disk bytes');
      expect(existsSync(join(d, '.img.partial'))).toBe(false);
      expect(() => renameDurably(join(d, 'missing'), join(d, 'other'))).toThrow(/ENOENT/);
      expect(existsSync(join(d, 'other'))).toBe(false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
