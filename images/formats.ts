/**
 * Output formats: one function per format, in a registry (linuxkit's outFuns). Every format starts from the raw
 * disk that images/disk.ts made. Names are checked before any work (validateFormats).
 */
import { renameSync } from 'node:fs';
import { run } from '../lib/run.js';
import { UserError } from '../lib/errors.js';

export interface FormatSpec {
  /** meta.json images.<key> (cosa names: qemu, metal). */
  key: string;
  /** File name suffix: fcos-<version>-<suffix>. */
  suffix: string;
  description: string;
  /** Turn the finished raw image at `raw` into `out`. `keepRaw`: the raw file is still needed afterwards. */
  convert(raw: string, out: string, keepRaw: boolean): Promise<void>;
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
};

export function validateFormats(names: readonly string[]): void {
  const bad = names.filter((n) => !(n in FORMATS));
  if (bad.length) throw new UserError(`unknown image format${bad.length > 1 ? 's' : ''}: ${bad.join(', ')}`, `known formats: ${Object.keys(FORMATS).join(', ')}`);
}
