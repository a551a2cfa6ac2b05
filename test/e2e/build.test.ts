/**
 * fcos build, end to end (root, loop devices). One builds dir B, in order:
 *   1. a config with errors is refused before any work: exit 1, the path at fault, B not created
 *   2. a 3.5.0 config that needs something newer than 3.3.0 is refused with the path, B not created
 *   3. Ctrl-C (SIGINT to the process group) once the disk step has a loop device on B's image and a mount at
 *      /tmp/fcos-image-* (polled, not a fixed delay): exit 130, no loop device on B's files, no mount left, no new
 *      /tmp/fcos-image-* directory, no image
 *   4. the default image from examples/config.ign, qcow2 + raw: partition table, deployment, grub.cfg entries,
 *      first-boot stamp, embedded config, BIOS and UEFI boot code, meta.json images; the same build again reuses them
 *   5. a full disk: a copy of B (repo + newest build's meta.json) on a small tmpfs; the build is refused up front with
 *      the numbers, and with the estimate skipped (FCOS_SPACE_CHECK=0) it fills the disk in the image step and stops
 *      with a clear error: no stack trace, no partial file, no loop device, no mount, meta.json unchanged
 * B is a fork of the run's one compose (BOOT_BUILDS, forkDefaultBuild) made before 3, so 3 and 4 compose nothing.
 * Booting the image is the qemu harness's job (fcos test); see README "First boot" for the manual proof.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { forkDefaultBuild } from './fcos-cli.js';

const ROOT = resolve(__dirname, '../..');
const FCOS = join(ROOT, 'bin', 'fcos');
const EXAMPLE = join(ROOT, 'examples', 'config.ign');
const WORK = mkdtempSync(join(process.env.FCOS_E2E_TMP ?? '/var/tmp', 'fcos-e2e-build-'));
const B = join(WORK, 'builds');

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Loop devices (`losetup -J`) backed by files under dir: "NAME FILE". */
function loopsUnder(dir: string): string[] {
  const out = sh('losetup', ['-J', '-l']).trim();
  const j = (out ? JSON.parse(out) : {}) as { loopdevices?: { name: string; 'back-file'?: string | null }[] };
  return (j.loopdevices ?? []).filter((l) => (l['back-file'] ?? '').includes(dir)).map((l) => `${l.name} ${l['back-file']}`);
}
/** Mounts made by an image build (its mount points are /tmp/fcos-image-*). */
function imageMounts(): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes('/fcos-image-') || l.includes(WORK));
}
/** The image build's temporary mount-point directories (images/disk.ts: mkdtemp /tmp/fcos-image-*). */
function imageTmpDirs(): string[] {
  return readdirSync('/tmp').filter((n) => n.startsWith('fcos-image-'));
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(() => {
  if (process.env.FCOS_E2E_KEEP !== '1') rmSync(WORK, { recursive: true, force: true });
});

describe('fcos build: refusals before any work', () => {
  it('refuses a config with errors, with the path, and leaves no builds dir', async () => {
    const bad = join(WORK, 'bad.ign');
    writeFileSync(bad, JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files: [{ path: 'etc/relative', contents: { source: 'data:,x' } }] } }));
    const r = await execa(FCOS, ['build', '--ignition', bad, '--builds', B], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/storage\.files\.0\.path/);
    expect(r.stderr).not.toMatch(/==> build the disk image/);
    expect(existsSync(B)).toBe(false);
  });

  it('refuses a 3.5.0 config that needs a newer Ignition, with the path, and leaves no builds dir', async () => {
    const newer = join(WORK, 'newer.ign');
    writeFileSync(newer, JSON.stringify({ ignition: { version: '3.5.0' }, storage: { luks: [{ name: 'data', device: '/dev/vdb', cex: { enabled: true } }] } }));
    const r = await execa(FCOS, ['build', '--ignition', newer, '--builds', B, '--json'], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/\$\.storage\.luks\.0\.cex/);
    expect(JSON.parse(r.stdout).error.kind).toBe('user');
    expect(existsSync(B)).toBe(false);
  });
});

describe('fcos build: the default image', () => {
  // B starts from the run's one compose (BOOT_BUILDS, hard-linked, no images): this file tests the image step, not a
  // second compose of the same manifest.
  beforeAll(async () => {
    await forkDefaultBuild(B);
  });

  it('Ctrl-C once the disk step has a loop device and a mount leaves no loop device, no mount, no temp dir and no image', async () => {
    const tmpBefore = new Set(imageTmpDirs());
    // Its own process group, like a shell job: Ctrl-C reaches fcos and every child (mount, ostree, grub-install …).
    const p = execa(FCOS, ['build', '--ignition', EXAMPLE, '--builds', B, '--format', 'raw'], { reject: false, all: true, detached: true });
    let out = '';
    let ended = false;
    p.all!.on('data', (d: Buffer) => void (out += String(d)));
    void p.then(() => (ended = true));
    // Poll for the state to interrupt: the image's loop device and a mount of it (the compose before may take minutes).
    let seen: { loops: string[]; mounts: string[] } | undefined;
    const deadline = Date.now() + 30 * 60_000;
    while (!seen && Date.now() < deadline && !ended) {
      const loops = loopsUnder(B);
      const mounts = imageMounts().filter((l) => l.includes('/fcos-image-'));
      if (loops.length && mounts.length) seen = { loops, mounts };
      else await sleep(100);
    }
    if (!seen) {
      if (!ended) process.kill(-p.pid!, 'SIGINT');
      await p;
    }
    expect(seen, `no loop device on ${B} with a mount at /tmp/fcos-image-* before the build ended or 30 min passed:\n${out.slice(-3000)}`).toBeDefined();
    process.kill(-p.pid!, 'SIGINT');
    const r = await p;
    expect(r.exitCode, String(r.all).slice(-3000)).toBe(130);
    expect(loopsUnder(B)).toEqual([]);
    expect(imageMounts()).toEqual([]);
    expect(imageTmpDirs().filter((d) => !tmpBefore.has(d))).toEqual([]);
    if (existsSync(join(B, '.tmp'))) expect(readdirSync(join(B, '.tmp'))).toEqual([]);
    const ids = readdirSync(B).filter((d) => existsSync(join(B, d, 'meta.json')));
    expect(ids.length).toBeGreaterThan(0); // the compose before the disk step is kept (and reused below)
    for (const id of ids) {
      const files = readdirSync(join(B, id));
      expect(files.filter((f) => /\.(raw|qcow2)$/.test(f) || f.endsWith('.partial'))).toEqual([]);
      expect(JSON.parse(readFileSync(join(B, id, 'meta.json'), 'utf8')).images).toEqual({});
    }
  });

  let result: { buildId: string; buildDir: string; images: Record<string, { path: string; sha256: string; size: number }>; kernelArguments: string[] };
  const mnt = join(WORK, 'mnt');
  let loop = '';

  beforeAll(() => mkdirSync(mnt, { recursive: true }));
  afterAll(() => {
    for (const m of [join(mnt, 'boot'), mnt]) spawnSync('umount', [m]);
    if (loop) {
      spawnSync('partx', ['-d', loop]);
      spawnSync('losetup', ['-d', loop]);
    }
  });

  it('builds qcow2 and raw images and records them in meta.json', async () => {
    const r = await execa(FCOS, ['build', '--ignition', EXAMPLE, '--builds', B, '--format', 'qcow2', '--format', 'raw', '--json'], { reject: false });
    if (r.exitCode !== 0) throw new Error(`fcos build failed (${r.exitCode}):\n${r.stderr.slice(-4000)}`);
    result = JSON.parse(r.stdout);
    expect(Object.keys(result.images).sort()).toEqual(['metal', 'qemu']);
    const meta = JSON.parse(readFileSync(join(result.buildDir, 'meta.json'), 'utf8'));
    for (const [k, img] of Object.entries(result.images)) {
      expect(meta.images[k]).toEqual(img);
      expect(existsSync(join(result.buildDir, img.path))).toBe(true);
      expect(img.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(result.images.qemu!.path).toBe(`fcos-${result.buildId}-qemu.qcow2`);
    expect(sh('qemu-img', ['info', '--output=json', join(result.buildDir, result.images.qemu!.path)])).toMatch(/"format": "qcow2"/);
    expect(readdirSync(result.buildDir).filter((f) => f.endsWith('.partial'))).toEqual([]);
    expect(result.kernelArguments).toContain('$ignition_firstboot');
    expect(result.kernelArguments).toContain('root=LABEL=root');
  });

  it('the same build again reuses the images (same compose, config, firmware, image code): nothing rewritten', async () => {
    const qcow2 = join(result.buildDir, result.images.qemu!.path);
    const before = statSync(qcow2).mtimeMs;
    const r = await execa(FCOS, ['build', '--ignition', EXAMPLE, '--builds', B, '--format', 'qcow2', '--json'], { reject: false });
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
    const again = JSON.parse(r.stdout);
    expect(again.reused).toBe(true);
    expect(again.images).toEqual({ qemu: result.images.qemu });
    expect(again.kernelArguments).toEqual(result.kernelArguments);
    expect(r.stderr).toMatch(/images of \S+ are up to date/);
    expect(r.stderr).not.toMatch(/==> build the disk image/);
    expect(statSync(qcow2).mtimeMs).toBe(before);
  });

  it('has the GPT layout', () => {
    const p = sh('sgdisk', ['-p', join(result.buildDir, result.images.metal!.path)]);
    expect(p).toMatch(/1\s+2048\s+4095\s+1024\.0 KiB\s+EF02\s+BIOS-BOOT/);
    expect(p).toMatch(/2\s+\d+\s+\d+\s+127\.0 MiB\s+EF00\s+EFI-SYSTEM/);
    expect(p).toMatch(/3\s+\d+\s+\d+\s+384\.0 MiB\s+8300\s+boot/);
    expect(p).toMatch(/4\s+\d+\s+\d+\s+[\d.]+ GiB\s+8300\s+root/);
  });

  it('holds the deployment, a GRUB menu from it, the first-boot stamp and the embedded config', () => {
    const raw = join(result.buildDir, result.images.metal!.path);
    loop = sh('losetup', ['--find', '--show', '--read-only', raw]).trim();
    spawnSync('partx', ['-a', loop]);
    sh('mount', ['-o', 'ro', `${loop}p4`, mnt]);
    sh('mount', ['-o', 'ro', `${loop}p3`, join(mnt, 'boot')]);
    const deploys = readdirSync(join(mnt, 'ostree/deploy/fcos/deploy')).filter((d) => !d.endsWith('.origin'));
    expect(deploys).toHaveLength(1);
    const status = sh('ostree', ['admin', 'status', `--sysroot=${mnt}`]);
    expect(status).toContain(deploys[0]!.replace(/\.0$/, ''));
    expect(sh('ostree', ['config', `--repo=${join(mnt, 'ostree/repo')}`, 'get', 'sysroot.bootloader']).trim()).toBe('grub2');
    const entries = readdirSync(join(mnt, 'boot/loader/entries'));
    expect(entries).toHaveLength(1);
    const bls = readFileSync(join(mnt, 'boot/loader/entries', entries[0]!), 'utf8');
    expect(bls).toMatch(/options .*root=LABEL=root.*\$ignition_firstboot.*ostree=\/ostree\/boot/);
    const grub = readFileSync(join(mnt, 'boot/grub/grub.cfg'), 'utf8');
    expect(grub).toMatch(/menuentry '.*\(ostree:0\)'/);
    expect(grub).toMatch(/if \[ -f "\/ignition.firstboot" \]/);
    expect(grub).toMatch(/set timeout=1/);
    expect(grub).toMatch(/linux \/ostree\/fcos-[0-9a-f]{64}\/vmlinuz/);
    expect(existsSync(join(mnt, 'boot/ignition.firstboot'))).toBe(true);
    expect(JSON.parse(readFileSync(join(mnt, 'boot/ignition/config.ign'), 'utf8'))).toEqual(JSON.parse(readFileSync(EXAMPLE, 'utf8')));
    // BIOS: GRUB's boot.img in the MBR and core.img in the BIOS boot partition; UEFI: the removable-media path.
    const mbr = sh('dd', [`if=${loop}`, 'bs=512', 'count=1', 'status=none']);
    expect(mbr).toContain('GRUB');
    expect(existsSync(join(mnt, 'boot/grub/i386-pc/normal.mod'))).toBe(true);
    expect(existsSync(join(mnt, 'boot/grub/x86_64-efi/normal.mod'))).toBe(true);
    expect(sh('mdir', ['-b', '-i', `${loop}p2`, '::/EFI/BOOT'])).toMatch(/BOOTX64\.EFI/i);
  });

  it('a full disk: refused up front; when it fills during the image step, a clear error and nothing lost or left', async () => {
    const small = join(WORK, 'small');
    mkdirSync(small, { recursive: true });
    const repoBytes = Number(sh('du', ['-sb', join(B, 'repo')]).split('\t')[0]);
    // Room for the repo copy and 400 MiB: far less than the image needs (≈ 2 GiB written for qcow2).
    sh('mount', ['-t', 'tmpfs', '-o', `size=${repoBytes + 400 * 1024 * 1024}`, 'tmpfs', small]);
    try {
      const S = join(small, 'builds');
      mkdirSync(join(S, result.buildId), { recursive: true });
      sh('cp', ['-a', join(B, 'repo'), join(B, 'keys'), join(B, 'builds.json'), join(B, 'latest'), S]);
      sh('cp', [join(result.buildDir, 'meta.json'), join(S, result.buildId, 'meta.json')]);
      const metaBefore = readFileSync(join(S, result.buildId, 'meta.json'), 'utf8');
      // The same package indexes as the build above, so the compose is reused (no bootstrap on the small disk).
      const env = { FCOS_APT_MAX_AGE: String(24 * 3600) };
      const left = () => ({
        files: readdirSync(join(S, result.buildId)),
        meta: readFileSync(join(S, result.buildId, 'meta.json'), 'utf8'),
        loops: loopsUnder(small),
        mounts: imageMounts().filter((l) => l.includes('/fcos-image-') || l.includes(`${small}/`)), // test 4's read-only mounts of B are its own
      });
      const nothingLeft = { files: ['meta.json'], meta: metaBefore, loops: [], mounts: [] };

      const r1 = await execa(FCOS, ['build', '--ignition', EXAMPLE, '--builds', S, '--json'], { reject: false, env });
      expect(r1.exitCode, r1.stderr).toBe(1);
      expect(r1.stderr).toContain(`No changes in image inputs (build ${result.buildId}`);
      expect(r1.stderr).toMatch(/not enough free disk space in \S+: [\d.]+ GiB free, this build needs about [\d.]+ GiB/);
      expect(r1.stderr).not.toMatch(/==> build the disk image/);
      expect(JSON.parse(r1.stdout).error.kind).toBe('user');
      expect(left()).toEqual(nothingLeft);

      const r2 = await execa(FCOS, ['build', '--ignition', EXAMPLE, '--builds', S, '--json'], { reject: false, env: { ...env, FCOS_SPACE_CHECK: '0' } });
      expect(r2.exitCode, r2.stderr).toBe(1);
      expect(r2.stderr).toMatch(/==> build the disk image/);
      expect(r2.stderr).toMatch(/no space left on device in \S+ while building the image/);
      expect(r2.stderr).not.toMatch(/^\s+at /m); // no stack trace
      expect(JSON.parse(r2.stdout).error.kind).toBe('user');
      expect(left()).toEqual(nothingLeft);
    } finally {
      spawnSync('umount', [small]);
    }
  });
});
