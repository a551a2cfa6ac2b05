/**
 * The OCI archives fcos builds (pause, hello) against real consumers, with no registry:
 * - containerd: a private containerd (temp root/state/socket) started with fcos's own config.toml (only the paths
 *   changed), fed by fcos's own preload-images script; then the hello image runs and answers HTTP;
 * - containers/image: `skopeo inspect oci-archive:` and `podman load` into a temp storage root.
 * The host's containerd/podman are Debian bookworm's (scripts/deps.sh installs them); the image ships trixie's.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { run } from '../../lib/run.js';
import { buildPreloadImages, PAUSE_IMAGE, HELLO_IMAGE, type BuiltImage } from '../../ostree/k8s/images.js';
import { verifyOciArchive } from '../unit/oci-helpers.js';
import { overlayK8sDir } from '../../ostree/k8s/payload.js';

let dir: string;
let images: BuiltImage[];
let containerd: ChildProcess | undefined;
let sock: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const ctr = (args: string[], opts: { allowFailure?: boolean } = {}) =>
  run('ctr', ['--address', sock, '-n', 'k8s.io', ...args], { purpose: `ctr ${args[0]} ${args[1] ?? ''}`, timeoutMs: 120_000, ...opts });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fcos-oci-e2e-'));
  images = await buildPreloadImages(join(dir, 'images'));
}, 20 * 60_000);

afterAll(async () => {
  if (containerd && containerd.exitCode === null) {
    // stop what we started: tasks first, then containerd itself
    for (const id of ['fcos-hello-e2e', 'fcos-pause-e2e']) {
      await ctr(['tasks', 'kill', '-s', 'SIGKILL', id], { allowFailure: true });
      await ctr(['tasks', 'delete', '-f', id], { allowFailure: true });
      await ctr(['containers', 'delete', id], { allowFailure: true });
    }
    containerd.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
  }
  // overlay snapshots may still be mounted if containerd died: unmount before removing
  if (dir) {
    await run('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l`], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('fcos OCI archives', () => {
  it('are valid OCI layouts (digests, sizes, diff_ids) with the expected names', async () => {
    expect(images.map((i) => i.ref)).toEqual([PAUSE_IMAGE, HELLO_IMAGE]);
    for (const i of images) {
      const v = await verifyOciArchive(i.out);
      expect(v.refs).toEqual([i.ref]);
    }
  });

  it('skopeo reads them (containers/image oci-archive transport)', async () => {
    for (const i of images) {
      const r = await run('skopeo', ['inspect', `oci-archive:${i.out}`], { purpose: 'skopeo inspect' });
      const j = JSON.parse(r.stdout);
      expect(j.Digest).toBe(i.manifestDigest);
      expect(j.Architecture).toBe('amd64');
      expect(j.Os).toBe('linux');
    }
  });

  it('podman loads them under their names (temp storage)', async () => {
    const root = join(dir, 'podman');
    const p = (args: string[]) =>
      run('podman', ['--root', join(root, 'storage'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs', ...args], {
        purpose: `podman ${args[0]}`,
        timeoutMs: 300_000,
      });
    for (const i of images) {
      const r = await p(['load', '-i', i.out]);
      expect(r.stdout + r.stderr).toContain(`Loaded image: ${i.ref}`);
    }
    const ls = await p(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining([PAUSE_IMAGE, HELLO_IMAGE]));
    await run('sh', ['-c', `grep -o " ${root}[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l`], { allowFailure: true });
  });

  it('containerd (fcos config) imports them with preload-images, pinned; hello serves HTTP; pause runs', async () => {
    const ver = await run('containerd', ['--version']);
    process.stderr.write(`host containerd: ${ver.stdout.trim()}\n`);
    const root = join(dir, 'containerd');
    sock = join(root, 'containerd.sock');
    // fcos's config, with root/state/socket moved into the temp dir
    const cfg = readFileSync(join(overlayK8sDir(), 'etc/containerd/config.toml'), 'utf8')
      .replace('/var/lib/containerd/opt', join(root, 'opt'))
      .replace(/^version = 2$/m, `version = 2\nroot = "${root}/root"\nstate = "${root}/state"\n\n[grpc]\n  address = "${sock}"\n`);
    const cfgPath = join(dir, 'config.toml');
    writeFileSync(cfgPath, cfg);
    const dump = await run('containerd', ['--config', cfgPath, 'config', 'dump'], { purpose: 'check the containerd config' });
    expect(dump.stdout).toContain('sandbox_image = "localhost/fcos/pause:3.10"');
    expect(dump.stdout).toMatch(/SystemdCgroup = true/);

    const logPath = join(dir, 'containerd.log');
    const { openSync } = await import('node:fs');
    const logFd = openSync(logPath, 'a');
    containerd = spawn('containerd', ['--config', cfgPath], { stdio: ['ignore', logFd, logFd] });
    await waitFor('containerd socket', async () => existsSync(sock) && (await ctr(['version'], { allowFailure: true })).exitCode === 0);

    const script = join(overlayK8sDir(), 'usr/libexec/fcos/preload-images');
    const env = { CONTAINERD_ADDRESS: sock, FCOS_IMAGES_DIR: join(dir, 'images'), FCOS_STATE_DIR: join(dir, 'state'), FCOS_PODMAN: '0' };
    const first = await run(script, [], { env, purpose: 'preload images', timeoutMs: 300_000 });
    expect(first.stdout).toContain('preload-images: done');
    const ls = await ctr(['images', 'ls']);
    for (const ref of [PAUSE_IMAGE, HELLO_IMAGE]) {
      const line = ls.stdout.split('\n').find((l) => l.startsWith(ref + ' '));
      expect(line, `${ref} in ctr images ls:\n${ls.stdout}`).toBeDefined();
      expect(line).toContain('io.cri-containerd.pinned=pinned');
      expect(line).toContain(images.find((i) => i.ref === ref)!.manifestDigest);
    }
    // idempotent
    const second = await run(script, [], { env, purpose: 'preload images again' });
    expect(second.stdout).toContain('already imported');
    expect(readFileSync(join(dir, 'state', 'preload-images.stamp'), 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);

    // the demo image runs and answers
    const port = await freePort();
    await ctr(['run', '-d', '--net-host', '--env', `PORT=${port}`, HELLO_IMAGE, 'fcos-hello-e2e']);
    let body = '';
    await waitFor('hello to answer', async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      body = await r.text();
      return r.ok;
    });
    expect(body).toMatch(/^hello from fcos \S+\n$/);
    // the pause image runs and stays up until SIGTERM
    await ctr(['run', '-d', PAUSE_IMAGE, 'fcos-pause-e2e']);
    await new Promise((r) => setTimeout(r, 1000));
    const tasks = await ctr(['tasks', 'ls']);
    expect(tasks.stdout).toMatch(/fcos-hello-e2e\s+\d+\s+RUNNING/);
    expect(tasks.stdout).toMatch(/fcos-pause-e2e\s+\d+\s+RUNNING/);
    for (const id of ['fcos-hello-e2e', 'fcos-pause-e2e']) await ctr(['tasks', 'kill', '-s', 'SIGTERM', id]);
    await waitFor('tasks to stop on SIGTERM', async () => {
      const t = await ctr(['tasks', 'ls']);
      return !/RUNNING/.test(t.stdout);
    });
  });
});
