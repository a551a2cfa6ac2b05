/**
 * The images fcos builds itself, offline (no registry): the CRI sandbox image ("pause") and a demo HTTP server
 * for tests. Each is a tiny static Go program from ostree/k8s/src/<name>, built with
 * CGO_ENABLED=0 -trimpath -ldflags=-s, cached by (sources, Go version), and packaged by buildOciImage().
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../lib/paths.js';
import { run } from '../../lib/run.js';
import { BugError, UserError } from '../../lib/errors.js';
import { step, debug } from '../../lib/log.js';
import { goEnv, goVersion, resolveGoBin } from './go.js';
import { buildOciImage, type OciImageResult } from './oci.js';

export const PAUSE_IMAGE_NAME = 'localhost/fcos/pause';
export const PAUSE_IMAGE_TAG = '3.10';
/** The reference containerd's sandbox_image points at (ostree/guest/overlay-k8s/etc/containerd/config.toml). */
export const PAUSE_IMAGE = `${PAUSE_IMAGE_NAME}:${PAUSE_IMAGE_TAG}`;
export const HELLO_IMAGE_NAME = 'localhost/fcos/hello';
export const HELLO_IMAGE_TAG = '1';
export const HELLO_IMAGE = `${HELLO_IMAGE_NAME}:${HELLO_IMAGE_TAG}`;

/** ostree/k8s/src, from the sources (vitest) or from dist/ (the built CLI). */
export function goSourcesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'src'), join(here, '..', '..', '..', 'ostree', 'k8s', 'src')];
  for (const c of candidates) if (existsSync(join(c, 'pause', 'main.go'))) return c;
  throw new BugError(`Go sources of the fcos images not found (looked in ${candidates.join(', ')})`);
}

function hashTree(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      if (statSync(p).isDirectory()) walk(p, r);
      else h.update(`${r}\0`).update(readFileSync(p)).update('\0');
    }
  };
  walk(dir, '');
  return h.digest('hex');
}

export interface GoStaticBinary {
  path: string;
  cached: boolean;
  goVersion: string;
  /** sha256 of the Go sources (the cache key with the Go version). */
  sourceHash: string;
}

/**
 * Build one of the small programs in ostree/k8s/src as a static binary; cached by the hash of its sources
 * and the Go version. No network: the programs use only the standard library.
 */
export async function buildGoStatic(name: string, opts: { goBin?: string; srcDir?: string } = {}): Promise<GoStaticBinary> {
  const src = opts.srcDir ?? join(goSourcesDir(), name);
  if (!existsSync(join(src, 'go.mod'))) throw new UserError(`no Go module at ${src}`);
  const goBin = resolveGoBin(opts.goBin);
  const goVer = await goVersion(goBin);
  const sourceHash = hashTree(src);
  const dir = cacheDir('bin', name);
  const final = join(dir, `${name}-${sourceHash.slice(0, 16)}-${goVer}`);
  if (existsSync(final)) {
    debug(`${name} from cache: ${final}`);
    return { path: final, cached: true, goVersion: goVer, sourceHash };
  }
  return step(`build ${name} (static Go)`, async () => {
    const tmp = `${final}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await run(goBin, ['build', '-trimpath', '-ldflags=-s -w -buildid=', '-o', tmp, '.'], {
        cwd: src,
        env: goEnv(),
        purpose: `build ${name}`,
      });
      await rename(tmp, final);
    } finally {
      await rm(tmp, { force: true });
    }
    return { path: final, cached: false, goVersion: goVer, sourceHash };
  });
}

export interface BuiltImage extends OciImageResult {
  binary: GoStaticBinary;
}

const PASSWD = 'root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\n';

/** The pause (sandbox) image as an OCI archive at `out`. */
export async function buildPauseImage(out: string, opts: { goBin?: string; sourceDateEpoch?: number } = {}): Promise<BuiltImage> {
  const bin = await buildGoStatic('pause', opts);
  const img = await buildOciImage({
    name: PAUSE_IMAGE_NAME,
    tag: PAUSE_IMAGE_TAG,
    from: { files: [{ path: '/pause', sourcePath: bin.path, mode: 0o755 }] },
    config: {
      entrypoint: ['/pause'],
      user: '65535:65535',
      labels: { 'org.opencontainers.image.title': 'fcos pause' },
    },
    out,
    sourceDateEpoch: opts.sourceDateEpoch,
  });
  return { ...img, binary: bin };
}

/** The demo HTTP image (localhost/fcos/hello:1): serves "hello from fcos <hostname>" on port $PORT (80). */
export async function buildHelloImage(out: string, opts: { goBin?: string; sourceDateEpoch?: number } = {}): Promise<BuiltImage> {
  const bin = await buildGoStatic('hello', opts);
  const img = await buildOciImage({
    name: HELLO_IMAGE_NAME,
    tag: HELLO_IMAGE_TAG,
    from: {
      files: [
        { path: '/hello', sourcePath: bin.path, mode: 0o755 },
        { path: '/etc/passwd', content: PASSWD },
        { path: '/etc/group', content: GROUP },
        { path: '/tmp', type: 'directory', mode: 0o1777 },
      ],
    },
    config: {
      entrypoint: ['/hello'],
      env: ['PATH=/', 'PORT=80'],
      exposedPorts: ['80/tcp'],
      workingDir: '/',
      stopSignal: 'SIGTERM',
      labels: { 'org.opencontainers.image.title': 'fcos hello (demo HTTP server)' },
    },
    out,
    sourceDateEpoch: opts.sourceDateEpoch,
  });
  return { ...img, binary: bin };
}

/**
 * Write every image fcos preloads into `dir` (e.g. <rootfs>/usr/share/fcos/images): pause.tar and hello.tar.
 * The preload unit imports *.tar from there at first boot.
 */
export async function buildPreloadImages(dir: string, opts: { goBin?: string; sourceDateEpoch?: number } = {}): Promise<BuiltImage[]> {
  await mkdir(dir, { recursive: true });
  const pause = await buildPauseImage(join(dir, 'pause.tar'), opts);
  const hello = await buildHelloImage(join(dir, 'hello.tar'), opts);
  await writeFile(
    join(dir, 'images.json'),
    JSON.stringify(
      [pause, hello].map((i) => ({ ref: i.ref, file: i.out.slice(dir.length + 1), manifestDigest: i.manifestDigest })),
      null,
      2,
    ) + '\n',
  );
  return [pause, hello];
}
