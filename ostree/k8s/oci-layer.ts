/**
 * The layer writers of the OCI image writer (./oci.ts): one gzip tar layer, deterministic (entries sorted by name,
 * mtimes given, uid/gid 0 unless ownership is kept, gzip without timestamp), from a host directory, a tarball or
 * in-memory files; with its digest (of the gzip) and diffID (of the tar).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, constants as zc } from 'node:zlib';
import * as tar from 'tar-stream';
import { UserError } from '../../lib/errors.js';

export const MT_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MT_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

/** A file given in memory (for tiny images: a static binary and a few files). */
export interface OciFile {
  /** Path inside the image, e.g. "/pause" or "etc/passwd". */
  path: string;
  /** Content: file; string/Buffer. Omit for directories. */
  content?: string | Buffer;
  /** Or: copy content from this host file. */
  sourcePath?: string;
  mode?: number;
  type?: 'file' | 'directory' | 'symlink';
  /** symlink target */
  linkname?: string;
}

export interface LayerBlob {
  file: string;
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Layer writers

export type Header = Partial<tar.Header> & { name: string };

/** Write a tar stream into a gzip layer file, computing diffID (tar sha256) and digest (gz sha256). */
export async function writeLayer(dir: string, produce: (pack: tar.Pack) => Promise<void>): Promise<LayerBlob> {
  const file = join(dir, `layer-${randomBytes(4).toString('hex')}.tar.gz`);
  const pack = tar.pack();
  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let size = 0;
  const tapTar = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      tarHash.update(chunk);
      cb(null, chunk);
    },
  });
  const tapGz = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      gzHash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const gz = createGzip({ level: zc.Z_BEST_COMPRESSION });
  const done = pipeline(pack, tapTar, gz, tapGz, createWriteStream(file));
  try {
    await produce(pack);
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
    await done.catch(() => undefined);
    throw e;
  }
  await done;
  return { file, digest: 'sha256:' + gzHash.digest('hex'), diffId: 'sha256:' + tarHash.digest('hex'), size, mediaType: MT_LAYER_GZIP };
}

/** Add one entry; for content streams, wait until fully written (with backpressure). */
export async function addEntry(pack: tar.Pack, header: Header, content?: Buffer | AsyncIterable<Uint8Array>): Promise<void> {
  if (content === undefined || Buffer.isBuffer(content)) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content === undefined) pack.entry(header, cb);
      else pack.entry(header, content, cb);
    });
    return;
  }
  let finished!: Promise<void>;
  const sink = await new Promise<ReturnType<tar.Pack['entry']>>((resolveSink) => {
    finished = new Promise<void>((resolve, reject) => {
      resolveSink(pack.entry(header, (err) => (err ? reject(err) : resolve())));
    });
  });
  for await (const chunk of content) {
    if (!sink.write(chunk)) await new Promise<void>((r) => sink.once('drain', () => r()));
  }
  sink.end(undefined as never);
  await finished;
}

export function normName(p: string, isDir: boolean): string {
  let n = posix.normalize(p.replace(/^\/+/, ''));
  if (n === '.' || n === '') n = '.';
  if (n.startsWith('../')) throw new UserError(`path escapes the image root: ${p}`);
  return isDir && n !== '.' && !n.endsWith('/') ? n + '/' : n;
}

/** Layer from a host directory: sorted walk, hard links kept, devices/fifos kept, sockets skipped. */
export async function layerFromDir(tmp: string, root: string, mtime: Date, preserveOwnership: boolean): Promise<LayerBlob> {
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new UserError(`rootfs directory not found: ${root}`);
  return writeLayer(tmp, async (pack) => {
    const seen = new Map<string, string>(); // dev:ino → first path (hard links)
    const walk = async (rel: string): Promise<void> => {
      const names = (await readdir(join(root, rel))).sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : a === b ? 0 : 1));
      for (const name of names) {
        const relPath = rel ? `${rel}/${name}` : name;
        const abs = join(root, relPath);
        const s = await lstat(abs);
        const base: Header = {
          name: relPath,
          mode: s.mode & 0o7777,
          uid: preserveOwnership ? s.uid : 0,
          gid: preserveOwnership ? s.gid : 0,
          mtime,
        };
        if (s.isDirectory()) {
          await addEntry(pack, { ...base, name: relPath + '/', type: 'directory' });
          await walk(relPath);
        } else if (s.isSymbolicLink()) {
          await addEntry(pack, { ...base, type: 'symlink', linkname: await readlink(abs) });
        } else if (s.isFile()) {
          const key = `${s.dev}:${s.ino}`;
          if (s.nlink > 1 && seen.has(key)) {
            await addEntry(pack, { ...base, type: 'link', linkname: seen.get(key)! });
            continue;
          }
          if (s.nlink > 1) seen.set(key, relPath);
          await addEntry(pack, { ...base, type: 'file', size: s.size }, createReadStream(abs));
        } else if (s.isCharacterDevice() || s.isBlockDevice()) {
          await addEntry(pack, {
            ...base,
            type: s.isCharacterDevice() ? 'character-device' : 'block-device',
            devmajor: Number(BigInt(s.rdev) >> 8n) & 0xfff,
            devminor: (s.rdev & 0xff) | ((s.rdev >> 12) & 0xfff00),
          });
        } else if (s.isFIFO()) {
          await addEntry(pack, { ...base, type: 'fifo' });
        } // sockets: skipped (cannot be stored in tar)
      }
    };
    await walk('');
  });
}

/** Layer from in-memory files: parent directories are added automatically. */
export async function layerFromFiles(tmp: string, files: OciFile[], mtime: Date): Promise<LayerBlob> {
  const entries = new Map<string, { header: Header; content?: Buffer | string; sourcePath?: string }>();
  const addDirs = (p: string) => {
    const parts = p.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/') + '/';
      if (!entries.has(d)) entries.set(d, { header: { name: d, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime } });
    }
  };
  for (const f of files) {
    const type = f.type ?? (f.content === undefined && f.sourcePath === undefined ? 'directory' : 'file');
    const name = normName(f.path, type === 'directory');
    addDirs(name.replace(/\/$/, ''));
    if (type === 'directory') entries.set(name, { header: { name, type, mode: f.mode ?? 0o755, uid: 0, gid: 0, mtime } });
    else if (type === 'symlink') {
      if (!f.linkname) throw new UserError(`symlink ${f.path} has no target`);
      entries.set(name, { header: { name, type, linkname: f.linkname, mode: f.mode ?? 0o777, uid: 0, gid: 0, mtime } });
    } else {
      entries.set(name, { header: { name, type: 'file', mode: f.mode ?? 0o644, uid: 0, gid: 0, mtime }, content: f.content, sourcePath: f.sourcePath });
    }
  }
  const sorted = [...entries.keys()].sort();
  return writeLayer(tmp, async (pack) => {
    for (const k of sorted) {
      const e = entries.get(k)!;
      if (e.header.type !== 'file') {
        await addEntry(pack, e.header);
        continue;
      }
      if (e.sourcePath !== undefined) {
        const s = await stat(e.sourcePath).catch(() => undefined);
        if (!s?.isFile()) throw new UserError(`file for image path /${k} not found: ${e.sourcePath}`);
        await addEntry(pack, { ...e.header, size: s.size }, createReadStream(e.sourcePath));
      } else {
        const buf = Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content ?? '');
        await addEntry(pack, { ...e.header, size: buf.length }, buf);
      }
    }
  });
}

export async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    await fh.read(b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Layer from an existing tarball (plain or gzip): entries kept in their order, timestamps/owners normalized. */
export async function layerFromTar(tmp: string, src: string, mtime: Date, preserveOwnership: boolean): Promise<LayerBlob> {
  if (!existsSync(src)) throw new UserError(`rootfs tarball not found: ${src}`);
  const gz = await isGzip(src);
  return writeLayer(tmp, async (pack) => {
    const ex = tar.extract();
    const input = gz ? createReadStream(src).pipe(createGunzip()) : createReadStream(src);
    input.on('error', (e: Error) => ex.destroy(e));
    input.pipe(ex);
    for await (const entry of ex) {
      const h = entry.header;
      const header: Header = {
        name: h.name.replace(/^\.\//, '').replace(/^\/+/, ''),
        type: h.type,
        mode: h.mode,
        uid: preserveOwnership ? h.uid : 0,
        gid: preserveOwnership ? h.gid : 0,
        mtime,
        linkname: h.type === 'link' ? (h.linkname ?? '').replace(/^\.\//, '').replace(/^\/+/, '') : h.linkname,
        size: h.type === 'file' || h.type === 'contiguous-file' ? h.size : 0,
        devmajor: h.devmajor,
        devminor: h.devminor,
      };
      if (header.type === 'contiguous-file') header.type = 'file';
      if (!header.name || header.name === './' || header.name === '.') {
        entry.resume();
        continue;
      }
      if (header.type === 'file') await addEntry(pack, header, entry as AsyncIterable<Uint8Array>);
      else {
        entry.resume();
        await addEntry(pack, header);
      }
    }
  });
}
