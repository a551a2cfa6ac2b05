/**
 * Readers of OCI archives for the tests (the product only writes them): the whole archive in memory, a check of
 * every digest and size, and a layer's entries.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { UserError } from '../../lib/errors.js';
import { ANN_REF_NAME, MT_LAYER_GZIP, MT_MANIFEST, type OciDescriptor } from '../../ostree/k8s/oci.js';

type Header = Partial<tar.Header> & { name: string };

function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export interface OciArchiveContents {
  index: { schemaVersion: number; mediaType?: string; manifests: OciDescriptor[] };
  layout: { imageLayoutVersion: string };
  /** digest → blob (all blobs in memory: for tests and small images). */
  blobs: Map<string, Buffer>;
  /** Archive member names in order. */
  names: string[];
}

/** Read a whole OCI archive into memory. */
export async function readOciArchive(path: string): Promise<OciArchiveContents> {
  if (!existsSync(path)) throw new UserError(`OCI archive not found: ${path}`);
  const ex = tar.extract();
  createReadStream(path).pipe(ex);
  const blobs = new Map<string, Buffer>();
  const names: string[] = [];
  let index: OciArchiveContents['index'] | undefined;
  let layout: OciArchiveContents['layout'] | undefined;
  for await (const entry of ex) {
    const name = entry.header.name.replace(/^\.\//, '');
    names.push(name);
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const buf = Buffer.concat(chunks);
    if (name === 'index.json') index = JSON.parse(buf.toString('utf8'));
    else if (name === 'oci-layout') layout = JSON.parse(buf.toString('utf8'));
    else {
      const m = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(name);
      if (m) blobs.set(`${m[1]}:${m[2]}`, buf);
    }
  }
  if (!index) throw new UserError(`${path} is not an OCI archive: no index.json`);
  if (!layout) throw new UserError(`${path} is not an OCI archive: no oci-layout`);
  return { index, layout, blobs, names };
}

export interface OciVerifyReport {
  refs: string[];
  manifests: number;
  blobs: number;
}

/**
 * Check an OCI archive: every blob's sha256 matches its name, every descriptor's size and digest match the blob,
 * the config's diff_ids match the layers. Throws UserError on the first problem.
 */
export async function verifyOciArchive(path: string): Promise<OciVerifyReport> {
  const a = await readOciArchive(path);
  if (a.layout.imageLayoutVersion !== '1.0.0') throw new UserError(`${path}: oci-layout version ${a.layout.imageLayoutVersion}`);
  for (const [d, b] of a.blobs) if (sha256(b) !== d) throw new UserError(`${path}: blob ${d} has sha256 ${sha256(b)}`);
  const need = (desc: OciDescriptor, what: string): Buffer => {
    const b = a.blobs.get(desc.digest);
    if (!b) throw new UserError(`${path}: ${what} ${desc.digest} missing`);
    if (b.length !== desc.size) throw new UserError(`${path}: ${what} ${desc.digest} size ${b.length} != descriptor ${desc.size}`);
    return b;
  };
  const refs: string[] = [];
  for (const md of a.index.manifests) {
    if (md.mediaType !== MT_MANIFEST) throw new UserError(`${path}: unsupported manifest media type ${md.mediaType}`);
    const ref = md.annotations?.[ANN_REF_NAME];
    if (ref) refs.push(ref);
    const m = JSON.parse(need(md, 'manifest').toString('utf8')) as { schemaVersion: number; mediaType?: string; config: OciDescriptor; layers: OciDescriptor[] };
    if (m.schemaVersion !== 2) throw new UserError(`${path}: manifest schemaVersion ${m.schemaVersion}`);
    const cfg = JSON.parse(need(m.config, 'config').toString('utf8')) as { rootfs: { diff_ids: string[] } };
    if (cfg.rootfs.diff_ids.length !== m.layers.length) throw new UserError(`${path}: ${m.layers.length} layers but ${cfg.rootfs.diff_ids.length} diff_ids`);
    for (let i = 0; i < m.layers.length; i++) {
      const l = m.layers[i]!;
      const blob = need(l, 'layer');
      const tarBytes = l.mediaType === MT_LAYER_GZIP ? await gunzipBuffer(blob) : blob;
      if (sha256(tarBytes) !== cfg.rootfs.diff_ids[i]) throw new UserError(`${path}: layer ${i} diff_id mismatch`);
    }
  }
  return { refs, manifests: a.index.manifests.length, blobs: a.blobs.size };
}

async function gunzipBuffer(b: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(Readable.from([b]), createGunzip(), async function* (src: AsyncIterable<Buffer>) {
    for await (const c of src) chunks.push(c);
  });
  return Buffer.concat(chunks);
}

/** List the entries of one layer tar (for tests / inspection). */
export async function listLayer(blob: Buffer): Promise<Header[]> {
  const ex = tar.extract();
  Readable.from([blob]).pipe(createGunzip()).pipe(ex);
  const out: Header[] = [];
  for await (const e of ex) {
    out.push(e.header);
    e.resume();
  }
  return out;
}
