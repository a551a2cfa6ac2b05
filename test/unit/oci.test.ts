import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync, linkSync, chmodSync, readdirSync, createWriteStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import {
  buildOciImage,
  MT_MANIFEST,
  MT_CONFIG,
  MT_LAYER_GZIP,
  MT_INDEX,
  ANN_REF_NAME,
  ANN_CONTAINERD_NAME,
} from '../../ostree/k8s/oci.js';
import { listLayer, readOciArchive, verifyOciArchive } from './oci-helpers.js';
import { UserError } from '../../lib/errors.js';

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

let dir: string;
let rootfs: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fcos-oci-test-'));
  rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'usr', 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  mkdirSync(join(rootfs, 'tmp'));
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  writeFileSync(join(rootfs, 'usr', 'bin', 'app'), '#!/bin/sh\necho app\n');
  chmodSync(join(rootfs, 'usr', 'bin', 'app'), 0o755);
  linkSync(join(rootfs, 'usr', 'bin', 'app'), join(rootfs, 'usr', 'bin', 'app-hardlink'));
  symlinkSync('app', join(rootfs, 'usr', 'bin', 'app-link'));
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc', 'b-second'), 'b');
  writeFileSync(join(rootfs, 'etc', 'a-first'), 'a');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Independent check (not using verifyOciArchive): recompute every digest and size by hand. */
async function checkLayout(path: string) {
  const a = await readOciArchive(path);
  expect(a.layout).toEqual({ imageLayoutVersion: '1.0.0' });
  expect(a.names).toContain('oci-layout');
  expect(a.names).toContain('index.json');
  expect(a.index.schemaVersion).toBe(2);
  expect(a.index.mediaType).toBe(MT_INDEX);
  for (const [digest, blob] of a.blobs) expect(sha(blob)).toBe(digest);
  expect(a.index.manifests).toHaveLength(1);
  const md = a.index.manifests[0]!;
  expect(md.mediaType).toBe(MT_MANIFEST);
  const mblob = a.blobs.get(md.digest)!;
  expect(mblob.length).toBe(md.size);
  const manifest = JSON.parse(mblob.toString());
  expect(manifest.schemaVersion).toBe(2);
  expect(manifest.mediaType).toBe(MT_MANIFEST);
  expect(manifest.config.mediaType).toBe(MT_CONFIG);
  const cblob = a.blobs.get(manifest.config.digest)!;
  expect(cblob.length).toBe(manifest.config.size);
  const config = JSON.parse(cblob.toString());
  expect(config.rootfs.type).toBe('layers');
  expect(manifest.layers.length).toBe(config.rootfs.diff_ids.length);
  manifest.layers.forEach((l: { mediaType: string; digest: string; size: number }, i: number) => {
    expect(l.mediaType).toBe(MT_LAYER_GZIP);
    const lb = a.blobs.get(l.digest)!;
    expect(lb.length).toBe(l.size);
    expect(sha(gunzipSync(lb))).toBe(config.rootfs.diff_ids[i]);
  });
  // nothing unreferenced
  expect(a.blobs.size).toBe(2 + manifest.layers.length);
  return { a, md, manifest, config };
}

describe('buildOciImage', () => {
  it('writes a valid OCI image layout from a rootfs directory', async () => {
    const out = join(dir, 'dir.tar');
    const r = await buildOciImage({
      name: 'localhost/fcos/test',
      tag: '1',
      from: { rootfsDir: rootfs },
      config: {
        entrypoint: ['/usr/bin/app'],
        cmd: ['--serve'],
        env: ['PATH=/usr/bin', 'PORT=80'],
        workingDir: '/',
        exposedPorts: ['80', '53/udp'],
        labels: { a: 'b' },
      },
      out,
    });
    const { md, manifest, config, a } = await checkLayout(out);
    expect(r.ref).toBe('localhost/fcos/test:1');
    expect(md.digest).toBe(r.manifestDigest);
    expect(manifest.config.digest).toBe(r.configDigest);
    expect(md.annotations?.[ANN_REF_NAME]).toBe('localhost/fcos/test:1');
    expect(md.annotations?.[ANN_CONTAINERD_NAME]).toBe('localhost/fcos/test:1');
    expect(md.platform).toEqual({ architecture: 'amd64', os: 'linux' });
    expect(config.architecture).toBe('amd64');
    expect(config.os).toBe('linux');
    expect(config.config.Entrypoint).toEqual(['/usr/bin/app']);
    expect(config.config.Cmd).toEqual(['--serve']);
    expect(config.config.Env).toEqual(['PATH=/usr/bin', 'PORT=80']);
    expect(config.config.ExposedPorts).toEqual({ '53/udp': {}, '80/tcp': {} });
    expect(config.config.Labels).toEqual({ a: 'b' });
    expect(config.config.WorkingDir).toBe('/');
    await expect(verifyOciArchive(out)).resolves.toMatchObject({ refs: ['localhost/fcos/test:1'], manifests: 1, blobs: 3 });

    // the layer: sorted, owned by 0:0, mtime 0, hard link and symlink kept, modes kept
    const entries = await listLayer(a.blobs.get(manifest.layers[0].digest)!);
    const names = entries.map((e) => e.name);
    expect(names).toEqual([
      'etc/',
      'etc/a-first',
      'etc/b-second',
      'etc/passwd',
      'tmp/',
      'usr/',
      'usr/bin/',
      'usr/bin/app',
      'usr/bin/app-hardlink',
      'usr/bin/app-link',
    ]);
    for (const e of entries) {
      expect(e.uid).toBe(0);
      expect(e.gid).toBe(0);
      expect(e.mtime?.getTime()).toBe(0);
    }
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
    expect(byName['usr/bin/app']!.mode).toBe(0o755);
    expect(byName['tmp/']!.mode).toBe(0o1777);
    expect(byName['usr/bin/app-hardlink']!.type).toBe('link');
    expect(byName['usr/bin/app-hardlink']!.linkname).toBe('usr/bin/app');
    expect(byName['usr/bin/app-link']!.type).toBe('symlink');
    expect(byName['usr/bin/app-link']!.linkname).toBe('app');
  });

  it('is deterministic: same input, same digests (and the archive is byte-identical)', async () => {
    const opts = { name: 'localhost/fcos/test', tag: '1', from: { rootfsDir: rootfs }, config: { cmd: ['/usr/bin/app'] } };
    const r1 = await buildOciImage({ ...opts, out: join(dir, 'det1.tar') });
    const r2 = await buildOciImage({ ...opts, out: join(dir, 'det2.tar') });
    expect(r1.manifestDigest).toBe(r2.manifestDigest);
    expect(r1.layers).toEqual(r2.layers);
    const { readFileSync } = await import('node:fs');
    expect(sha(readFileSync(join(dir, 'det1.tar')))).toBe(sha(readFileSync(join(dir, 'det2.tar'))));
    // SOURCE_DATE_EPOCH changes the timestamps, so the digest
    const r3 = await buildOciImage({ ...opts, out: join(dir, 'det3.tar'), sourceDateEpoch: 1700000000 });
    expect(r3.manifestDigest).not.toBe(r1.manifestDigest);
    const { config } = await checkLayout(join(dir, 'det3.tar'));
    expect(config.created).toBe('2023-11-14T22:13:20Z');
    // no temp files left next to the output
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('builds from in-memory files, adding parent directories', async () => {
    const out = join(dir, 'files.tar');
    const r = await buildOciImage({
      name: 'localhost/fcos/files',
      tag: 'v2',
      from: { files: [{ path: '/bin/hello', content: 'x', mode: 0o755 }, { path: '/etc/motd', content: 'hi' }] },
      config: { entrypoint: ['/bin/hello'] },
      out,
    });
    const { a, manifest } = await checkLayout(out);
    expect(r.ref).toBe('localhost/fcos/files:v2');
    const entries = await listLayer(a.blobs.get(manifest.layers[0].digest)!);
    expect(entries.map((e) => e.name)).toEqual(['bin/', 'bin/hello', 'etc/', 'etc/motd']);
  });

  it('builds from a rootfs tarball (plain and gzip), normalizing owners and times', async () => {
    const src = join(dir, 'src.tar');
    const pack = tar.pack();
    const done = pipeline(pack, createWriteStream(src));
    pack.entry({ name: './', type: 'directory', mode: 0o755, uid: 1000, gid: 1000, mtime: new Date() });
    pack.entry({ name: './bin/', type: 'directory', mode: 0o755, uid: 1000, gid: 1000, mtime: new Date() });
    pack.entry({ name: './bin/tool', mode: 0o755, uid: 1000, gid: 1000, mtime: new Date() }, 'tool');
    pack.entry({ name: './bin/tool2', type: 'link', linkname: './bin/tool', mtime: new Date() });
    pack.finalize();
    await done;
    const { readFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'src.tar.gz'), gzipSync(readFileSync(src)));
    const r1 = await buildOciImage({ name: 'localhost/t', tag: '1', from: { rootfsTar: src }, out: join(dir, 'fromtar.tar') });
    const r2 = await buildOciImage({ name: 'localhost/t', tag: '1', from: { rootfsTar: join(dir, 'src.tar.gz') }, out: join(dir, 'fromtgz.tar') });
    expect(r1.manifestDigest).toBe(r2.manifestDigest);
    const { a, manifest } = await checkLayout(join(dir, 'fromtar.tar'));
    const entries = await listLayer(a.blobs.get(manifest.layers[0].digest)!);
    expect(entries.map((e) => [e.name, e.uid, e.mtime?.getTime()])).toEqual([
      ['bin/', 0, 0],
      ['bin/tool', 0, 0],
      ['bin/tool2', 0, 0],
    ]);
    expect(entries[2]!.linkname).toBe('bin/tool');
  });

  it('builds from an existing OCI archive: keeps its layers, merges the config', async () => {
    const base = await buildOciImage({
      name: 'localhost/base',
      tag: '1',
      from: { rootfsDir: rootfs },
      config: { entrypoint: ['/usr/bin/app'], cmd: ['a'], env: ['PATH=/usr/bin', 'A=1'], labels: { x: '1' } },
      out: join(dir, 'base.tar'),
    });
    const derived = await buildOciImage({
      name: 'localhost/derived',
      tag: '2',
      from: { ociArchive: join(dir, 'base.tar') },
      config: { cmd: ['b'], env: ['A=2', 'B=3'], labels: { y: '2' } },
      out: join(dir, 'derived.tar'),
    });
    const { config, md } = await checkLayout(join(dir, 'derived.tar'));
    expect(derived.layers).toEqual(base.layers);
    expect(md.annotations?.[ANN_REF_NAME]).toBe('localhost/derived:2');
    expect(config.config.Entrypoint).toEqual(['/usr/bin/app']);
    expect(config.config.Cmd).toEqual(['b']);
    expect(config.config.Env).toEqual(['PATH=/usr/bin', 'A=2', 'B=3']);
    expect(config.config.Labels).toEqual({ x: '1', y: '2' });
    expect(config.history).toHaveLength(2);
  });

  it('detects a corrupted blob', async () => {
    const r = await buildOciImage({ name: 'localhost/c', tag: '1', from: { files: [{ path: 'f', content: 'x' }] }, out: join(dir, 'c.tar') });
    const a = await readOciArchive(join(dir, 'c.tar'));
    // rewrite the archive with a changed config blob under the same name
    const pack = tar.pack();
    const done = pipeline(pack, createWriteStream(join(dir, 'c-bad.tar')));
    for (const [d, b] of a.blobs) {
      const content = d === r.configDigest ? Buffer.from(b.toString().replace('"os":"linux"', '"os":"LINUX"')) : b;
      pack.entry({ name: `blobs/sha256/${d.slice(7)}` }, content);
    }
    pack.entry({ name: 'index.json' }, JSON.stringify(a.index));
    pack.entry({ name: 'oci-layout' }, JSON.stringify(a.layout));
    pack.finalize();
    await done;
    await expect(verifyOciArchive(join(dir, 'c-bad.tar'))).rejects.toThrow(/sha256/);
  });

  it('rejects bad names and missing inputs with UserErrors', async () => {
    const out = join(dir, 'x.tar');
    await expect(buildOciImage({ name: 'Bad/Name', tag: '1', from: { rootfsDir: rootfs }, out })).rejects.toBeInstanceOf(UserError);
    await expect(buildOciImage({ name: 'localhost/ok', tag: 'bad tag', from: { rootfsDir: rootfs }, out })).rejects.toBeInstanceOf(UserError);
    await expect(buildOciImage({ name: 'localhost/ok', tag: '1', from: { rootfsDir: join(dir, 'nope') }, out })).rejects.toBeInstanceOf(UserError);
    await expect(buildOciImage({ name: 'localhost/ok', tag: '1', from: { rootfsTar: join(dir, 'nope.tar') }, out })).rejects.toBeInstanceOf(UserError);
    await expect(buildOciImage({ name: 'localhost/ok', tag: '1', from: { ociArchive: join(dir, 'nope.tar') }, out })).rejects.toBeInstanceOf(UserError);
    await expect(
      buildOciImage({ name: 'localhost/ok', tag: '1', from: { files: [{ path: '../escape', content: 'x' }] }, out }),
    ).rejects.toBeInstanceOf(UserError);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});
