/**
 * Output formats: one function per format, in a registry (linuxkit's outFuns). Every format starts from the raw
 * disk that images/disk.ts made. Names are checked before any work (validateFormats).
 */
import { renameSync } from 'node:fs';
import { run } from '../lib/run.js';
import { UserError } from '../lib/errors.js';
import type { Cleanup } from '../lib/signals.js';
import { buildPxe } from './pxe.js';

/** What a multi-file format (pxe) gets. */
export interface ProduceContext {
  raw: string;
  buildDir: string;
  /** fcos-<version> */
  prefix: string;
  repo: string;
  commit: string;
  cleanup: Cleanup;
}

export interface FormatSpec {
  /** meta.json images.<key> (cosa names: qemu, metal). */
  key: string;
  /** File name suffix: fcos-<version>-<suffix>. */
  suffix: string;
  description: string;
  /** Turn the finished raw image at `raw` into `out`. `keepRaw`: the raw file is still needed afterwards. */
  convert?(raw: string, out: string, keepRaw: boolean): Promise<void>;
  /** Multi-file formats: write files into buildDir (never touching raw); returns meta.json images key → file name. */
  produce?(ctx: ProduceContext): Promise<Record<string, string>>;
}

export const FORMATS: Record<string, FormatSpec> = {
  qcow2: {
    key: 'qemu',
    suffix: 'qemu.qcow2',
    description: 'QEMU qcow2 (uncompressed clusters: faster first boot under TCG than -c)',
    async convert(raw, out) {
      await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=65536', raw, out], { purpose: 'convert the image to qcow2' });
    },
  },
  raw: {
    key: 'metal',
    suffix: 'metal.raw',
    description: 'raw disk image (dd to a disk; sparse on the host)',
    async convert(raw, out, keepRaw) {
      if (keepRaw) await run('cp', ['--sparse=always', raw, out], { purpose: 'copy the raw image' });
      else renameSync(raw, out);
    },
  },
  pxe: {
    key: 'pxe',
    suffix: 'live-*',
    description: 'PXE: live kernel, initramfs (network, live root, installer), squashfs rootfs, iPXE script, and metal.raw.zst for the installer (docs/pxe.md)',
    produce: (ctx) => buildPxe({ repo: ctx.repo, commit: ctx.commit, buildDir: ctx.buildDir, prefix: ctx.prefix, raw: ctx.raw }, ctx.cleanup),
  },
};

/** `all` is every format. Multi-file formats first: they read the raw disk, which the last single-file format may move. */
export function expandFormats(names: readonly string[]): string[] {
  const all = [...new Set(names.flatMap((n) => (n === 'all' ? Object.keys(FORMATS) : [n])))];
  return [...all.filter((n) => FORMATS[n]?.produce), ...all.filter((n) => !FORMATS[n]?.produce)];
}

export function validateFormats(names: readonly string[]): void {
  const bad = names.filter((n) => n !== 'all' && !(n in FORMATS));
  if (bad.length) throw new UserError(`unknown image format${bad.length > 1 ? 's' : ''}: ${bad.join(', ')}`, `known formats: ${Object.keys(FORMATS).join(', ')}, all`);
}
