/**
 * PXE (issue #7), under TCG, through the real CLI: `fcos build --format all`, then `fcos pxe serve` (a subprocess)
 * with per-machine configs, and disk-less VMs that boot from QEMU's iPXE ROM (user-net TFTP boot.ipxe → HTTP).
 *   pxe-live        (1 boot)  MAC 01: kernel, initramfs, rootfs and config from the server; Ignition applied the
 *                             served config (hostname, a file, the SSH key); / is the live RAM root (tmpfs)
 *   per-machine     (1 boot)  MAC 02: another hostname from the same server
 *   pxe-install     (2 boots) MAC 05, 8 GiB empty disk: installs, reboots (QEMU stops: -no-reboot), then boots
 *                             from the disk with no network boot: config applied, ostree deployment booted
 *   errors          (3 boots, stopped as soon as the message shows) a config that fails validation (refused by the
 *                             server, shown by the initramfs), an install to a missing device, a rootfs whose
 *                             sha256 does not match
 * Budget: 7 boots. The whole file is describe.skip until it has passed here (see below and docs/pxe.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Vm } from '../../qemu/vm.js';
import { freePort } from '../../qemu/net.js';
import { pxeChainScript } from '../../qemu/run.js';

const ROOT = resolve(__dirname, '../..');
const FCOS = join(ROOT, 'bin', 'fcos');
const B = process.env.FCOS_E2E_BOOT_BUILDS ?? '/var/tmp/fcos-e2e-boot/builds';
const OUT = join(ROOT, 'tmp', 'fcos-test', 'pxe');
const MIN = 60_000;
const MEM = 3072;

const MAC = {
  one: '52:54:00:fc:05:01',
  two: '52:54:00:fc:05:02',
  bad: '52:54:00:fc:05:03',
  nodev: '52:54:00:fc:05:04',
  install: '52:54:00:fc:05:05',
  badsha: '52:54:00:fc:05:06',
};
const hyp = (m: string) => m.replace(/:/g, '-');

let work: string;
let key: string;
let pub: string;
let serve: ResultPromise | undefined;
let port: number;
let meta: { images: Record<string, { path: string; sha256: string; size: number }> };

function config(hostname: string): object {
  return {
    ignition: { version: '3.3.0' },
    passwd: { users: [{ name: 'core', sshAuthorizedKeys: [pub], groups: ['sudo'] }] },
    storage: {
      files: [
        { path: '/etc/hostname', mode: 0o644, overwrite: true, contents: { source: `data:,${hostname}` } },
        { path: '/etc/fcos-pxe/hello.txt', mode: 0o640, contents: { source: `data:,served%20to%20${hostname}` } },
        { path: '/etc/sudoers.d/fcos-test-core', mode: 0o440, contents: { source: 'data:,core%20ALL%3D(ALL)%20NOPASSWD%3A%20ALL%0A' } },
      ],
    },
  };
}

async function startVm(name: string, mac: string, o: { disk?: boolean; netboot?: boolean; persistDisk?: string; noReboot?: boolean } = {}): Promise<Vm> {
  const dir = join(OUT, name);
  if (o.netboot !== false) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'tftp'), { recursive: true });
    writeFileSync(join(dir, 'tftp', 'boot.ipxe'), pxeChainScript(`http://10.0.2.2:${port}`));
  }
  return Vm.start({
    name,
    dir,
    accel: 'tcg',
    memoryMiB: MEM,
    mac,
    ssh: { key },
    netboot: o.netboot === false ? undefined : { tftp: join(dir, 'tftp'), bootfile: 'boot.ipxe' },
    emptyDiskGiB: o.disk ? 8 : undefined,
    disk: o.persistDisk ? { path: o.persistDisk, format: 'qcow2' } : undefined,
    persist: !!o.persistDisk,
    noReboot: o.noReboot,
    // The error cases stop in the initramfs on purpose.
    ignoreConsole: [/.*/],
  });
}

/** Boot a machine that must stop with `re` on its console (a cheap failure: no SSH wait). */
async function expectConsole(name: string, mac: string, re: RegExp, o: { disk?: boolean } = {}): Promise<string> {
  const vm = await startVm(name, mac, o);
  try {
    return await vm.waitForConsole(re, 12 * MIN, { consoleFailures: false });
  } finally {
    await vm.kill();
  }
}

// Skipped as a whole (no build in CI) until it has passed on the development machine. Last run (04:12 UTC, 13 min):
// pxe-live booted from `fcos pxe serve`, SSH with the served key worked and the hostname was the served one; it then
// failed on the test's own mistake (reading a 0640 root file without sudo, fixed since). The other tests were not run.
describe.skip('PXE (TCG)', () => {
  beforeAll(async () => {
    mkdirSync(B, { recursive: true });
    const r = await execa(FCOS, ['build', '--ignition', join(ROOT, 'examples', 'config.ign'), '--format', 'all', '--builds', B, '--json'], { reject: false });
    if (r.exitCode !== 0) throw new Error(`fcos build failed (exit ${r.exitCode}):\n${r.stderr.slice(-4000)}`);
    meta = JSON.parse(readFileSync(join(B, 'latest', 'meta.json'), 'utf8'));
    for (const k of ['live-kernel', 'live-initramfs', 'live-rootfs', 'metal-zst', 'live-ipxe']) {
      const i = meta.images[k];
      expect(i, `meta.json images.${k}`).toBeDefined();
      expect(i!.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(i!.size).toBeGreaterThan(0);
      expect(existsSync(join(B, 'latest', i!.path))).toBe(true);
    }
    // The builds dir is kept between runs: drop the big files of older builds.
    const latest = realpathSync(join(B, 'latest'));
    for (const d of readdirSync(B, { withFileTypes: true })) {
      const dir = join(B, d.name);
      if (!d.isDirectory() || d.name === 'repo' || d.name.startsWith('.') || realpathSync(dir) === latest) continue;
      for (const f of readdirSync(dir)) if (/\.(qcow2|raw|zst)$|live-(kernel|initramfs)/.test(f)) rmSync(join(dir, f), { force: true });
    }

    mkdirSync(OUT, { recursive: true });
    work = mkdtempSync(join(OUT, 'srv-'));
    key = join(work, 'id_ed25519');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fcos-pxe-test', '-f', key]);
    pub = readFileSync(key + '.pub', 'utf8').trim();
    const cfg = join(work, 'machines');
    mkdirSync(cfg);
    writeFileSync(join(cfg, 'default.ign'), JSON.stringify(config('pxe-default')));
    writeFileSync(join(cfg, `${hyp(MAC.one)}.ign`), JSON.stringify(config('pxe-one')));
    writeFileSync(join(cfg, `${hyp(MAC.two)}.ign`), JSON.stringify(config('pxe-two')));
    writeFileSync(join(cfg, `${hyp(MAC.install)}.ign`), JSON.stringify(config('pxe-installed')));
    writeFileSync(join(cfg, `${hyp(MAC.install)}.kargs`), 'fcos.inst.install_dev=/dev/vda\n');
    writeFileSync(join(cfg, `${hyp(MAC.nodev)}.kargs`), 'fcos.inst.install_dev=/dev/vdz\n');
    // A relative path: Ignition (and so fcos) refuses it.
    writeFileSync(join(cfg, `${hyp(MAC.bad)}.ign`), JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files: [{ path: 'etc/not-absolute', contents: { source: 'data:,x' } }] } }));
    // A rootfs that does not match: the machine is told another sha256 (the last rootfs_sha256 on the command line wins).
    writeFileSync(join(cfg, `${hyp(MAC.badsha)}.kargs`), `fcos.live.rootfs_sha256=${'0'.repeat(64)}\n`);

    port = await freePort();
    serve = execa(FCOS, ['pxe', 'serve', '--builds', B, '--ignition-dir', cfg, '--http-port', String(port), '--listen', '127.0.0.1'], { reject: false, all: true, buffer: true });
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/boot.ipxe`).then((r) => r.ok, () => false);
      if (ok) break;
      if (serve.exitCode !== null && serve.exitCode !== undefined) throw new Error('fcos pxe serve exited');
      await new Promise((r) => setTimeout(r, 300));
    }
  }, 40 * MIN);

  afterAll(async () => {
    serve?.kill('SIGTERM');
    await serve?.catch(() => undefined);
  });

  it('pxe-live: a disk-less VM boots kernel, initramfs, rootfs and config from fcos pxe serve', async () => {
    const vm = await startVm('pxe-live', MAC.one);
    try {
      await vm.waitForSsh(15 * MIN);
      expect((await vm.sshOk('hostname')).trim()).toBe('pxe-one');
      expect((await vm.sshOk('sudo cat /etc/fcos-pxe/hello.txt')).trim()).toBe('served to pxe-one');
      // Logged in with the key from the served config: the SSH key landed.
      expect(await vm.sshOk('cat ~/.ssh/authorized_keys ~/.ssh/authorized_keys.d/* 2>/dev/null; true')).toContain(pub.split(' ')[1]);
      expect((await vm.sshOk('findmnt -no FSTYPE /')).trim()).toBe('tmpfs');
      expect((await vm.sshOk('findmnt -no SOURCE /')).trim()).toBe('fcos-live-root');
      const cmdline = await vm.sshOk('cat /proc/cmdline');
      expect(cmdline).toContain(`fcos.live.rootfs_sha256=${meta.images['live-rootfs']!.sha256}`);
      expect(cmdline).toMatch(/ignition\.config\.url=http:\/\/10\.0\.2\.2:\d+\/ignition\?mac=52-54-00-fc-05-01/);
      expect(await vm.sshOk('lsblk -dn -o TYPE | grep -c disk || true')).toMatch(/^0/);
      expect(vm.consoleText()).toContain('fcos-live: rootfs image sha256 verified');
    } finally {
      await vm.kill();
    }
  }, 20 * MIN);

  it('pxe-install: installs to an empty disk, reboots from it without network boot', async () => {
    const inst = await startVm('pxe-install', MAC.install, { disk: true, noReboot: true });
    // The installer reboots when done; with -no-reboot QEMU stops instead.
    await inst.waitExit(25 * MIN);
    const text = inst.consoleText();
    expect(text).toContain('fcos-install: install complete: /dev/vda is bootable');
    expect(text).toContain('fcos-install: image sha256 verified');
    expect(text).toContain('fcos-install: Ignition config embedded');
    const disk = join(OUT, 'pxe-install', 'disk.qcow2');
    const vm = await startVm('pxe-install', MAC.install, { netboot: false, persistDisk: disk });
    try {
      await vm.waitForSsh(15 * MIN);
      expect((await vm.sshOk('hostname')).trim()).toBe('pxe-installed');
      expect((await vm.sshOk('sudo cat /etc/fcos-pxe/hello.txt')).trim()).toBe('served to pxe-installed');
      const status = await vm.sshOk('sudo ostree admin status');
      expect(status.split('\n').filter((l) => l.startsWith('* '))).toHaveLength(1);
      expect(await vm.sshOk('cat /proc/cmdline')).toMatch(/\bostree=\/ostree\/boot\./);
      expect((await vm.sshOk('findmnt -no SOURCE /sysroot')).trim()).toMatch(/^\/dev\/vda4/);
      // The served config replaced the image's own; it is removed after the first boot, like FCOS.
      expect((await vm.ssh('sudo test -e /boot/ignition/config.ign')).exitCode).not.toBe(0);
    } finally {
      await vm.kill();
    }
  }, 40 * MIN);

  it('errors: a config that fails validation is refused, and the console says why', async () => {
    const line = await expectConsole('pxe-bad-config', MAC.bad, /fcos-live: ERROR: the config server refused/);
    expect(line).toContain('refused');
    const text = readFileSync(join(OUT, 'pxe-bad-config', 'console.txt'), 'utf8');
    expect(text).toMatch(/fcos-live: config refused: .*(absolute|relative)/i);
  }, 15 * MIN);

  it('errors: an install to a missing device stops before writing anything', async () => {
    const line = await expectConsole('pxe-no-device', MAC.nodev, /fcos-install: ERROR: install device \/dev\/vdz does not exist/, { disk: true });
    expect(line).toContain('nothing was written');
  }, 15 * MIN);

  it('errors: a rootfs image with the wrong sha256 is not booted', async () => {
    const line = await expectConsole('pxe-bad-sha', MAC.badsha, /fcos-live: ERROR: rootfs image sha256 mismatch/);
    expect(line).toContain(`expected ${'0'.repeat(64)}`);
  }, 15 * MIN);


  it('per-machine configs: a second MAC gets its own hostname from the same server', async () => {
    const vm = await startVm('pxe-two', MAC.two);
    try {
      await vm.waitForSsh(15 * MIN);
      expect((await vm.sshOk('hostname')).trim()).toBe('pxe-two');
      expect((await vm.sshOk('sudo cat /etc/fcos-pxe/hello.txt')).trim()).toBe('served to pxe-two');
    } finally {
      await vm.kill();
    }
  }, 20 * MIN);
});
