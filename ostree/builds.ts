/**
 * The builds directory, laid out like coreos-assembler's:
 *   builds/repo                 archive-mode ostree repo
 *   builds/<version>/meta.json  cosa-like build metadata
 *   builds/builds.json          {"schema-version":"1.0.0","builds":[{"id","arches":["x86_64"]}]}, newest first
 *   builds/latest               symlink to the newest build (replaced atomically by rename)
 *   builds/.lock                compose lock (pid); stale locks of dead processes are taken over
 *   builds/.tmp/                work dirs of running composes
 *
 * Every file is written to a temp name and renamed into place, so readers never see a partial file.
 */
import { closeSync, cpSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../lib/errors.js';
import { debug, warn } from '../lib/log.js';
import { setRef, updateSummary } from './repo.js';
import { run } from '../lib/run.js';

/** meta.json `kubelet`: which kubelet binary went into the commit. */
export interface KubeletRecord {
  version: string;
  /** The manifest's kubelet.source. */
  source: 'go-module' | 'url';
  /** sha256 (hex) of /usr/bin/kubelet. */
  sha256: string;
  /** go-module: h1: hash of k8s.io/kubernetes from go.sum. */
  moduleHash?: string;
  /** go-module: the Go toolchain that built it. */
  goVersion?: string;
  /** url: where it came from. */
  url?: string;
}

/** meta.json `container-images`: one preloaded OCI archive. */
export interface ContainerImageRecord {
  ref: string;
  /** Path in the commit (/usr/share/fcos/images/…). */
  path: string;
  manifestDigest: string;
  configDigest: string;
  size: number;
}

export interface ImageEntry {
  path: string;
  sha256: string;
  size: number;
  'uncompressed-sha256'?: string;
  'uncompressed-size'?: number;
}

export interface BuildMeta {
  buildid: string;
  name: string;
  ref: string;
  'ostree-commit': string;
  'ostree-timestamp': string;
  'ostree-version': string;
  'ostree-parent'?: string;
  'ostree-content-checksum'?: string;
  'coreos-assembler.image-input-checksum': string;
  'fcos.input-hash': string;
  'fcos.inputs': { manifest: string; overlays: string; packages: string; compose: string; kubelet?: string; images?: string; signing?: string };
  /** ostree/layer.ts: digest of every input but the manifest's overlay files, and those files. */
  'fcos.layer-base'?: string;
  'fcos.overlay-files'?: string[];
  /** 'layered': made by layering the overlay onto the parent commit (no bootstrap). */
  'fcos.compose-kind'?: 'full' | 'layered';
  /** The update signing key (OpenPGP fingerprint) and the static delta from the parent. */
  'fcos.signed-by'?: string;
  'fcos.delta'?: { from: string; size: number };
  /** kubelet.enabled: the kubelet binary in the commit (/usr/bin/kubelet). */
  kubelet?: KubeletRecord;
  /** kubelet.enabled: the OCI archives in /usr/share/fcos/images (pause, hello, the manifest's images). */
  'container-images'?: ContainerImageRecord[];
  'source-date-epoch': number;
  'build-time': string;
  'compose-seconds'?: number;
  suite: string;
  architecture: string;
  'kernel-version': string;
  'kernel-arguments': string[];
  'image-size': string;
  /** Installed packages "name": "version", from dpkg-query in the tree. */
  packages: Record<string, string>;
  /** What compose made (inside the commit), with sizes. */
  artifacts?: Record<string, { path: string; size: number; sha256?: string; commit?: string }>;
  /** Disk images; `fcos build` adds entries here (updateMeta). */
  images: Record<string, ImageEntry>;
  [k: string]: unknown;
}

export interface BuildsJson {
  'schema-version': '1.0.0';
  builds: { id: string; arches: string[] }[];
  timestamp?: string;
}

export function atomicWrite(path: string, data: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function readBuildsJson(buildsDir: string): BuildsJson {
  const p = join(buildsDir, 'builds.json');
  if (!existsSync(p)) return { 'schema-version': '1.0.0', builds: [] };
  try {
    const j = JSON.parse(readFileSync(p, 'utf8')) as BuildsJson;
    if (!Array.isArray(j.builds)) throw new Error('no builds array');
    return j;
  } catch (e) {
    throw new UserError(`${p} is not a valid builds.json: ${(e as Error).message}`);
  }
}

export function writeBuildsJson(buildsDir: string, j: BuildsJson): void {
  atomicWrite(join(buildsDir, 'builds.json'), JSON.stringify({ 'schema-version': '1.0.0', builds: j.builds, timestamp: new Date().toISOString() }, null, 2) + '\n');
}

/** Put a build first in builds.json (newest first). */
export function addBuild(buildsDir: string, id: string): void {
  const j = readBuildsJson(buildsDir);
  j.builds = [{ id, arches: ['x86_64'] }, ...j.builds.filter((b) => b.id !== id)];
  writeBuildsJson(buildsDir, j);
}

/** Point builds/latest at a build: a new symlink renamed over the old one (atomic). */
export function setLatest(buildsDir: string, id: string): void {
  const tmp = join(buildsDir, `.latest.tmp-${process.pid}`);
  rmSync(tmp, { force: true });
  symlinkSync(id, tmp);
  renameSync(tmp, join(buildsDir, 'latest'));
}

export function readMeta(buildDir: string): BuildMeta {
  const p = join(buildDir, 'meta.json');
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as BuildMeta;
  } catch (e) {
    throw new UserError(`cannot read build metadata ${p}: ${(e as Error).message}`);
  }
}

export function writeMeta(buildDir: string, meta: BuildMeta): void {
  atomicWrite(join(buildDir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
}

/**
 * Merge a patch into a build's meta.json (atomically). `images` entries are merged, not replaced.
 * Used by `fcos build` to add images.<name> = {path, sha256, size}.
 */
export function updateMeta(buildDir: string, patch: Partial<BuildMeta>): BuildMeta {
  const cur = readMeta(buildDir);
  const next: BuildMeta = { ...cur, ...patch, images: { ...(cur.images ?? {}), ...(patch.images ?? {}) } };
  writeMeta(buildDir, next);
  return next;
}

export interface LatestBuild {
  id: string;
  dir: string;
  meta: BuildMeta;
}

/** The newest build (builds/latest, else the first of builds.json), or undefined when there is none. */
export function readLatestBuild(buildsDir: string): LatestBuild | undefined {
  let id: string | undefined;
  try {
    id = readlinkSync(join(buildsDir, 'latest'));
  } catch {
    id = readBuildsJson(buildsDir).builds[0]?.id;
  }
  if (!id) return undefined;
  const dir = join(buildsDir, id);
  if (!existsSync(join(dir, 'meta.json'))) return undefined;
  return { id, dir, meta: readMeta(dir) };
}

/**
 * Undo later builds that were never imaged (e.g. a previous test or bench run's v2, v3…): the ref, the summary,
 * builds.json and `latest` go back to the newest build that has a disk image. Build directories and commits stay.
 * Returns the id it went back to, or undefined when the newest build is already imaged (or none is).
 */
export async function resetToImagedBuild(buildsDir: string): Promise<string | undefined> {
  if (!existsSync(join(buildsDir, 'builds.json'))) return undefined;
  const builds = readBuildsJson(buildsDir).builds;
  const imaged = builds.find((b) => {
    try {
      return Object.keys(readMeta(join(buildsDir, b.id)).images ?? {}).length > 0;
    } catch {
      return false;
    }
  });
  if (!imaged || imaged.id === builds[0]?.id) return undefined;
  const meta = readMeta(join(buildsDir, imaged.id));
  await setRef(join(buildsDir, 'repo'), meta.ref, meta['ostree-commit']);
  await updateSummary(join(buildsDir, 'repo'));
  addBuild(buildsDir, imaged.id);
  setLatest(buildsDir, imaged.id);
  return imaged.id;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take the compose lock of a builds dir: builds/.lock holds the pid. A lock of a live process refuses; a stale
 * lock (dead pid) is taken over. Created with O_EXCL, so two composes cannot both win.
 */
export function acquireLock(buildsDir: string): () => void {
  mkdirSync(buildsDir, { recursive: true });
  const lock = join(buildsDir, '.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let pid = NaN;
      try {
        pid = Number(readFileSync(lock, 'utf8').trim());
      } catch {
        continue;
      }
      if (pidAlive(pid) && pid !== process.pid) {
        throw new UserError(`another compose (pid ${pid}) is using ${buildsDir}`, `wait for it to finish; the lock is ${lock}`);
      }
      warn(`taking over the stale compose lock of pid ${Number.isNaN(pid) ? '?' : pid} (${lock})`);
      // Rename-then-unlink so that two processes taking over cannot both remove a fresh lock.
      const stale = `${lock}.stale-${process.pid}`;
      try {
        renameSync(lock, stale);
        rmSync(stale, { force: true });
      } catch {
        debug('stale lock vanished');
      }
    }
  }
  throw new UserError(`cannot take the compose lock ${lock}`);
}

/** The largest serial used so far for versions starting with a prefix (e.g. "13.20251108."). */
export function nextSerial(buildsDir: string, versionFor: (serial: number) => string): number {
  const ids = new Set(readBuildsJson(buildsDir).builds.map((b) => b.id));
  for (let s = 0; s < 100000; s++) {
    const v = versionFor(s);
    if (!ids.has(v) && !existsSync(join(buildsDir, v))) return s;
  }
  throw new UserError('no free version serial');
}

/**
 * A builds dir that starts from another one's latest build (one compose shared by several users, e.g. the e2e
 * files): dst is made anew with src's repo hard-linked (ostree never rewrites an object; refs and the summary are
 * replaced by rename, which breaks the link), src's signing key, and src's latest build as its only build. With
 * `images`, that build's image files are hard-linked too (VMs boot them through overlays and never write them);
 * without, its meta.json lists no images. A compose into dst with unchanged inputs reuses the build; a changed one
 * is a layered child of it, signed with the key its images trust.
 */
export async function forkBuildsDir(src: string, dst: string, o: { images?: boolean } = {}): Promise<LatestBuild> {
  const latest = readLatestBuild(src);
  if (!latest) throw new UserError(`no build in ${src} to start ${dst} from`, `run fcos compose --builds ${src} first`);
  rmSync(dst, { recursive: true, force: true });
  mkdirSync(dst, { recursive: true });
  await run('cp', ['-al', join(src, 'repo'), join(dst, 'repo')], { purpose: 'hard-link the repo into the new builds dir' });
  if (existsSync(join(src, 'keys'))) cpSync(join(src, 'keys'), join(dst, 'keys'), { recursive: true, filter: (p) => !/\/S\.[^/]*$/.test(p) }); // no gpg-agent sockets
  const dir = join(dst, latest.id);
  mkdirSync(dir);
  const meta: BuildMeta = { ...latest.meta, images: {} };
  delete meta['fcos.image-build'];
  if (o.images) {
    meta.images = latest.meta.images ?? {};
    if (latest.meta['fcos.image-build'] !== undefined) meta['fcos.image-build'] = latest.meta['fcos.image-build'];
    for (const img of Object.values(meta.images)) {
      const rel = (img as { path?: string }).path;
      if (rel && existsSync(join(latest.dir, rel))) linkSync(join(latest.dir, rel), join(dir, rel));
    }
  }
  writeMeta(dir, meta);
  writeBuildsJson(dst, { ...readBuildsJson(src), builds: [{ id: latest.id, arches: [latest.meta.architecture ?? 'x86_64'] }] });
  setLatest(dst, latest.id);
  return { id: latest.id, dir, meta };
}
