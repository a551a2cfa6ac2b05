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
import { closeSync, cpSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { UserError } from '../lib/errors.js';
import { renameDurably } from '../lib/paths.js';
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
  writeFileSync(tmp, data, { mode: 0o644 });
  renameDurably(tmp, path); // the file flushed, renamed, and the rename flushed (its directory)
}

/**
 * A builds.json or meta.json that is not one (not readable, not JSON, or not matching its schema). The message is one
 * line naming the file as the caller shows it (`fcos serve` sends it to clients with paths relative to the builds
 * dir); `hint` says what to do.
 */
export class BuildFileError extends UserError {}

/** What a build id may look like (it is a directory name under the builds dir). */
const BUILD_ID = '^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$';

/** builds.json (cosa's schema-version 1.0.0 layout). */
export const BUILDS_JSON_SCHEMA = {
  type: 'object',
  required: ['builds'],
  properties: {
    'schema-version': { type: 'string' },
    timestamp: { type: 'string' },
    builds: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string', pattern: BUILD_ID, not: { const: '..' } }, arches: { type: 'array', items: { type: 'string' } } },
      },
    },
  },
} as const;

/**
 * meta.json: the types of every key fcos reads (cosa's meta.json keys plus fcos.*). Keys are optional here, so an
 * older build still reads; a reader that needs a key says so (`readMeta(dir, {require})`). Unknown keys are kept.
 */
export const META_SCHEMA = {
  type: 'object',
  properties: {
    buildid: { type: 'string', pattern: BUILD_ID },
    name: { type: 'string' },
    ref: { type: 'string' },
    'ostree-commit': { type: 'string', minLength: 1 },
    'ostree-parent': { type: 'string', minLength: 1 },
    'ostree-timestamp': { type: 'string' },
    'ostree-version': { type: 'string' },
    'source-date-epoch': { type: 'integer' },
    suite: { type: 'string' },
    architecture: { type: 'string' },
    'kernel-version': { type: 'string' },
    'kernel-arguments': { type: 'array', items: { type: 'string' } },
    'image-size': { type: 'string' },
    packages: { type: 'object', additionalProperties: { type: 'string' } },
    artifacts: { type: 'object', additionalProperties: { type: 'object', properties: { path: { type: 'string' }, size: { type: 'integer' } } } },
    images: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['path'],
        properties: { path: { type: 'string', minLength: 1 }, sha256: { type: 'string' }, size: { type: 'integer', minimum: 0 } },
      },
    },
    'fcos.delta': { type: 'object', properties: { from: { type: 'string' }, size: { type: 'integer' } } },
    kubelet: { type: 'object', properties: { version: { type: 'string' }, sha256: { type: 'string' } } },
    'container-images': { type: 'array', items: { type: 'object', properties: { ref: { type: 'string' }, path: { type: 'string' } } } },
  },
} as const;

type Validator = ((v: unknown) => boolean) & { errors?: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[] | null };
let validators: { builds: Validator; meta: Validator } | undefined;
/** Compiled on first use (most commands never read a builds dir). */
function schemaValidators(): { builds: Validator; meta: Validator } {
  if (!validators) {
    const ajv = new Ajv({ allErrors: false, strict: false });
    validators = { builds: ajv.compile(BUILDS_JSON_SCHEMA) as Validator, meta: ajv.compile(META_SCHEMA) as Validator };
  }
  return validators;
}

/** The first schema error as "builds[0].id …": JSON paths the way the files' users read them. */
function schemaError(v: Validator): string {
  const e = v.errors?.[0];
  if (!e) return 'does not match its schema';
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((k) => (/^\d+$/.test(k) ? `[${k}]` : `.${k.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
  return `${path ? `"${path}" ` : ''}${e.message ?? e.keyword}`;
}

/** A JSON file of the builds dir: its value, or a BuildFileError naming it as `shown`. */
function readJsonFile(path: string, shown: string, hint?: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BuildFileError(`${shown} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, hint);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new BuildFileError(`${shown} is not valid JSON`, hint);
  }
}

export interface ReadOptions {
  /** How errors name the file (default: its path). */
  shown?: string;
  /** The hint of the error. */
  hint?: string;
}

/** builds.json, checked against its schema; an absent file is an empty list. */
export function readBuildsJson(buildsDir: string, o: ReadOptions = {}): BuildsJson {
  const p = join(buildsDir, 'builds.json');
  if (!existsSync(p)) return { 'schema-version': '1.0.0', builds: [] };
  const shown = o.shown ?? p;
  const j = readJsonFile(p, shown, o.hint);
  const v = schemaValidators().builds;
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new BuildFileError(`${shown} is not a builds.json`, o.hint);
  if (!Array.isArray((j as { builds?: unknown }).builds)) throw new BuildFileError(`${shown} has no "builds" array`, o.hint);
  if (!v(j)) {
    const e = v.errors?.[0];
    const idx = /^\/builds\/(\d+)/.exec(e?.instancePath ?? '')?.[1];
    if (idx !== undefined && /^\/builds\/\d+(\/id)?$/.test(e!.instancePath)) throw new BuildFileError(`${shown}: builds[${idx}] has no valid "id"`, o.hint);
    throw new BuildFileError(`${shown}: ${schemaError(v)}`, o.hint);
  }
  return j as BuildsJson;
}

/** The build ids of builds.json, newest first. */
export function readBuildIds(buildsDir: string, o: ReadOptions = {}): string[] {
  return readBuildsJson(buildsDir, o).builds.map((b) => b.id);
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

/**
 * A build's meta.json, checked against META_SCHEMA. `require`: keys this reader cannot do without (each must be
 * present; "has no "ostree-version" string" otherwise).
 */
export function readMeta(buildDir: string, o: ReadOptions & { require?: readonly (keyof BuildMeta & string)[] } = {}): BuildMeta {
  const p = join(buildDir, 'meta.json');
  const shown = o.shown ?? p;
  const m = readJsonFile(p, shown, o.hint);
  if (!m || typeof m !== 'object' || Array.isArray(m)) {
    throw new BuildFileError(`${shown} is not a build's metadata (${m === null ? 'null' : Array.isArray(m) ? 'an array' : typeof m})`, o.hint);
  }
  const v = schemaValidators().meta;
  if (!v(m)) throw new BuildFileError(`${shown}: ${schemaError(v)}`, o.hint);
  const missing = (o.require ?? []).find((k) => (m as Record<string, unknown>)[k] === undefined);
  if (missing) {
    const want = (META_SCHEMA.properties as Record<string, { type?: string }>)[missing]?.type ?? 'value';
    throw new BuildFileError(`${shown} has no "${missing}" ${want === 'object' ? 'object' : want === 'array' ? 'list' : want}`, o.hint);
  }
  return m as BuildMeta;
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

/** A compose as the image step sees it (what compose() returns; `changed`: a new commit was made). */
export interface ComposedBuild {
  buildId: string;
  ref: string;
  commit: string;
  repo: string;
  buildDir: string;
  metaPath: string;
  changed: boolean;
}

/** A compose as compose() returns it when nothing changed: what `fcos build --no-compose` builds from. */
export type ExistingCompose = ComposedBuild & { changed: false };

/** The latest compose of a builds dir (builds/latest, else the first of builds.json), as an unchanged compose. */
export function latestCompose(buildsDir: string): ExistingCompose {
  const b = readLatestBuild(buildsDir, { require: ['ref', 'ostree-commit'] });
  if (!b) throw new UserError(`no compose in ${buildsDir}`, 'run fcos compose first, or drop --no-compose');
  return { buildId: b.id, ref: b.meta.ref, commit: b.meta['ostree-commit'], repo: join(buildsDir, 'repo'), buildDir: b.dir, metaPath: join(b.dir, 'meta.json'), changed: false };
}

export interface LatestBuild {
  id: string;
  dir: string;
  meta: BuildMeta;
}

/** The newest build (builds/latest, else the first of builds.json), or undefined when there is none. */
export function readLatestBuild(buildsDir: string, o: Parameters<typeof readMeta>[1] = {}): LatestBuild | undefined {
  let id: string | undefined;
  try {
    id = readlinkSync(join(buildsDir, 'latest'));
  } catch {
    id = readBuildsJson(buildsDir).builds[0]?.id;
  }
  if (!id) return undefined;
  const dir = join(buildsDir, id);
  if (!existsSync(join(dir, 'meta.json'))) return undefined;
  return { id, dir, meta: readMeta(dir, o) };
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

/**
 * The serial after the largest one used so far (in builds.json or as a build directory) by versionFor's pattern
 * (e.g. "13.20251108.N"), 0 when none is: versions only grow, like cosa's, also after older builds were pruned or
 * in a forked builds dir that holds only its source's latest build (a gap is never filled in again).
 */
export function nextSerial(buildsDir: string, versionFor: (serial: number) => string): number {
  const used = new Set(readBuildsJson(buildsDir).builds.map((b) => b.id));
  for (const d of existsSync(buildsDir) ? readdirSync(buildsDir) : []) used.add(d);
  let last = -1;
  for (let s = 0; s < 100000; s++) if (used.has(versionFor(s))) last = s;
  if (last + 1 >= 100000) throw new UserError('no free version serial');
  return last + 1;
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
