import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandFormats, FORMATS, validateFormats } from '../../images/formats.js';
import { ipxeScript, pxeDracutArgs, PXE_DRACUT_ADD } from '../../images/pxe.js';
import { machineFile, normalizeMac, startPxeServer, type PxeServer } from '../../images/pxe-serve.js';
import { PXE_MEMORY_MIB, pxeChainScript, runMemoryMiB } from '../../qemu/run.js';
import { UserError } from '../../lib/errors.js';

describe('pxe format', () => {
  it('is registered, accepted with all, and runs before the single-file formats', () => {
    expect(FORMATS.pxe!.produce).toBeTypeOf('function');
    expect(() => validateFormats(['all'])).not.toThrow();
    expect(() => validateFormats(['pxe', 'iso'])).toThrow(/unknown image format: iso/);
    expect(expandFormats(['qcow2', 'pxe'])).toEqual(['pxe', 'qcow2']);
    expect(expandFormats(['all'])).toEqual(['pxe', 'qcow2', 'raw']);
    expect(expandFormats(['raw', 'all', 'raw'])).toEqual(['pxe', 'raw', 'qcow2']);
  });

  it('the PXE initramfs has the live module on top of ostree, ignition and network', () => {
    const a = pxeDracutArgs('6.12.0-1-cloud-amd64', '/tmp/out.img');
    expect(a[a.indexOf('--add') + 1]).toBe(PXE_DRACUT_ADD.join(' '));
    expect(PXE_DRACUT_ADD).toEqual(expect.arrayContaining(['ostree', 'ignition', 'fcos-live', 'systemd-networkd']));
    expect(a[a.indexOf('--add-drivers') + 1]).toMatch(/\bsquashfs\b.*\boverlay\b.*\bloop\b/);
    expect(a.slice(-3)).toEqual(['--kver', '6.12.0-1-cloud-amd64', '/tmp/out.img']);
  });
});

describe('ipxeScript', () => {
  const files = { kernel: 'k', initramfs: 'i.img', rootfs: 'r.squashfs' };
  it('live: rootfs URL and sha256, Ignition first boot on metal with the config URL', () => {
    const s = ipxeScript({ base: 'http://h:1/assets/', files, rootfsSha256: 'ab12', configUrl: 'http://h:1/ignition?mac=52-54-00-00-00-01' });
    const lines = s.trim().split('\n');
    expect(lines[0]).toBe('#!ipxe');
    expect(lines[1]).toBe(
      'kernel http://h:1/assets/k initrd=main fcos.live.rootfs_url=http://h:1/assets/r.squashfs fcos.live.rootfs_sha256=ab12 ignition.firstboot ignition.platform.id=metal ignition.config.url=http://h:1/ignition?mac=52-54-00-00-00-01 console=ttyS0,115200n8',
    );
    expect(lines[2]).toBe('initrd --name main http://h:1/assets/i.img');
    expect(lines[3]).toBe('boot');
  });
  it('install: install device, image URL and sha256, config URL; no live root, no Ignition in the installer', () => {
    const s = ipxeScript({ base: 'http://h/a', files, install: { dev: '/dev/vda', imageUrl: 'http://h/a/m.zst', imageSha256: 'cd', ignitionUrl: 'http://h/ign' }, extraArgs: ['x=1'] });
    const k = s.split('\n')[1]!;
    expect(k).toContain('fcos.inst.install_dev=/dev/vda fcos.inst.image_url=http://h/a/m.zst fcos.inst.image_sha256=cd fcos.inst.ignition_url=http://h/ign');
    expect(k).not.toMatch(/rootfs_url|ignition\.firstboot/);
    expect(k.endsWith('console=ttyS0,115200n8 x=1')).toBe(true);
  });
  it('the TFTP boot file chains to the per-machine script', () => {
    expect(pxeChainScript('http://10.0.2.2:8080/')).toBe('#!ipxe\nchain http://10.0.2.2:8080/ipxe?mac=${mac:hexhyp}\n');
  });
  it('fcos run --pxe gets 3072 MiB unless -m says otherwise (the live root is copied into RAM); a disk boot keeps the default', () => {
    expect(PXE_MEMORY_MIB).toBe(3072);
    expect(runMemoryMiB({ pxe: { url: 'http://10.0.2.2:8080' } })).toBe(3072);
    expect(runMemoryMiB({ pxe: { url: 'http://10.0.2.2:8080' }, memoryMiB: 4096 })).toBe(4096);
    expect(runMemoryMiB({})).toBeUndefined();
    expect(runMemoryMiB({ memoryMiB: 1024 })).toBe(1024);
  });
});

describe('machine selection', () => {
  it('normalizes MACs to iPXE hexhyp', () => {
    expect(normalizeMac('52:54:00:AB:cd:01')).toBe('52-54-00-ab-cd-01');
    expect(normalizeMac('52-54-00-ab-cd-01')).toBe('52-54-00-ab-cd-01');
    expect(normalizeMac('../etc/passwd')).toBeUndefined();
    expect(normalizeMac('52-54-00-ab-cd')).toBeUndefined();
    expect(normalizeMac(null)).toBeUndefined();
  });
  it('picks <mac>.<ext>, then default.<ext>', () => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-pxe-unit-'));
    try {
      writeFileSync(join(d, '52-54-00-00-00-01.ign'), '{}');
      writeFileSync(join(d, 'default.bu'), '');
      expect(machineFile(d, '52-54-00-00-00-01', ['ign', 'bu'])).toBe(join(d, '52-54-00-00-00-01.ign'));
      expect(machineFile(d, '52-54-00-00-00-02', ['ign', 'bu'])).toBe(join(d, 'default.bu'));
      expect(machineFile(d, undefined, ['kargs'])).toBeUndefined();
      expect(machineFile(undefined, '52-54-00-00-00-01', ['ign'])).toBeUndefined();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('pxe serve (HTTP)', () => {
  let dir: string;
  let srv: PxeServer;
  const get = async (path: string) => {
    const r = await fetch(srv.url + path);
    return { status: r.status, text: await r.text() };
  };
  const MAC1 = '52-54-00-00-00-01';
  const MAC2 = '52-54-00-00-00-02';
  const BAD = '52-54-00-00-00-0b';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fcos-pxe-serve-'));
    const b = join(dir, 'builds', '1.0');
    mkdirSync(b, { recursive: true });
    const img = (p: string, sha: string) => ({ path: p, sha256: sha, size: 3 });
    writeFileSync(
      join(b, 'meta.json'),
      JSON.stringify({
        buildid: '1.0',
        images: {
          'live-kernel': img('fcos-1.0-live-kernel', 'k1'),
          'live-initramfs': img('fcos-1.0-live-initramfs.img', 'i1'),
          'live-rootfs': img('fcos-1.0-live-rootfs.squashfs', 'r1'),
          'metal-zst': img('fcos-1.0-metal.raw.zst', 'z1'),
        },
      }),
    );
    writeFileSync(join(b, 'fcos-1.0-live-kernel'), 'KER');
    writeFileSync(join(b, 'secret.txt'), 'no');
    symlinkSync('1.0', join(dir, 'builds', 'latest'));
    const cfg = join(dir, 'cfg');
    mkdirSync(cfg);
    const host = (h: string) => JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files: [{ path: '/etc/hostname', mode: 420, contents: { source: `data:,${h}` } }] } });
    writeFileSync(join(cfg, `${MAC1}.ign`), host('one'));
    writeFileSync(join(cfg, 'default.ign'), host('dflt'));
    writeFileSync(join(cfg, `${MAC2}.kargs`), 'fcos.inst.install_dev=/dev/vda\n');
    // A relative path: Ignition refuses it; so must the server.
    writeFileSync(join(cfg, `${BAD}.ign`), JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files: [{ path: 'etc/relative' }] } }));
    srv = await startPxeServer({ buildsDir: join(dir, 'builds'), ignitionDir: cfg, listen: '127.0.0.1', port: 0, log: () => undefined });
  });
  afterAll(async () => {
    await srv?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('boot.ipxe chains to the per-machine script at the advertised URL', async () => {
    const r = await get('/boot.ipxe');
    expect(r.text).toBe(`#!ipxe\nchain http://10.0.2.2:${srv.port}/ipxe?mac=\${mac:hexhyp}\n`);
  });
  it('a live machine gets the rootfs sha256 and its own config URL', async () => {
    const r = await get(`/ipxe?mac=${MAC1}`);
    expect(r.status).toBe(200);
    expect(r.text).toContain(`fcos.live.rootfs_url=http://10.0.2.2:${srv.port}/assets/fcos-1.0-live-rootfs.squashfs fcos.live.rootfs_sha256=r1`);
    expect(r.text).toContain(`ignition.config.url=http://10.0.2.2:${srv.port}/ignition?mac=${MAC1}`);
  });
  it('a machine with install kargs gets the installer with the image sha256', async () => {
    const r = await get(`/ipxe?mac=${MAC2}`);
    expect(r.text).toContain(`fcos.inst.install_dev=/dev/vda fcos.inst.image_url=http://10.0.2.2:${srv.port}/assets/fcos-1.0-metal.raw.zst fcos.inst.image_sha256=z1`);
    expect(r.text).not.toContain('rootfs_url');
  });
  it('configs by MAC, with a default', async () => {
    expect(JSON.parse((await get(`/ignition?mac=${MAC1}`)).text).storage.files[0].contents.source).toBe('data:,one');
    expect(JSON.parse((await get(`/ignition?mac=52:54:00:00:00:99`)).text).storage.files[0].contents.source).toBe('data:,dflt');
  });
  it('a config that fails validation is refused with 403 and the reason', async () => {
    const r = await get(`/ignition?mac=${BAD}`);
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/fcos pxe serve: .*cannot be used/);
    expect(r.text).toMatch(/absolute|relative/i);
  });
  it('serves only the build artifacts listed in meta.json', async () => {
    expect(await get('/assets/fcos-1.0-live-kernel')).toEqual({ status: 200, text: 'KER' });
    expect((await get('/assets/secret.txt')).status).toBe(404);
    expect((await get('/assets/..%2Fmeta.json')).status).toBe(404);
  });
  it('refuses a build without PXE artifacts, and nothing to serve', async () => {
    await expect(startPxeServer({ buildsDir: join(dir, 'nope'), ignition: '/dev/null' })).rejects.toThrow(UserError);
    await expect(startPxeServer({ buildsDir: join(dir, 'builds') })).rejects.toThrow(/--ignition/);
  });
});
