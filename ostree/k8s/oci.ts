/**
 * OCI images without a registry or a container engine.
 *
 * buildOciImage() writes an OCI image-layout tar archive ("oci-archive"): `oci-layout`, `index.json` (one manifest,
 * named by `org.opencontainers.image.ref.name` and containerd's `io.containerd.image.name`), and
 * `blobs/sha256/…` (image config, manifest, gzip layers). It is what `ctr -n k8s.io images import`,
 * `podman load -i` and `skopeo copy oci-archive:…` read.
 *
 * Deterministic: entries sorted by name, mtimes = SOURCE_DATE_EPOCH (or 0), uid/gid 0, no uname/gname,
 * gzip without timestamp, JSON with a fixed key order, so the same input gives the same digests.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BugError, UserError } from '../../lib/errors.js';
import { withCleanup } from '../../lib/signals.js';
import { addEntry, layerFromDir, layerFromFiles, layerFromTar, type Header, type LayerBlob, type OciFile } from './oci-layer.js';

export { MT_LAYER_GZIP, MT_LAYER_TAR, type OciFile } from './oci-layer.js';

export const MT_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const ANN_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANN_CONTAINERD_NAME = 'io.containerd.image.name';

export interface OciImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  /** "KEY=value" entries. */
  env?: string[];
  workingDir?: string;
  /** "80/tcp", "53/udp" (a bare "80" means tcp). */
  exposedPorts?: string[];
  labels?: Record<string, string>;
  user?: string;
  stopSignal?: string;
}

export type OciSource =
  | { rootfsDir: string }
  | { rootfsTar: string }
  | { ociArchive: string }
  | { files: OciFile[] };

export interface BuildOciImageOptions {
  /** Repository name, e.g. "localhost/fcos/pause". */
  name: string;
  tag: string;
  from: OciSource;
  config?: OciImageConfig;
  /** Output archive path (…/pause.oci.tar). Written atomically. */
  out: string;
  /** Seconds since epoch for every timestamp; default $SOURCE_DATE_EPOCH, else 0. */
  sourceDateEpoch?: number;
  architecture?: string;
  os?: string;
  /** Keep the uid/gid of files from rootfsDir/rootfsTar (default: everything is owned by 0:0). */
  preserveOwnership?: boolean;
}

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  annotations?: Record<string, string>;
}

export interface OciImageResult {
  out: string;
  /** "localhost/fcos/pause:3.10" */
  ref: string;
  manifestDigest: string;
  configDigest: string;
  layers: { digest: string; diffId: string; size: number }[];
  /** Size of the archive file. */
  archiveSize: number;
}

function epochOf(opts: { sourceDateEpoch?: number }): number {
  if (opts.sourceDateEpoch !== undefined) return opts.sourceDateEpoch;
  const e = Number(process.env.SOURCE_DATE_EPOCH);
  return Number.isFinite(e) && process.env.SOURCE_DATE_EPOCH ? e : 0;
}

function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** GOARCH-style architecture of this host (OCI uses Go's names). */
export function hostArchitecture(): string {
  const m: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return m[process.arch] ?? process.arch;
}

/** Validate a reference name the way containerd/podman accept it (lowercase path components, a tag). */
export function validateRef(name: string, tag: string): void {
  const comp = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
  const re = new RegExp(`^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?${comp}(?:/${comp})*$`);
  if (!re.test(name)) throw new UserError(`invalid image name '${name}'`, 'use lowercase components such as localhost/fcos/pause');
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new UserError(`invalid image tag '${tag}'`);
}

/** Stable JSON: object keys in insertion order as built below (we build objects in a fixed order). */
function json(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

/** Extract the blobs of the (single-manifest) OCI archive to dir/<hex>; returns its manifest and config. */
async function baseFromArchive(path: string, dir: string): Promise<{ layers: LayerBlob[]; config: Record<string, unknown> }> {
  if (!existsSync(path)) throw new UserError(`base OCI archive not found: ${path}`);
  const ex = tar.extract();
  createReadStream(path).pipe(ex);
  const small = new Map<string, Buffer>();
  const files = new Map<string, string>();
  let indexBuf: Buffer | undefined;
  for await (const entry of ex) {
    const name = entry.header.name.replace(/^\.\//, '');
    const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
    if (m) {
      const f = join(dir, `base-${m[1]}`);
      const h = createHash('sha256');
      const tap = new PassThrough();
      tap.on('data', (c: Buffer) => h.update(c));
      await pipeline(entry, tap, createWriteStream(f));
      if (h.digest('hex') !== m[1]) throw new UserError(`${path}: blob ${m[1]} is corrupt`);
      files.set(`sha256:${m[1]}`, f);
      if ((entry.header.size ?? 0) < 4 * 1024 * 1024) small.set(`sha256:${m[1]}`, await import('node:fs/promises').then((fs) => fs.readFile(f)));
    } else if (name === 'index.json') {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      indexBuf = Buffer.concat(chunks);
    } else entry.resume();
  }
  if (!indexBuf) throw new UserError(`${path} is not an OCI archive: no index.json`);
  const index = JSON.parse(indexBuf.toString('utf8')) as { manifests: OciDescriptor[] };
  if (index.manifests.length !== 1) throw new UserError(`${path}: base archive must hold exactly one image (has ${index.manifests.length})`);
  const md = index.manifests[0]!;
  if (md.mediaType !== MT_MANIFEST) throw new UserError(`${path}: base image must be a single-platform OCI manifest, not ${md.mediaType}`);
  const mbuf = small.get(md.digest);
  if (!mbuf) throw new UserError(`${path}: manifest ${md.digest} missing`);
  const manifest = JSON.parse(mbuf.toString('utf8')) as { config: OciDescriptor; layers: OciDescriptor[] };
  const cbuf = small.get(manifest.config.digest);
  if (!cbuf) throw new UserError(`${path}: config ${manifest.config.digest} missing`);
  const config = JSON.parse(cbuf.toString('utf8')) as Record<string, unknown> & { rootfs: { diff_ids: string[] } };
  const layers = manifest.layers.map((l, i) => {
    const f = files.get(l.digest);
    if (!f) throw new UserError(`${path}: layer ${l.digest} missing`);
    return { file: f, digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: config.rootfs.diff_ids[i]! };
  });
  return { layers, config };
}

// ---------------------------------------------------------------------------------------------------------------

function imageConfigSection(c: OciImageConfig, base: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  if (c.user !== undefined) out.User = c.user;
  if (c.exposedPorts) {
    const ports: Record<string, Record<string, never>> = { ...((base.ExposedPorts as Record<string, Record<string, never>>) ?? {}) };
    for (const p of c.exposedPorts) ports[p.includes('/') ? p : `${p}/tcp`] = {};
    out.ExposedPorts = Object.fromEntries(Object.entries(ports).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  if (c.env) {
    const env = [...((base.Env as string[]) ?? [])];
    for (const e of c.env) {
      if (!e.includes('=')) throw new UserError(`image env entry '${e}' is not KEY=value`);
      const k = e.slice(0, e.indexOf('='));
      const i = env.findIndex((x) => x.startsWith(k + '='));
      if (i >= 0) env[i] = e;
      else env.push(e);
    }
    out.Env = env;
  }
  if (c.entrypoint) {
    out.Entrypoint = c.entrypoint;
    if (!c.cmd) delete out.Cmd; // like a Dockerfile: a new ENTRYPOINT resets CMD
  }
  if (c.cmd) out.Cmd = c.cmd;
  if (c.workingDir !== undefined) out.WorkingDir = c.workingDir;
  if (c.labels) out.Labels = { ...((base.Labels as Record<string, string>) ?? {}), ...c.labels };
  if (c.stopSignal !== undefined) out.StopSignal = c.stopSignal;
  // fixed key order
  const order = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'WorkingDir', 'Labels', 'StopSignal'];
  const sorted: Record<string, unknown> = {};
  for (const k of order) if (k in out) sorted[k] = out[k];
  for (const k of Object.keys(out).sort()) if (!(k in sorted)) sorted[k] = out[k];
  return sorted;
}

/** Build an OCI image-layout archive (see the file comment). */
export async function buildOciImage(opts: BuildOciImageOptions): Promise<OciImageResult> {
  validateRef(opts.name, opts.tag);
  const ref = `${opts.name}:${opts.tag}`;
  const epoch = epochOf(opts);
  const mtime = new Date(epoch * 1000);
  const created = mtime.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const architecture = opts.architecture ?? hostArchitecture();
  const os = opts.os ?? 'linux';
  await mkdir(dirname(opts.out), { recursive: true });
  return withCleanup(async (c) => {
    const tmp = join(dirname(opts.out), `.${basename(opts.out)}.tmp-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp);
    c.push('remove OCI temp dir', () => rm(tmp, { recursive: true, force: true }));

    let layers: LayerBlob[];
    let baseConfig: Record<string, unknown> = {};
    let baseHistory: unknown[] = [];
    const from = opts.from;
    let createdBy: string;
    if ('rootfsDir' in from) {
      layers = [await layerFromDir(tmp, from.rootfsDir, mtime, !!opts.preserveOwnership)];
      createdBy = 'fcos: layer from a root directory';
    } else if ('rootfsTar' in from) {
      layers = [await layerFromTar(tmp, from.rootfsTar, mtime, !!opts.preserveOwnership)];
      createdBy = 'fcos: layer from a rootfs tarball';
    } else if ('files' in from) {
      layers = [await layerFromFiles(tmp, from.files, mtime)];
      createdBy = 'fcos: layer from files';
    } else if ('ociArchive' in from) {
      const base = await baseFromArchive(from.ociArchive, tmp);
      layers = base.layers;
      baseConfig = (base.config.config as Record<string, unknown>) ?? {};
      baseHistory = (base.config.history as unknown[]) ?? [];
      createdBy = 'fcos: config on top of a base OCI image';
    } else {
      throw new BugError('buildOciImage: unknown source');
    }

    const config = {
      created,
      architecture,
      os,
      config: imageConfigSection(opts.config ?? {}, baseConfig),
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: [...baseHistory, { created, created_by: createdBy, ...('ociArchive' in from ? { empty_layer: true } : {}) }],
    };
    const configBuf = json(config);
    const configDesc: OciDescriptor = { mediaType: MT_CONFIG, digest: sha256(configBuf), size: configBuf.length };
    const manifest = {
      schemaVersion: 2,
      mediaType: MT_MANIFEST,
      config: configDesc,
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const manifestBuf = json(manifest);
    const manifestDesc: OciDescriptor = {
      mediaType: MT_MANIFEST,
      digest: sha256(manifestBuf),
      size: manifestBuf.length,
      platform: { architecture, os },
      annotations: { [ANN_CONTAINERD_NAME]: ref, [ANN_REF_NAME]: ref },
    };
    const index = { schemaVersion: 2, mediaType: MT_INDEX, manifests: [manifestDesc] };

    // The archive: oci-layout, blobs (sorted by digest, deduplicated), index.json last-but-sorted.
    const outTmp = join(tmp, 'archive.tar');
    const pack = tar.pack();
    const done = pipeline(pack, createWriteStream(outTmp));
    const hdr = (name: string, extra: Partial<Header> = {}): Header => ({ name, mode: 0o644, uid: 0, gid: 0, mtime, ...extra });
    const dirHdr = (name: string): Header => hdr(name, { type: 'directory', mode: 0o755 });
    await addEntry(pack, dirHdr('blobs/'));
    await addEntry(pack, dirHdr('blobs/sha256/'));
    const blobs = new Map<string, { buf?: Buffer; file?: string; size: number }>();
    blobs.set(configDesc.digest, { buf: configBuf, size: configBuf.length });
    blobs.set(manifestDesc.digest, { buf: manifestBuf, size: manifestBuf.length });
    for (const l of layers) blobs.set(l.digest, { file: l.file, size: l.size });
    for (const d of [...blobs.keys()].sort()) {
      const b = blobs.get(d)!;
      const name = `blobs/sha256/${d.slice('sha256:'.length)}`;
      if (b.buf) await addEntry(pack, hdr(name, { size: b.size }), b.buf);
      else await addEntry(pack, hdr(name, { size: b.size }), createReadStream(b.file!));
    }
    await addEntry(pack, hdr('index.json'), json(index));
    await addEntry(pack, hdr('oci-layout'), json({ imageLayoutVersion: '1.0.0' }));
    pack.finalize();
    await done;
    await rename(outTmp, opts.out);
    const archiveSize = (await stat(opts.out)).size;
    return {
      out: opts.out,
      ref,
      manifestDigest: manifestDesc.digest,
      configDigest: configDesc.digest,
      layers: layers.map((l) => ({ digest: l.digest, diffId: l.diffId, size: l.size })),
      archiveSize,
    };
  });
}
