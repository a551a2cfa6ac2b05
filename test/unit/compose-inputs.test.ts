import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, inputHash, inputParts, packagesDigest, treeDigest } from '../../ostree/inputs.js';
import { parseManifest } from '../../ostree/manifest.js';
import { acquireLock, addBuild, nextSerial, readBuildsJson, readLatestBuild, setLatest, updateMeta, writeMeta, type BuildMeta } from '../../ostree/builds.js';
import { dracutArgs } from '../../ostree/initramfs.js';
import { mountsUnder } from '../../ostree/workdir.js';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

describe('input hashing', () => {
  it('canonicalJson sorts keys and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: undefined, c: 'x' }] })).toBe('{"a":[2,{"c":"x"}],"b":1}');
  });

  it('treeDigest sees content, mode and symlink changes but not mtimes or .keep', () => {
    const d = tmp('fcos-digest-');
    mkdirSync(join(d, 'etc'));
    writeFileSync(join(d, 'etc/a'), 'one');
    const h0 = treeDigest(d);
    writeFileSync(join(d, '.keep'), '');
    expect(treeDigest(d)).toBe(h0);
    writeFileSync(join(d, 'etc/a'), 'one');
    expect(treeDigest(d)).toBe(h0);
    chmodSync(join(d, 'etc/a'), 0o755);
    const h1 = treeDigest(d);
    expect(h1).not.toBe(h0);
    writeFileSync(join(d, 'etc/a'), 'two');
    expect(treeDigest(d)).not.toBe(h1);
    symlinkSync('a', join(d, 'etc/b'));
    const h2 = treeDigest(d);
    expect(h2).not.toBe(h1);
    expect(treeDigest(undefined)).toBe(treeDigest(join(d, 'missing')));
  });

  it('the input hash changes with the manifest, an overlay, a package version, SOURCE_DATE_EPOCH', () => {
    const m = parseManifest('packages: [systemd]\n');
    const o = tmp('fcos-ov-');
    const base = { manifest: m, overlayDirs: [undefined, o], packages: { systemd: '257-1', kmod: '34-2' }, fcosVersion: '0.1.0', sourceDateEpoch: 1 };
    const h = inputHash(inputParts(base));
    expect(inputHash(inputParts({ ...base, packages: { kmod: '34-2', systemd: '257-1' } }))).toBe(h);
    expect(inputHash(inputParts({ ...base, manifest: parseManifest('packages: [systemd, kmod]\n') }))).not.toBe(h);
    expect(inputHash(inputParts({ ...base, packages: { systemd: '257-2', kmod: '34-2' } }))).not.toBe(h);
    expect(inputHash(inputParts({ ...base, sourceDateEpoch: 2 }))).not.toBe(h);
    writeFileSync(join(o, 'x'), 'y');
    expect(inputHash(inputParts(base))).not.toBe(h);
    expect(packagesDigest({ a: '1', b: '2' })).toBe(packagesDigest({ b: '2', a: '1' }));
  });
});

function meta(id: string): BuildMeta {
  return {
    buildid: id,
    name: 'fcos',
    ref: 'fcos/trixie/x86_64/stable',
    'ostree-commit': 'a'.repeat(64),
    'ostree-timestamp': '2025-10-09T00:00:00Z',
    'ostree-version': id,
    'coreos-assembler.image-input-checksum': 'h',
    'fcos.input-hash': 'h',
    'fcos.inputs': { manifest: '', overlays: '', packages: '', compose: '' },
    'source-date-epoch': 1,
    'build-time': '',
    suite: 'trixie',
    architecture: 'amd64',
    'kernel-version': 'k',
    'kernel-arguments': [],
    'image-size': '8G',
    packages: { systemd: '257' },
    images: {},
  };
}

describe('builds directory', () => {
  it('builds.json newest first, latest symlink, readLatestBuild, updateMeta merges images', () => {
    const b = tmp('fcos-builds-');
    expect(readLatestBuild(b)).toBeUndefined();
    for (const id of ['13.20251009.0', '13.20251009.1']) {
      mkdirSync(join(b, id));
      writeMeta(join(b, id), meta(id));
      addBuild(b, id);
      setLatest(b, id);
    }
    const j = readBuildsJson(b);
    expect(j['schema-version']).toBe('1.0.0');
    expect(j.builds).toEqual([
      { id: '13.20251009.1', arches: ['x86_64'] },
      { id: '13.20251009.0', arches: ['x86_64'] },
    ]);
    expect(readlinkSync(join(b, 'latest'))).toBe('13.20251009.1');
    const l = readLatestBuild(b)!;
    expect(l.id).toBe('13.20251009.1');
    updateMeta(l.dir, { images: { qemu: { path: 'x.qcow2', sha256: 's', size: 1 } } });
    updateMeta(l.dir, { images: { metal: { path: 'x.raw', sha256: 't', size: 2 } } });
    const m2 = JSON.parse(readFileSync(join(l.dir, 'meta.json'), 'utf8'));
    expect(Object.keys(m2.images).sort()).toEqual(['metal', 'qemu']);
    expect(m2.packages).toEqual({ systemd: '257' });
    expect(nextSerial(b, (s) => `13.20251009.${s}`)).toBe(2);
    expect(nextSerial(b, (s) => `13.20251010.${s}`)).toBe(0);
    // A forked builds dir holds only its source's latest build: the next version comes after it, never below.
    mkdirSync(join(b, '13.20251011.6'));
    expect(nextSerial(b, (s) => `13.20251011.${s}`)).toBe(7);
  });

  it('the lock refuses a live holder and takes over a dead one', () => {
    const b = tmp('fcos-lock-');
    const release = acquireLock(b);
    expect(readFileSync(join(b, '.lock'), 'utf8').trim()).toBe(String(process.pid));
    // Pretend another live process (pid 1) holds it.
    writeFileSync(join(b, '.lock'), '1\n');
    expect(() => acquireLock(b)).toThrow(/another compose \(pid 1\)/);
    // A dead pid: taken over.
    writeFileSync(join(b, '.lock'), '999999999\n');
    const r2 = acquireLock(b);
    expect(readFileSync(join(b, '.lock'), 'utf8').trim()).toBe(String(process.pid));
    r2();
    expect(existsSync(join(b, '.lock'))).toBe(false);
    release();
  });
});

describe('dracut and mounts', () => {
  it('dracutArgs follow the initramfs section', () => {
    const m = parseManifest('packages: [systemd]\ninitramfs:\n  modules: [qemu]\n  omit: [plymouth, nfs]\n  drivers: [virtio_blk]\n  compress: gzip\n  args: ["--early-microcode"]\n');
    const a = dracutArgs(m.initramfs, '6.12');
    expect(a).toContain('--no-hostonly');
    expect(a).toContain('--reproducible');
    expect(a[a.indexOf('--add') + 1]).toBe('ostree ignition qemu');
    expect(a[a.indexOf('--omit') + 1]).toBe('plymouth nfs');
    expect(a[a.indexOf('--add-drivers') + 1]).toBe('virtio_blk');
    expect(a).toContain('--gzip');
    expect(a).toContain('--early-microcode');
    expect(a.slice(-3)).toEqual(['--kver', '6.12', '/usr/lib/modules/6.12/initramfs.img']);
    expect(dracutArgs(parseManifest('packages: [systemd]\n').initramfs, 'k')).toContain('--zstd');
  });
  it('mountsUnder finds mount points below a directory', () => {
    expect(mountsUnder('/')).toContain('/');
    expect(mountsUnder(tmp('fcos-nomounts-'))).toEqual([]);
  });
});
