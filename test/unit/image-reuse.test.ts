/** `fcos build` reuses a build's images only when everything they were made from is the same (images/build.ts). */
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageCodeDigest, imageInputs, reusableImages, type ImageBuildRecord } from '../../images/build.js';

function buildDir(record: Partial<ImageBuildRecord> | undefined, files: Record<string, string> = { 'a-qemu.qcow2': 'qcow2 bytes', 'a-metal.raw': 'raw' }) {
  const d = made(mkdtempSync(join(tmpdir(), 'fcos-reuse-')));
  for (const [f, body] of Object.entries(files)) writeFileSync(join(d, f), body);
  const meta = {
    buildid: 'a',
    images: { qemu: { path: 'a-qemu.qcow2', sha256: 'x', size: 11 }, metal: { path: 'a-metal.raw', sha256: 'y', size: 3 } },
    ...(record ? { 'fcos.image-build': { inputs: 'IN', formats: { qcow2: ['qemu'], raw: ['metal'] }, firmware: 'both', kernelArguments: ['k'], deployment: 'd', bootEntries: [], ...record } } : {}),
  };
  writeFileSync(join(d, 'meta.json'), JSON.stringify(meta));
  return d;
}

/** Temp dirs made here, removed after the file. */
const dirs: string[] = [];
const made = (d: string) => (dirs.push(d), d);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('image reuse', () => {
  it('same inputs and every asked format present: reused, with the recorded images', () => {
    const r = reusableImages(buildDir({}), 'IN', ['qcow2']);
    expect(r?.images).toEqual({ qemu: { path: 'a-qemu.qcow2', sha256: 'x', size: 11 } });
    expect(reusableImages(buildDir({}), 'IN', ['qcow2', 'raw'])?.images).toHaveProperty('metal');
  });
  it('other inputs, a format never built, a missing or changed file, or no record: built again', () => {
    expect(reusableImages(buildDir({}), 'OTHER', ['qcow2'])).toBeUndefined();
    expect(reusableImages(buildDir({}), 'IN', ['qcow2', 'pxe'])).toBeUndefined();
    expect(reusableImages(buildDir({}, { 'a-metal.raw': 'raw' }), 'IN', ['qcow2'])).toBeUndefined();
    expect(reusableImages(buildDir({}, { 'a-qemu.qcow2': 'truncated', 'a-metal.raw': 'raw' }), 'IN', ['qcow2'])).toBeUndefined();
    expect(reusableImages(buildDir(undefined), 'IN', ['qcow2'])).toBeUndefined();
    expect(reusableImages(join(tmpdir(), 'no-such-build-dir-fcos'), 'IN', ['qcow2'])).toBeUndefined();
  });
  it('the inputs digest changes with the config, the firmware, the commit, the kernel arguments and the image code', () => {
    const base = { config: '{"ignition":{"version":"3.3.0"}}', firmware: 'both' as const, commit: 'c'.repeat(64), kernelArguments: ['a=1'], code: 'X' };
    const d = imageInputs(base);
    expect(imageInputs({ ...base })).toBe(d);
    for (const change of [{ config: '{}' }, { firmware: 'bios' as const }, { commit: 'd'.repeat(64) }, { kernelArguments: ['a=2'] }, { code: 'Y' }]) {
      expect(imageInputs({ ...base, ...change })).not.toBe(d);
    }
  });
  it('the image code digest covers every file under the directory', () => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-code-'));
    mkdirSync(join(d, 'pxe'));
    writeFileSync(join(d, 'build.js'), 'a');
    writeFileSync(join(d, 'pxe', 'x.js'), 'b');
    const one = imageCodeDigest([d]);
    writeFileSync(join(d, 'pxe', 'x.js'), 'c');
    expect(imageCodeDigest([d])).not.toBe(one);
    expect(imageCodeDigest()).toMatch(/^[0-9a-f]{64}$/);
  });
});
