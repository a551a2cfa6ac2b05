/**
 * PXE (issue #7), under TCG, through the real CLI: `fcos build --format all`, then `fcos pxe serve` (a subprocess)
 * with per-machine configs, and disk-less VMs that boot from QEMU's iPXE ROM (user-net TFTP boot.ipxe → HTTP).
 *   pxe-live        (1 boot)  MAC 01, started by the real `fcos run --pxe --detach` (its default memory, 3072 MiB)
 *                             and reached with the ssh line it prints: kernel, initramfs, rootfs and config from the
 *                             server; Ignition applied the served config (hostname, a file, the SSH keys); / is the
 *                             live RAM root (tmpfs); no failed unit, a clean console; `kill PID` stops it
 *   pxe-install     (3 boots) MAC 05, 8 GiB empty disk: installs (only the image's data regions: the disk's
 *                             allocated extents stay far below 8 GiB), reboots (QEMU stops: -no-reboot), then boots
 *                             from the disk with no network boot: config applied, ostree deployment booted; then
 *                             takes an upgrade (a layered v2 composed into a copy of the builds dir, published by
 *                             `fcos serve`) and reboots into it; no failed unit and a clean console on both boots
 *   per-machine     (0 boots) the live VM (MAC 01) and the installed VM (MAC 05) got different hostnames from the
 *                             one server; a third MAC gets the default config (checked over HTTP)
 *   errors          (3 boots, stopped once the boot has stopped) a config that fails validation (refused by the
 *                             server, shown by the initramfs), an install to a missing device (its disk has no
 *                             data extent: `qemu-img map`), a rootfs whose sha256 does not match (a small served
 *                             file, the live kernel, in place of the rootfs: the same check without a 350 MB TCG
 *                             download); each: the message, then emergency mode, nothing booting on after it, no SSH
 *   fcos run        (1 boot)  the real `fcos run -i CONFIG --detach` of B's latest default image: the printed ssh
 *                             line logs in with the key fcos run added to the config, the config applied, no failed
 *                             unit, a clean console; `kill PID` stops it
 * Budget: 8 boots, 3 of them cut short in the initramfs (those three at the same time, one vCPU each).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, execaSync, type ResultPromise } from 'execa';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Vm } from '../../qemu/vm.js';
import { freePort } from '../../qemu/net.js';
import { pxeChainScript, runKey } from '../../qemu/run.js';
import { ConsoleScanner, describeFailure } from '../../qemu/console.js';
import { sshExec } from '../../qemu/ssh.js';
import { shellQuote } from '../../lib/run.js';
import { derivedManifest } from '../../ostree/manifest.js';
import { BOOT_BUILDS, buildDefaultImage, FCOS, ROOT } from './fcos-cli.js';

const B = BOOT_BUILDS;
const OUT = join(ROOT, 'tmp', 'fcos-test', 'pxe');
/**
 * The upgrade source of the installed machine: a copy of B (repo hard-linked, same signing key) that gets a layered
 * v2. B itself is shared with the boot and cluster tests: its repo and `latest` are never changed here.
 */
const U = `${B.replace(/\/+$/, '')}-pxe-upgrade`;
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
let meta: { images: Record<string, { path: string; sha256: string; size: number }>; 'ostree-version': string; 'ostree-commit': string; 'source-date-epoch': number };
let updates: ResultPromise | undefined;
let updPort: number;
/** The public key `fcos run` logs in with (its own, added to the configs of the machines it boots). */
let runPub: string;
/** Hostnames seen over SSH, by MAC (for the per-machine check). */
const seen: Record<string, string> = {};

function config(hostname: string, extra: object[] = [], keys: string[] = [pub]): object {
  return {
    ignition: { version: '3.3.0' },
    passwd: { users: [{ name: 'core', sshAuthorizedKeys: keys, groups: ['sudo'] }] },
    storage: {
      files: [
        ...extra,
        { path: '/etc/hostname', mode: 0o644, overwrite: true, contents: { source: `data:,${hostname}` } },
        { path: '/etc/fcos-pxe/hello.txt', mode: 0o640, contents: { source: `data:,served%20to%20${hostname}` } },
        { path: '/etc/sudoers.d/fcos-test-core', mode: 0o440, contents: { source: 'data:,core%20ALL%3D(ALL)%20NOPASSWD%3A%20ALL%0A' } },
      ],
    },
  };
}

/**
 * quietConsole: boots that stop on purpose (the error cases) or that never reach a system (the installer) do not
 * fail on console failure lines; the live and installed systems do, like every other boot in the suite.
 */
async function startVm(name: string, mac: string, o: { disk?: boolean; netboot?: boolean; persistDisk?: string; noReboot?: boolean; quietConsole?: boolean; cpus?: number } = {}): Promise<Vm> {
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
    cpus: o.cpus,
    mac,
    ssh: { key },
    netboot: o.netboot === false ? undefined : { tftp: join(dir, 'tftp'), bootfile: 'boot.ipxe' },
    emptyDiskGiB: o.disk ? 8 : undefined,
    disk: o.persistDisk ? { path: o.persistDisk, format: 'qcow2' } : undefined,
    persist: !!o.persistDisk,
    noReboot: o.noReboot,
    ignoreConsole: o.quietConsole ? [/.*/] : undefined,
  });
}

/** The failed units once the boot has settled ('' when none). */
async function failedUnits(vm: Vm): Promise<string> {
  await vm.ssh('sudo systemctl is-system-running --wait', { timeoutMs: 5 * MIN });
  return (await vm.sshOk('systemctl --failed --no-legend --plain --no-pager')).trim();
}

/** The suite's console failure patterns (qemu/console.ts) over a whole console log: [] when clean. */
function consoleFailures(text: string): string[] {
  const s = new ConsoleScanner();
  s.feed(text);
  s.flush();
  return s.failures.map(describeFailure);
}

/** The data extents of a qcow2 disk (`qemu-img map`): what the guest ever wrote. */
async function dataExtents(disk: string): Promise<{ start: number; length: number }[]> {
  const r = await execa('qemu-img', ['map', '--output=json', disk]);
  return (JSON.parse(r.stdout) as { start: number; length: number; data: boolean }[]).filter((e) => e.data).map(({ start, length }) => ({ start, length }));
}

/** SSH through the exact line `fcos run` printed (non-interactive); ssh's own failure (exit 255) throws. */
function printedSsh(line: string) {
  expect(line).toMatch(/^ssh .* -i \S+ -p \d+ core@127\.0\.0\.1$/);
  const base = line.replace(/^ssh /, 'ssh -o BatchMode=yes -o ConnectTimeout=10 ');
  const run = async (cmd: string, timeoutMs = 2 * MIN) => {
    const r = await execa('bash', ['-c', `${base} ${shellQuote(cmd)}`], { reject: false, timeout: timeoutMs });
    if (r.exitCode === 255) throw new Error(`ssh failed (exit 255) running ${cmd}: ${r.stderr}`);
    return r;
  };
  const ok = async (cmd: string, timeoutMs?: number) => {
    const r = await run(cmd, timeoutMs);
    if (r.exitCode !== 0) throw new Error(`${cmd} exited ${r.exitCode}: ${r.stderr}`);
    return r.stdout;
  };
  return { run, ok };
}

/** What `fcos run --detach --json` prints. */
interface RunInfo {
  sshCommand: string;
  console: string;
  pid: number;
  dir: string;
  image: string;
  ready: boolean;
  detached: boolean;
}

/** `fcos run … --detach --json`: exit 0 once SSH answers, QEMU still running after the CLI exited. */
async function fcosRunDetached(args: string[]): Promise<RunInfo> {
  const r = await execa(FCOS, ['run', ...args, '--accel', 'tcg', '--detach', '--ssh-timeout', '900', '--json'], { reject: false, timeout: 17 * MIN });
  if (r.exitCode !== 0) throw new Error(`fcos run ${args.join(' ')} failed (exit ${r.exitCode}):\n${r.stderr.slice(-3000)}`);
  const info = JSON.parse(r.stdout) as RunInfo;
  expect(info.ready).toBe(true);
  expect(info.detached).toBe(true);
  expect(alive(info.pid), 'QEMU runs on after fcos run --detach exited').toBe(true);
  return info;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('qemu-system');
  } catch {
    return false;
  }
}

/** Stop a detached VM the way `fcos run` says (kill PID); true once QEMU is gone. */
async function stopDetached(pid: number): Promise<boolean> {
  if (!alive(pid)) return true;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 150 && alive(pid); i++) await new Promise((r) => setTimeout(r, 200));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  return !alive(pid);
}

async function waitHttp(url: string, proc: ResultPromise, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    if (proc.exitCode !== null && proc.exitCode !== undefined) throw new Error(`${what} exited:\n${String((await proc).all ?? '').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what} does not answer ${url}`);
}

/**
 * U = B's latest build as the only one, its repo hard-linked (ostree never rewrites an object; refs and the summary
 * are replaced by rename, which breaks the link), and B's signing key: a compose into U is a layered child of B's
 * latest commit that the installed image trusts.
 */
function prepareUpgradeDir(): void {
  rmSync(U, { recursive: true, force: true });
  mkdirSync(U, { recursive: true });
  const latest = realpathSync(join(B, 'latest'));
  const id = basename(latest);
  execaSync('cp', ['-al', join(B, 'repo'), join(U, 'repo')]);
  cpSync(join(B, 'keys'), join(U, 'keys'), { recursive: true, filter: (src) => !/\/S\.[^/]*$/.test(src) }); // no gpg-agent sockets
  mkdirSync(join(U, id));
  cpSync(join(latest, 'meta.json'), join(U, id, 'meta.json'));
  writeFileSync(join(U, 'builds.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(B, 'builds.json'), 'utf8')), builds: [{ id, arches: ['x86_64'] }] }, null, 2));
  symlinkSync(id, join(U, 'latest'));
}

/** The initramfs's emergency mode (OnFailure=emergency.target of the failing unit). */
const EMERGENCY = /Entering emergency mode|You are in emergency mode/;
/** Console lines that show a boot going on: the switch to the real root, the real system's targets, a login, sshd. */
const BOOTING_ON = /Reached target .*(Switch Root|Multi-User System|Graphical Interface)|Starting .*Switch Root|Started .*OpenSSH|\blogin: /;

/**
 * Boot a machine whose boot must stop with `re` on its console (a cheap failure: no SSH wait): the message shows,
 * then emergency mode; nothing after the message shows the boot going on, and SSH does not answer (ssh exit 255).
 */
async function expectStopped(name: string, mac: string, re: RegExp, o: { disk?: boolean } = {}): Promise<{ line: string; text: string }> {
  // One vCPU each: the three error cases boot at the same time (it.concurrent) on a 2-core host.
  const vm = await startVm(name, mac, { ...o, quietConsole: true, cpus: 1 });
  try {
    // Every error case ends in emergency mode: stop waiting there too, with or without the message.
    const line = await vm.waitForConsole(new RegExp(`${re.source}|${EMERGENCY.source}`), 12 * MIN, { consoleFailures: false });
    if (!re.test(line)) throw new Error(`${name}: emergency mode without the expected message ${re}; console tail:\n${vm.consoleText().slice(-3000)}`);
    // The boot stops: emergency mode follows the message.
    await vm.waitForConsole(EMERGENCY, 3 * MIN, { consoleFailures: false });
    const ssh = await sshExec(vm.target, 'true', { connectTimeoutSec: 5, timeoutMs: 30_000 });
    const text = vm.consoleText().replace(/\r/g, '');
    const after = text.slice(text.search(re)).split('\n');
    expect(after.filter((l) => BOOTING_ON.test(l)), `${name}: the boot went on after the message`).toEqual([]);
    expect(after.some((l) => EMERGENCY.test(l)), `${name}: emergency mode after the message`).toBe(true);
    expect(ssh.exitCode, `${name}: ssh to a stopped boot must fail to connect (exit 255): ${ssh.stdout}${ssh.stderr}`).toBe(255);
    return { line, text };
  } finally {
    await vm.kill();
  }
}

describe('PXE (TCG)', () => {
  beforeAll(async () => {
    mkdirSync(B, { recursive: true });
    meta = (await buildDefaultImage(B, ['--format', 'all'])) as typeof meta;
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
    runPub = (await runKey()).pub;
    const cfg = join(work, 'machines');
    mkdirSync(cfg);
    writeFileSync(join(cfg, 'default.ign'), JSON.stringify(config('pxe-default')));
    // MAC 01 is booted by `fcos run --pxe`, which logs in with its own key: the served config carries it.
    writeFileSync(join(cfg, `${hyp(MAC.one)}.ign`), JSON.stringify(config('pxe-one', [], [pub, runPub])));
    writeFileSync(join(cfg, `${hyp(MAC.two)}.ign`), JSON.stringify(config('pxe-two')));
    // The installed machine takes its updates from `fcos serve` of U (STRATEGY=off: the test drives the upgrade).
    updPort = await freePort();
    const updConf = `URL=http://10.0.2.2:${updPort}/repo\nSTRATEGY=off\n`;
    writeFileSync(join(cfg, `${hyp(MAC.install)}.ign`), JSON.stringify(config('pxe-installed', [
      { path: '/etc/fcos/update.conf', mode: 0o644, overwrite: true, contents: { source: `data:,${encodeURIComponent(updConf)}` } },
    ])));
    writeFileSync(join(cfg, `${hyp(MAC.install)}.kargs`), 'fcos.inst.install_dev=/dev/vda\n');
    writeFileSync(join(cfg, `${hyp(MAC.nodev)}.kargs`), 'fcos.inst.install_dev=/dev/vdz\n');
    // A relative path: Ignition (and so fcos) refuses it.
    writeFileSync(join(cfg, `${hyp(MAC.bad)}.ign`), JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files: [{ path: 'etc/not-absolute', contents: { source: 'data:,x' } }] } }));
    port = await freePort();
    // A rootfs that does not match: the machine is told another sha256 (the last rootfs_sha256 on the command line
    // wins), and fetches the build's live kernel as its "rootfs" (a real served asset of 11 MB: the check is the same
    // as on the 350 MB rootfs, without a TCG download of it that only delays the refusal).
    const small = meta.images['live-kernel']!.path;
    writeFileSync(join(cfg, `${hyp(MAC.badsha)}.kargs`), `fcos.live.rootfs_url=http://10.0.2.2:${port}/assets/${small} fcos.live.rootfs_sha256=${'0'.repeat(64)}\n`);

    serve = execa(FCOS, ['pxe', 'serve', '--builds', B, '--ignition-dir', cfg, '--port', String(port), '--host', '127.0.0.1'], { reject: false, all: true, buffer: true });
    await waitHttp(`http://127.0.0.1:${port}/boot.ipxe`, serve, 'fcos pxe serve');

    prepareUpgradeDir();
    updates = execa(FCOS, ['serve', '--builds', U, '--port', String(updPort), '--host', '127.0.0.1'], { reject: false, all: true, buffer: true });
    await waitHttp(`http://127.0.0.1:${updPort}/index.json`, updates, 'fcos serve');
  }, 40 * MIN);

  afterAll(async () => {
    for (const p of [serve, updates]) {
      p?.kill('SIGTERM');
      await p?.catch(() => undefined);
    }
  });

  // The cheap cases first, the three at once (independent machines: own MAC, disk and directory): each stops in the
  // initramfs as soon as its message shows.
  it.concurrent('errors: a config that fails validation is refused, and the console says why', async () => {
    const { line, text } = await expectStopped('pxe-bad-config', MAC.bad, /fcos-live: ERROR: the config server refused/);
    expect(line).toContain('refused');
    expect(text).toMatch(/fcos-live: config refused: .*(absolute|relative)/i);
  }, 15 * MIN);

  it.concurrent('errors: an install to a missing device stops before writing anything (the disk has no data extent)', async () => {
    const { line } = await expectStopped('pxe-no-device', MAC.nodev, /fcos-install: ERROR: install device \/dev\/vdz does not exist/, { disk: true });
    expect(line).toContain('nothing was written');
    // The VM's only disk (/dev/vda, a fresh 8 GiB qcow2): not one block written (no wipe, no discard, no image).
    const disk = join(OUT, 'pxe-no-device', 'disk.qcow2');
    expect(existsSync(disk)).toBe(true);
    expect(await dataExtents(disk)).toEqual([]);
  }, 15 * MIN);

  it.concurrent('errors: a rootfs image with the wrong sha256 is not booted', async () => {
    const { line } = await expectStopped('pxe-bad-sha', MAC.badsha, /fcos-live: ERROR: rootfs image sha256 mismatch/);
    expect(line).toContain(`expected ${'0'.repeat(64)}`);
    expect(line).toContain(`got ${meta.images['live-kernel']!.sha256}`);
    expect(line).toContain(`/assets/${meta.images['live-kernel']!.path}`);
  }, 15 * MIN);

  it('pxe-live through `fcos run --pxe --detach` (default 3072 MiB): a disk-less VM boots kernel, initramfs, rootfs and config from fcos pxe serve; the printed ssh line works; no failed unit, clean console; kill PID stops it', async () => {
    const dir = join(OUT, 'pxe-live');
    rmSync(dir, { recursive: true, force: true });
    const info = await fcosRunDetached(['--pxe', '--pxe-url', `http://10.0.2.2:${port}`, '--mac', MAC.one, '--dir', dir]);
    try {
      expect(info.image).toBe(`http://10.0.2.2:${port}/boot.ipxe`);
      // No -m given: fcos run --pxe's own default.
      expect(readFileSync(join(dir, 'qemu-command.txt'), 'utf8')).toMatch(/ -m 3072 /);
      const vm = printedSsh(info.sshCommand);
      seen[MAC.one] = (await vm.ok('hostname')).trim();
      expect(seen[MAC.one]).toBe('pxe-one');
      expect(Number(/^MemTotal:\s+(\d+) kB/m.exec(await vm.ok('cat /proc/meminfo'))?.[1])).toBeGreaterThan(2.5 * 1024 * 1024);
      expect((await vm.ok('sudo cat /etc/fcos-pxe/hello.txt')).trim()).toBe('served to pxe-one');
      // Both keys of the served config landed (fcos run logged in with its own, which only the served config has).
      const keys = await vm.ok('cat ~/.ssh/authorized_keys ~/.ssh/authorized_keys.d/* 2>/dev/null; true');
      expect(keys).toContain(pub.split(' ')[1]);
      expect(keys).toContain(runPub.split(' ')[1]);
      expect((await vm.ok('findmnt -no FSTYPE /')).trim()).toBe('tmpfs');
      expect((await vm.ok('findmnt -no SOURCE /')).trim()).toBe('fcos-live-root');
      const cmdline = await vm.ok('cat /proc/cmdline');
      expect(cmdline).toContain(`fcos.live.rootfs_sha256=${meta.images['live-rootfs']!.sha256}`);
      expect(cmdline).toMatch(/ignition\.config\.url=http:\/\/10\.0\.2\.2:\d+\/ignition\?mac=52-54-00-fc-05-01/);
      expect(await vm.ok('lsblk -dn -o TYPE | grep -c disk || true')).toMatch(/^0/);
      // The machine at the end: settled, no failed unit, and a console without a failure from the first line on.
      await vm.run('sudo systemctl is-system-running --wait', 5 * MIN);
      expect((await vm.ok('systemctl --failed --no-legend --plain --no-pager')).trim()).toBe('');
      const text = readFileSync(info.console, 'utf8');
      expect(text).toContain('fcos-live: rootfs image sha256 verified');
      expect(consoleFailures(text)).toEqual([]);
      expect(alive(info.pid), 'QEMU still running after the last check').toBe(true);
    } finally {
      expect(await stopDetached(info.pid), `kill ${info.pid} stops QEMU`).toBe(true);
    }
  }, 20 * MIN);

  it('pxe-install: installs only the data regions to an empty disk, reboots from it without network boot, takes an upgrade from fcos serve; no failed unit, clean console before and after', async () => {
    // v2 for the installed machine: a layered compose (one more file) into U, while the installer runs.
    const v2File = 'usr/share/fcos-test/pxe-v2.txt';
    const composing = execa(FCOS, ['compose', '--manifest', derivedManifest(join(OUT, 'manifest-v2'), { files: { [v2File]: 'pxe v2\n' } }), '--builds', U, '--json'], {
      reject: false,
      env: { SOURCE_DATE_EPOCH: String(meta['source-date-epoch']), FCOS_APT_MAX_AGE: String(30 * 24 * 3600) },
    });
    composing.catch(() => undefined);
    const inst = await startVm('pxe-install', MAC.install, { disk: true, noReboot: true, quietConsole: true });
    // The installer reboots when done; with -no-reboot QEMU stops instead.
    await inst.waitExit(25 * MIN);
    const text = inst.consoleText();
    expect(text).toContain('fcos-install: install complete: /dev/vda is bootable');
    expect(text).toContain('fcos-install: image sha256 verified');
    expect(text).toContain('fcos-install: Ignition config embedded');
    expect(text).toContain('fcos-install: image written (data regions only: the disk was discarded)');
    const disk = join(OUT, 'pxe-install', 'disk.qcow2');
    // Sparse: what the guest wrote is the image's data (about 1 GiB of the 8 GiB image), not 8 GiB with the zeros.
    const written = (await dataExtents(disk)).reduce((n, e) => n + e.length, 0);
    expect(written, `bytes allocated on the installed disk`).toBeGreaterThan(256 * 1024 * 1024);
    expect(written, `bytes allocated on the installed disk`).toBeLessThan(3 * 1024 ** 3);
    const vm = await startVm('pxe-install', MAC.install, { netboot: false, persistDisk: disk });
    try {
      await vm.waitForSsh(15 * MIN);
      seen[MAC.install] = (await vm.sshOk('hostname')).trim();
      expect(await failedUnits(vm)).toBe('');
      expect(seen[MAC.install]).toBe('pxe-installed');
      expect((await vm.sshOk('sudo cat /etc/fcos-pxe/hello.txt')).trim()).toBe('served to pxe-installed');
      const status = await vm.sshOk('sudo ostree admin status');
      // Every deployment line ("* fcos <checksum>.0" for the booted one, "  fcos …" for others): exactly one.
      expect(status.split('\n').filter((l) => /^[* ] \S+ [0-9a-f]{64}\.\d+/.test(l))).toHaveLength(1);
      expect(status).toContain(`Version: ${meta['ostree-version']}`);
      expect(await vm.sshOk('cat /proc/cmdline')).toMatch(/\bostree=\/ostree\/boot\./);
      expect((await vm.sshOk('findmnt -no SOURCE /sysroot')).trim()).toMatch(/^\/dev\/vda4/);
      // The served config replaced the image's own; it is removed after the first boot, like FCOS.
      // (test exits 1 when absent; ssh's own failure, 255, is not an answer.)
      expect((await vm.ssh('sudo test -e /boot/ignition/config.ign')).exitCode).toBe(1);
      // The end of the first boot from the disk: a console without a failure so far.
      expect(consoleFailures(vm.consoleText())).toEqual([]);

      // The upgrade: `fcos serve` of U publishes v2; the installed machine's remote is U's server (from the config).
      const c = await composing;
      expect(c.exitCode, `fcos compose v2 failed:\n${String(c.stderr).slice(-3000)}`).toBe(0);
      const v2 = JSON.parse(String(c.stdout)) as { version: string; commit: string; parent?: string; changed: boolean };
      expect(v2.changed).toBe(true);
      expect(v2.parent).toBe(meta['ostree-commit']);
      expect(await vm.sshOk('sudo fcos-update check', { timeoutMs: 5 * MIN })).toContain(`update available: ${v2.version}`);
      expect(await vm.sshOk('sudo fcos-update upgrade --no-reboot', { timeoutMs: 10 * MIN })).toContain(`staged ${v2.version}`);
      // A cold reboot (clean poweroff, QEMU started again on the same disk): an in-guest reboot under TCG takes
      // about twice as long, and the boot path (GRUB picks the new default) is the same.
      await vm.reboot(15 * MIN, { cold: true });
      const st = await vm.sshOk('sudo fcos-update status');
      expect(st).toMatch(new RegExp(`^Booted: ${v2.version.replace(/\./g, '\\.')}$`, 'm'));
      expect(st).toMatch(new RegExp(`^Rollback: ${meta['ostree-version'].replace(/\./g, '\\.')}$`, 'm'));
      expect((await vm.sshOk(`cat /${v2File}`)).trim()).toBe('pxe v2');
      expect((await vm.sshOk('hostname')).trim()).toBe('pxe-installed');
      // After the reboot into v2: settled with no failed unit; the console of both boots without a failure.
      expect(await failedUnits(vm)).toBe('');
      expect(consoleFailures(vm.consoleText())).toEqual([]);
      expect(vm.failed).toBeUndefined();
      expect(vm.exited, 'QEMU still running after the last check').toBe(false);
    } finally {
      await vm.kill();
    }
  }, 50 * MIN);

  it('fcos run (CLI) of the latest default image in B with -i CONFIG --detach: the printed ssh line logs in with the key fcos run added to the config; the config applied; no failed unit, clean console; kill PID stops it', async () => {
    const dir = join(OUT, 'fcos-run');
    rmSync(dir, { recursive: true, force: true });
    // No key in the config: logging in at all proves the key fcos run added.
    const cfg = join(work, 'run-config.ign');
    writeFileSync(cfg, JSON.stringify({
      ignition: { version: '3.3.0' },
      storage: {
        files: [
          { path: '/etc/hostname', mode: 0o644, overwrite: true, contents: { source: 'data:,fcos-run-e2e' } },
          { path: '/etc/fcos-run-e2e.txt', mode: 0o644, contents: { source: 'data:,from%20fcos%20run%20-i' } },
        ],
      },
    }));
    const info = await fcosRunDetached(['-i', cfg, '--builds', B, '--dir', dir]);
    try {
      expect(info.image).toBe(join(realpathSync(join(B, 'latest')), meta.images['qemu']!.path));
      const vm = printedSsh(info.sshCommand);
      expect((await vm.ok('hostname')).trim()).toBe('fcos-run-e2e');
      expect(await vm.ok('cat /etc/fcos-run-e2e.txt')).toBe('from fcos run -i');
      expect(await vm.ok('cat ~/.ssh/authorized_keys ~/.ssh/authorized_keys.d/* 2>/dev/null; true')).toContain(runPub.split(' ')[1]);
      // The config fcos run wrote (the -i config plus its key) is the one the VM got.
      expect(JSON.stringify(JSON.parse(readFileSync(join(dir, 'config.ign'), 'utf8')))).toContain(runPub.split(' ')[1]);
      expect((await vm.ok('sudo ostree admin status')).split('\n').filter((l) => /^[* ] \S+ [0-9a-f]{64}\.\d+/.test(l))).toHaveLength(1);
      await vm.run('sudo systemctl is-system-running --wait', 5 * MIN);
      expect((await vm.ok('systemctl --failed --no-legend --plain --no-pager')).trim()).toBe('');
      expect(consoleFailures(readFileSync(info.console, 'utf8'))).toEqual([]);
      expect(alive(info.pid), 'QEMU still running after the last check').toBe(true);
    } finally {
      expect(await stopDetached(info.pid), `kill ${info.pid} stops QEMU`).toBe(true);
    }
  }, 20 * MIN);

  it('per-machine configs: two VMs with different MACs got different hostnames from the same server', async () => {
    // The two booted machines above (live MAC 01, installed MAC 05) each got their own config by MAC.
    expect(seen[MAC.one]).toBe('pxe-one');
    expect(seen[MAC.install]).toBe('pxe-installed');
    // And the selection as the server does it: another MAC has its own, an unknown MAC gets the default.
    const host = async (mac: string) => {
      const r = await fetch(`http://127.0.0.1:${port}/ignition?mac=${hyp(mac)}`);
      expect(r.status).toBe(200);
      const j = (await r.json()) as { storage: { files: { path: string; contents: { source: string } }[] } };
      return decodeURIComponent(j.storage.files.find((f) => f.path === '/etc/hostname')!.contents.source.replace(/^data:,/, ''));
    };
    expect(await host(MAC.two)).toBe('pxe-two');
    expect(await host('52:54:00:fc:05:99')).toBe('pxe-default');
  });
});
