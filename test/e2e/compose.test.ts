/**
 * fcos compose, end to end, with the real cache dir (a warm machine is fast).
 *
 * One builds dir B is shared by the cases, in order:
 *   1. compose the default manifest → commit on the ref, fsck, files, initramfs modules, /usr/etc, empty /var, meta
 *   2. compose again → "No changes in image inputs"
 *   3. the manifest plus one package → a new commit whose parent is the previous one
 *   4. reproducibility: the default manifest composed with --force into a fresh builds dir gives the same commit
 *      checksum as step 1 (same version, no parent, same SOURCE_DATE_EPOCH); on mismatch `ostree diff` is printed
 *   5. interruption: SIGKILL to the process group during the commit step; fsck clean, ref and latest unchanged,
 *      and the next compose succeeds (stale lock and work dir taken over).
 * Before them, Ctrl-C: SIGINT to the process group once mmdebstrap has a mount under the builds dir (polled): exit
 * 130, no mount, empty .tmp, no lock, no latest, no new /tmp/mmdebstrap* dir.
 */
import type { ComposeResult } from '../../ostree/compose.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { cpSync, existsSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const ROOT = resolve(__dirname, '../..');
const FCOS = join(ROOT, 'bin', 'fcos');
const DEFAULT_MANIFEST = join(ROOT, 'ostree', 'manifests', 'default.yaml');
const REF = 'fcos/trixie/x86_64/stable';
const WORK = mkdtempSync(join(process.env.FCOS_E2E_TMP ?? '/var/tmp', 'fcos-e2e-compose-'));
const B = join(WORK, 'builds');
const B2 = join(WORK, 'builds-repro');
const REPO = join(B, 'repo');

/** What `fcos compose --json` prints. */
type Result = Pick<ComposeResult, 'buildId' | 'ref' | 'commit' | 'parent' | 'repo' | 'buildDir' | 'metaPath' | 'changed' | 'seconds'>;

async function compose(args: string[]): Promise<{ result: Result; stderr: string }> {
  const r = await execa(FCOS, ['compose', '--json', ...args], { reject: false, all: false, env: { FCOS_BUILDS_DIR: '' } });
  if (r.exitCode !== 0) throw new Error(`fcos compose ${args.join(' ')} failed (${r.exitCode}):\n${String(r.stderr).slice(-4000)}`);
  process.stderr.write(String(r.stderr).split('\n').filter((l) => l.startsWith('==>') || l.includes(': done')).join('\n') + '\n');
  return { result: JSON.parse(String(r.stdout)) as Result, stderr: String(r.stderr) };
}

function ostree(...args: string[]): string {
  const r = spawnSync('ostree', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`ostree ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
function ostreeOk(...args: string[]): boolean {
  return spawnSync('ostree', args, { encoding: 'utf8' }).status === 0;
}

/** Names in an initramfs: skips the uncompressed early cpio(s), then decompresses (zstd/gzip/xz/none) and lists. */
function initramfsFiles(img: Buffer): string[] {
  let off = 0;
  const align = (n: number) => (n + 3) & ~3;
  while (img.subarray(off, off + 6).toString('latin1') === '070701') {
    // newc: 110-byte header, name (namesize), pad to 4, data (filesize), pad to 4.
    for (;;) {
      const h = img.subarray(off, off + 110).toString('latin1');
      if (!h.startsWith('0707')) throw new Error(`bad cpio header at ${off}`);
      const filesize = parseInt(h.slice(54, 62), 16);
      const namesize = parseInt(h.slice(94, 102), 16);
      const name = img.subarray(off + 110, off + 110 + namesize - 1).toString('latin1');
      off = align(off + 110 + namesize);
      off = align(off + filesize);
      if (name === 'TRAILER!!!') break;
    }
    while (off < img.length && img[off] === 0) off++;
  }
  const rest = img.subarray(off);
  const magic = rest.subarray(0, 4).toString('hex');
  let cpio: Buffer;
  if (magic === '28b52ffd') cpio = spawnSync('zstd', ['-dc'], { input: rest, maxBuffer: 1 << 30 }).stdout;
  else if (magic.startsWith('1f8b')) cpio = spawnSync('gzip', ['-dc'], { input: rest, maxBuffer: 1 << 30 }).stdout;
  else if (magic === 'fd377a58') cpio = spawnSync('xz', ['-dc'], { input: rest, maxBuffer: 1 << 30 }).stdout;
  else cpio = rest;
  const list = spawnSync('cpio', ['-it', '--quiet'], { input: cpio, maxBuffer: 1 << 30, encoding: 'buffer' });
  return list.stdout.toString('utf8').split('\n').filter(Boolean);
}

let first: Result;
let extra: Result;

afterAll(() => {
  if (process.env.FCOS_E2E_KEEP !== '1') rmSync(WORK, { recursive: true, force: true });
});

describe('fcos compose: bad input (no bootstrap)', () => {
  const fail = async (args: string[], env: Record<string, string> = {}) => {
    const r = await execa(FCOS, ['compose', ...args], { reject: false, env: { FCOS_BUILDS_DIR: '', ...env } });
    return { code: r.exitCode, err: String(r.stderr) };
  };

  it('an invalid manifest: every problem with line and column, exit 1', async () => {
    writeFileSync(join(WORK, 'bad.yaml'), 'packages: [systemd]\nsuit: trixie\ninitramfs:\n  compress: lzma\n');
    const { code, err } = await fail(['--manifest', join(WORK, 'bad.yaml'), '--builds', join(WORK, 'bad-builds')]);
    expect(code).toBe(1);
    expect(err).toContain("bad.yaml:2:1: unknown key 'suit'");
    expect(err).toContain('bad.yaml:4:13: /initramfs/compress: must be one of');
    expect(err).not.toMatch(/at .*\.js:\d+/);
  });

  it('an unknown package: apt says why, before any bootstrap', async () => {
    writeFileSync(join(WORK, 'unknown.yaml'), 'packages: [systemd, no-such-package-fcos]\n');
    const { code, err } = await fail(['--manifest', join(WORK, 'unknown.yaml'), '--builds', join(WORK, 'unknown-builds')]);
    expect(code).toBe(1);
    expect(err).toContain('no-such-package-fcos');
    expect(err).toMatch(/Unable to locate package no-such-package-fcos/);
    expect(existsSync(join(WORK, 'unknown-builds', 'repo'))).toBe(false);
  });

  it('missing host tools: the Debian packages to install', async () => {
    const bin = join(WORK, 'node-only-bin');
    spawnSync('mkdir', ['-p', bin]);
    spawnSync('ln', ['-sf', process.execPath, join(bin, 'node')]);
    const { code, err } = await fail(['--builds', join(WORK, 'tools-builds')], { PATH: bin });
    expect(code).toBe(1);
    expect(err).toMatch(/required tools not found: mmdebstrap, ostree/);
    expect(err).toMatch(/apt-get install mmdebstrap ostree/);
  });
});

describe('fcos compose: Ctrl-C', () => {
  it('Ctrl-C (SIGINT to the process group) once the bootstrap has a mount under the builds dir: exit 130, no mounts, no work dir, no temp dir, no lock', async () => {
    const bd = join(WORK, 'term-builds');
    const mountsIn = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));
    const mmTmp = () => readdirSync('/tmp').filter((n) => n.startsWith('mmdebstrap'));
    const tmpBefore = new Set(mmTmp());
    // Its own process group, like a shell job: Ctrl-C reaches fcos and mmdebstrap, apt, dpkg alike.
    const child = execa(FCOS, ['compose', '--force', '--builds', bd], { detached: true, reject: false, buffer: false, stderr: 'pipe', env: { FCOS_BUILDS_DIR: '' } });
    let err = '';
    let ended = false;
    child.stderr!.on('data', (d: Buffer) => void (err += d.toString()));
    void child.then(() => (ended = true));
    // Poll for a mount made by the compose (mmdebstrap --mode=root mounts /proc, /sys, /dev into the new root under
    // bd/.tmp): the state a Ctrl-C must clean up. Not a fixed delay after a log line.
    let seen: string[] = [];
    const deadline = Date.now() + 15 * 60_000;
    while (!seen.length && Date.now() < deadline && !ended) {
      seen = mountsIn(bd);
      if (!seen.length) await new Promise((r) => setTimeout(r, 100));
    }
    if (!seen.length && !ended) process.kill(-child.pid!, 'SIGINT');
    if (!seen.length) await child;
    expect(seen.length, `no mount under ${bd} before the compose ended or 15 min passed:\n${err.slice(-2000)}`).toBeGreaterThan(0);
    process.kill(-child.pid!, 'SIGINT');
    const r = await child;
    expect(r.exitCode, err.slice(-2000)).toBe(130);
    expect(err).toContain('==> bootstrap');
    expect(mountsIn(bd)).toEqual([]);
    expect(existsSync(join(bd, '.lock'))).toBe(false);
    expect(readdirSync(join(bd, '.tmp'))).toEqual([]);
    expect(existsSync(join(bd, 'latest'))).toBe(false);
    expect(mmTmp().filter((n) => !tmpBefore.has(n))).toEqual([]);
  });
});

describe('fcos compose (default manifest)', () => {
  beforeAll(async () => {
    first = (await compose(['--builds', B])).result;
  });

  it('commits the tree on the ref, and the repo is consistent', () => {
    expect(first.changed).toBe(true);
    expect(first.ref).toBe(REF);
    expect(first.repo).toBe(REPO);
    expect(ostree('rev-parse', `--repo=${REPO}`, REF).trim()).toBe(first.commit);
    expect(ostree('show', `--repo=${REPO}`, '--print-metadata-key=version', first.commit).trim()).toBe(`'${first.buildId}'`);
    expect(ostree('config', `--repo=${REPO}`, 'get', 'core.mode').trim()).toBe('archive-z2');
    ostree('fsck', `--repo=${REPO}`);
    expect(existsSync(join(REPO, 'summary'))).toBe(true);
  });

  it('holds the OS in /usr: etcd, podman, containerd, kernel and initramfs, /usr/etc, empty /var and /boot', () => {
    for (const p of ['/usr/bin/etcd', '/usr/bin/podman', '/usr/bin/containerd', '/usr/etc/os-release', '/usr/etc/machine-id']) {
      expect(ostreeOk('ls', `--repo=${REPO}`, REF, p), p).toBe(true);
    }
    expect(ostree('cat', `--repo=${REPO}`, REF, '/usr/etc/machine-id')).toBe('uninitialized\n');
    expect(ostreeOk('ls', `--repo=${REPO}`, REF, '/etc')).toBe(false);
    const kvers = ostree('ls', `--repo=${REPO}`, '-C', REF, '/usr/lib/modules')
      .split('\n')
      .filter((l) => l.startsWith('d0'))
      .map((l) => l.trim().split(/\s+/).pop()!)
      .filter((p) => p !== '/usr/lib/modules')
      .map((p) => p.split('/').pop()!);
    expect(kvers).toHaveLength(1);
    for (const f of ['vmlinuz', 'initramfs.img']) expect(ostreeOk('ls', `--repo=${REPO}`, REF, `/usr/lib/modules/${kvers[0]}/${f}`)).toBe(true);
    for (const d of ['/var', '/boot', '/dev', '/run', '/tmp', '/sysroot']) {
      const entries = ostree('ls', `--repo=${REPO}`, REF, d).trim().split('\n');
      expect(entries, d).toHaveLength(1); // only the directory itself
    }
    const links = ostree('ls', `--repo=${REPO}`, REF, '/');
    expect(links).toMatch(/\/home -> var\/home/);
    expect(links).toMatch(/\/root -> var\/roothome/);
    expect(links).toMatch(/\/ostree -> sysroot\/ostree/);
    expect(ostree('ls', `--repo=${REPO}`, REF, '/usr/local')).toMatch(/-> \.\.\/var\/usrlocal/);
    // No SSH host keys in the commit; passwords off.
    expect(ostree('ls', `--repo=${REPO}`, REF, '/usr/etc/ssh')).not.toMatch(/ssh_host_/);
    expect(ostree('cat', `--repo=${REPO}`, REF, '/usr/etc/ssh/sshd_config.d/10-fcos.conf')).toContain('PasswordAuthentication no');
    // etcd is not enabled.
    expect(ostree('ls', `--repo=${REPO}`, REF, '/usr/etc/systemd/system/multi-user.target.wants')).not.toMatch(/etcd\.service/);

    const img = Buffer.from(spawnSync('ostree', ['cat', `--repo=${REPO}`, REF, `/usr/lib/modules/${kvers[0]}/initramfs.img`], { maxBuffer: 1 << 30 }).stdout);
    const files = initramfsFiles(img);
    expect(files.length).toBeGreaterThan(100);
    expect(files.some((f) => f.includes('ignition'))).toBe(true);
    expect(files.some((f) => /usr\/lib\/ostree\/ostree-prepare-root|ostree-prepare-root/.test(f))).toBe(true);
    expect(files.some((f) => f.endsWith('systemd/system/ignition-files.service') || f.includes('ignition-files'))).toBe(true);
  });

  it('writes meta.json, builds.json and latest like cosa', () => {
    const meta = JSON.parse(readFileSync(first.metaPath, 'utf8'));
    expect(meta.buildid).toBe(first.buildId);
    expect(meta['ostree-commit']).toBe(first.commit);
    expect(meta['ostree-version']).toBe(first.buildId);
    expect(meta.ref).toBe(REF);
    expect(meta['ostree-timestamp']).toMatch(/^\d{4}-\d\d-\d\dT/);
    for (const p of ['etcd-server', 'podman', 'containerd', 'systemd', 'ignition', 'ostree', 'linux-image-cloud-amd64']) expect(meta.packages[p], p).toBeTruthy();
    expect(meta['fcos.input-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(meta.artifacts.initramfs.size).toBeGreaterThan(1_000_000);
    const bj = JSON.parse(readFileSync(join(B, 'builds.json'), 'utf8'));
    expect(bj['schema-version']).toBe('1.0.0');
    expect(bj.builds[0]).toEqual({ id: first.buildId, arches: ['x86_64'] });
    expect(readlinkSync(join(B, 'latest'))).toBe(first.buildId);
  });

  it('a second compose reports no changes', async () => {
    const t0 = Date.now();
    const { result, stderr } = await compose(['--builds', B]);
    process.stderr.write(`no-change compose returned in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    expect(result.changed).toBe(false);
    expect(stderr).toContain('No changes in image inputs');
    expect(result.commit).toBe(first.commit);
    expect(readlinkSync(join(B, 'latest'))).toBe(first.buildId);
  });

  it('one extra package gives a new commit whose parent is the previous one', async () => {
    // The default manifest with its overlay copied next to it (an overlay must lie inside its manifest's directory).
    const text = readFileSync(DEFAULT_MANIFEST, 'utf8')
      .replace(/^overlay: .*$/m, 'overlay: default-overlay')
      .replace(/^packages:\n/m, 'packages:\n  - less\n');
    cpSync(join(ROOT, 'ostree', 'manifests', 'default-overlay'), join(WORK, 'default-overlay'), { recursive: true });
    writeFileSync(join(WORK, 'extra.yaml'), text);
    extra = (await compose(['--builds', B, '--manifest', join(WORK, 'extra.yaml')])).result;
    expect(extra.changed).toBe(true);
    expect(extra.commit).not.toBe(first.commit);
    expect(extra.parent).toBe(first.commit);
    expect(ostree('rev-parse', `--repo=${REPO}`, `${extra.commit}^`).trim()).toBe(first.commit);
    expect(ostree('rev-parse', `--repo=${REPO}`, REF).trim()).toBe(extra.commit);
    expect(ostreeOk('ls', `--repo=${REPO}`, extra.commit, '/usr/bin/less')).toBe(true);
    expect(JSON.parse(readFileSync(extra.metaPath, 'utf8')).packages.less).toBeTruthy();
    expect(readlinkSync(join(B, 'latest'))).toBe(extra.buildId);
    const bj = JSON.parse(readFileSync(join(B, 'builds.json'), 'utf8'));
    expect(bj.builds.map((b: { id: string }) => b.id)).toEqual([extra.buildId, first.buildId]);
  });

  it('is reproducible: the same inputs give the same commit checksum', async () => {
    // The update signing key is an input (its public half is shipped in the tree as /usr/lib/fcos/updates.gpg): the
    // fresh builds dir gets the same key, as a second build machine of the same project would.
    expect(existsSync(join(B, 'keys', 'fcos-updates.gpg'))).toBe(true);
    cpSync(join(B, 'keys'), join(B2, 'keys'), { recursive: true });
    const again = (await compose(['--builds', B2, '--force'])).result;
    expect(again.changed).toBe(true);
    expect(again.buildId).toBe(first.buildId);
    if (again.commit !== first.commit) {
      // Show what differs: bring the commit into B's repo and diff.
      spawnSync('ostree', [`--repo=${REPO}`, 'pull-local', join(B2, 'repo'), again.commit]);
      const diff = spawnSync('ostree', ['diff', `--repo=${REPO}`, first.commit, again.commit], { encoding: 'utf8' });
      process.stderr.write(`commits differ: ${first.commit} vs ${again.commit}\nostree diff:\n${diff.stdout}${diff.stderr}\n`);
    }
    expect(again.commit).toBe(first.commit);
  });

  it('survives SIGKILL during the commit step: fsck clean, ref and latest unchanged, the next compose works', async () => {
    const before = ostree('rev-parse', `--repo=${REPO}`, REF).trim();
    const latestBefore = readlinkSync(join(B, 'latest'));
    const child: ResultPromise = execa(FCOS, ['compose', '--force', '--builds', B, '--manifest', join(WORK, 'extra.yaml')], { detached: true, reject: false, buffer: false, stderr: 'pipe' });
    let seenCommit = false;
    let err = '';
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`compose never reached the commit step:\n${err.slice(-2000)}`)), 30 * 60_000);
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (!seenCommit && err.includes('==> commit')) {
          seenCommit = true;
          // Let ostree commit write objects for a moment, then kill the whole process group.
          setTimeout(() => {
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              /* gone */
            }
            clearTimeout(timer);
            res();
          }, 4000);
        }
      });
      void child.then(() => {
        if (!seenCommit) {
          clearTimeout(timer);
          rej(new Error(`compose exited before the commit step:\n${err.slice(-2000)}`));
        }
      });
    });
    await child;
    expect(ostree('rev-parse', `--repo=${REPO}`, REF).trim()).toBe(before);
    expect(readlinkSync(join(B, 'latest'))).toBe(latestBefore);
    ostree('fsck', `--repo=${REPO}`);
    // The killed compose left its lock and work dir; the next compose takes them over.
    expect(existsSync(join(B, '.lock'))).toBe(true);
    const { result, stderr } = await compose(['--builds', B, '--manifest', join(WORK, 'extra.yaml')]);
    expect(stderr).toMatch(/stale compose lock/);
    expect(result.changed).toBe(false);
    expect(result.commit).toBe(before);
    expect(readdirSync(join(B, '.tmp'))).toEqual([]);
    expect(existsSync(join(B, '.lock'))).toBe(false);
    ostree('fsck', `--repo=${REPO}`);
  });
});
