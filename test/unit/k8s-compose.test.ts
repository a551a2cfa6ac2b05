import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { imageArchiveName, kubeletSource, loadManifest, parseManifest, defaultManifestPath, type ResolvedImage } from '../../ostree/manifest.js';
import { inputHash, inputParts, sha256 } from '../../ostree/inputs.js';
import {
  composePackages,
  effectiveManifest,
  imagesDigest,
  k8sPayloadDigest,
  kubeletRecord,
  obtainKubelet,
  ociConfig,
} from '../../ostree/k8s/compose.js';
import { K8S_REQUIRED_PACKAGES, installK8sPayload, type InstallK8sPayloadOptions } from '../../ostree/k8s/payload.js';
import { DEFAULT_KUBELET_VERSION, type KubeletBinary } from '../../ostree/k8s/kubelet.js';
import { layoutTree } from '../../ostree/tree.js';
import { readOciArchive } from './oci-helpers.js';
import { UserError } from '../../lib/errors.js';
import { useTempCacheDir } from './cache-helpers.js';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

function err(text: string): string {
  try {
    parseManifest(text, 'm.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as UserError).message;
  }
  throw new Error('expected an error');
}

function loadErr(path: string): string {
  try {
    loadManifest(path);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as UserError).message;
  }
  throw new Error('expected an error');
}

const K = 'packages: [systemd]\nkubelet:\n  enabled: true\n';

describe('manifest: kubelet section', () => {
  it('accepts go-module (default source and version) and url + sha256 (source inferred)', () => {
    const a = parseManifest(K);
    expect(a.kubelet).toEqual({ enabled: true });
    expect(kubeletSource(a.kubelet)).toBe('go-module');
    const b = parseManifest(`${K}  source: go-module\n  version: v1.34.2\n`);
    expect(b.kubelet.version).toBe('v1.34.2');
    const c = parseManifest(`${K}  url: https://dl.k8s.io/v1.35.4/bin/linux/amd64/kubelet\n  sha256: ${'a'.repeat(64)}\n`);
    expect(kubeletSource(c.kubelet)).toBe('url');
    expect(kubeletSource(parseManifest(`${K}  source: url\n  url: file:///k\n  sha256: ${'b'.repeat(64)}\n`).kubelet)).toBe('url');
  });

  it('rejects bad combinations with line and column', () => {
    // url without sha256 → at the url key
    expect(err(`${K}  url: https://x/kubelet\n`)).toContain('m.yaml:4:3: /kubelet/url: url needs sha256');
    // source url without url
    expect(err(`${K}  source: url\n  sha256: ${'a'.repeat(64)}\n`)).toContain('m.yaml:4:3: /kubelet/source: source url needs url');
    // go-module with a url
    expect(err(`${K}  source: go-module\n  url: https://x/kubelet\n  sha256: ${'a'.repeat(64)}\n`)).toContain('m.yaml:5:3: /kubelet/url: url needs source: url');
    // sha256 alone
    expect(err(`${K}  sha256: ${'a'.repeat(64)}\n`)).toContain('m.yaml:4:3: /kubelet/sha256: sha256 only applies to source: url');
    // version with url source
    expect(err(`${K}  version: v1.35.4\n  url: file:///k\n  sha256: ${'a'.repeat(64)}\n`)).toContain('m.yaml:4:3: /kubelet/version: with source url');
    // schema errors
    expect(err(`${K}  source: git\n`)).toContain('m.yaml:4:11: /kubelet/source: must be one of "go-module", "url"');
    expect(err(`${K}  sha256: ABC\n  url: file:///k\n`)).toContain('m.yaml:4:11: /kubelet/sha256: invalid value');
    expect(err(`${K}  verison: v1.35.4\n`)).toContain("m.yaml:4:3: unknown key 'verison' in /kubelet");
  });
});

describe('manifest: images section', () => {
  let d: string;
  beforeEach(() => {
    d = tmp('fcos-img-manifest-');
    mkdirSync(join(d, 'web/root/bin'), { recursive: true });
    writeFileSync(join(d, 'web/root/bin/web'), '#!/bin/sh\necho hi\n');
    writeFileSync(join(d, 'base.tar'), 'not really a tar');
  });
  afterEach(() => rmSync(d, { recursive: true, force: true }));

  const IMG = `${K}images:\n  - name: localhost/example/web\n    tag: "1"\n`;

  it('accepts rootfs, tarball and oci-archive sources with config, resolved against the manifest dir', () => {
    writeFileSync(
      join(d, 'm.yaml'),
      `${IMG}    from: {rootfs: web/root}\n    entrypoint: [/bin/web]\n    cmd: [--port, "8080"]\n    env: {PORT: 8080, MODE: prod}\n    ports: [8080, 53/udp]\n` +
        `  - name: localhost/example/base\n    tag: v2\n    from: {tarball: ./base.tar}\n`,
    );
    const l = loadManifest(join(d, 'm.yaml'));
    expect(l.images.map((i) => [i.ref, i.kind, i.path, i.file])).toEqual([
      ['localhost/example/web:1', 'rootfs', join(d, 'web/root'), 'localhost_example_web_1.tar'],
      ['localhost/example/base:v2', 'tarball', join(d, 'base.tar'), 'localhost_example_base_v2.tar'],
    ]);
    expect(ociConfig(l.images[0]!)).toEqual({ entrypoint: ['/bin/web'], cmd: ['--port', '8080'], env: ['PORT=8080', 'MODE=prod'], exposedPorts: ['8080/tcp', '53/udp'] });
    // no images: an empty list, and the manifest has no images key (its hash stays as before)
    const m = parseManifest(K);
    expect(m.images).toBeUndefined();
  });

  it('refuses ../ escapes and absolute paths with line and column', () => {
    expect(err(`${IMG}    from: {rootfs: ../outside}\n`)).toContain("m.yaml:7:20: /images/0/from/rootfs: '../outside' escapes the manifest directory");
    expect(err(`${IMG}    from:\n      tarball: a/../../x.tar\n`)).toContain("m.yaml:8:16: /images/0/from/tarball: 'a/../../x.tar' escapes");
    expect(err(`${IMG}    from: {oci-archive: /etc/x.tar}\n`)).toContain('m.yaml:7:25: /images/0/from/oci-archive');
    expect(err(`${IMG}    from: {oci-archive: /etc/x.tar}\n`)).toContain('must be relative to the manifest directory');
  });

  it('refuses bad image entries with line and column', () => {
    expect(err(`${IMG}    from: {rootfs: a, tarball: b}\n`)).toContain('m.yaml:7:11: /images/0/from: give exactly one of rootfs, tarball, oci-archive');
    expect(err(`${IMG}    from: {}\n`)).toContain('/images/0/from: give exactly one of');
    expect(err(`${IMG}    from: {docker: x}\n`)).toContain("unknown key 'docker' in /images/0/from");
    expect(err(`${K}images:\n  - name: Local/Bad\n    tag: "1"\n    from: {rootfs: r}\n`)).toContain('m.yaml:5:11: /images/0/name: invalid value');
    expect(err(`${IMG}    from: {rootfs: r}\n    env: {bad-name: x}\n`)).toContain("m.yaml:8:11: /images/0/env: invalid name 'bad-name'");
    expect(err(`${IMG}    from: {rootfs: r}\n    ports: [70000]\n`)).toContain('m.yaml:8:13: /images/0/ports/0');
    expect(err(`${IMG}    from: {rootfs: r}\n    ports: [http]\n`)).toContain('/images/0/ports/0: invalid value');
    expect(err(`${K}images:\n  - name: localhost/x\n    from: {rootfs: r}\n`)).toContain("m.yaml:5:5: missing required key 'tag'");
    // the same ref twice, a built-in ref
    expect(err(`${IMG}    from: {rootfs: r}\n  - name: localhost/example/web\n    tag: "1"\n    from: {rootfs: s}\n`)).toContain(
      'm.yaml:8:11: /images/1: localhost/example/web:1 is listed twice',
    );
    expect(err(`${K}images:\n  - name: localhost/fcos/hello\n    tag: "1"\n    from: {rootfs: r}\n`)).toContain('m.yaml:5:11: /images/0: localhost/fcos/hello:1 is built in');
    // images without kubelet
    expect(err(`packages: [systemd]\nimages:\n  - name: localhost/x\n    tag: "1"\n    from: {rootfs: r}\n`)).toContain('m.yaml:2:1: /images: preloaded images need kubelet.enabled: true');
  });

  it('checks the sources exist, have the right type and stay inside (symlinks too), with line and column', () => {
    writeFileSync(join(d, 'm.yaml'), `${IMG}    from: {rootfs: nope}\n`);
    expect(loadErr(join(d, 'm.yaml'))).toContain(`m.yaml:7:20: /images/0/from/rootfs: not found: ${join(d, 'nope')}`);
    writeFileSync(join(d, 'm.yaml'), `${IMG}    from: {rootfs: base.tar}\n`);
    expect(loadErr(join(d, 'm.yaml'))).toContain("/images/0/from/rootfs: 'base.tar' is not a directory");
    writeFileSync(join(d, 'm.yaml'), `${IMG}    from: {tarball: web}\n`);
    expect(loadErr(join(d, 'm.yaml'))).toContain("/images/0/from/tarball: 'web' is not a file");
    const outside = tmp('fcos-outside-');
    symlinkSync(outside, join(d, 'escape'));
    writeFileSync(join(d, 'm.yaml'), `${IMG}    from: {rootfs: escape}\n`);
    expect(loadErr(join(d, 'm.yaml'))).toContain(`m.yaml:7:20: /images/0/from/rootfs: 'escape' resolves to ${outside}, outside the manifest directory`);
    rmSync(outside, { recursive: true, force: true });
  });
});

describe('package list', () => {
  it('adds the K8S packages with kubelet, not twice, keeping the manifest order', () => {
    const m = parseManifest(`packages: [systemd, containerd=1.7.24~ds1-6, "runc:amd64"]\nkubelet:\n  enabled: true\n`);
    const p = composePackages(m);
    expect(p.slice(0, 3)).toEqual(['systemd', 'containerd=1.7.24~ds1-6', 'runc:amd64']);
    for (const k of K8S_REQUIRED_PACKAGES) expect(p.some((x) => x === k || x.startsWith(`${k}=`) || x.startsWith(`${k}:`))).toBe(true);
    expect(new Set(p.map((x) => x.replace(/[=:].*$/, ''))).size).toBe(p.length);
    expect(p.filter((x) => x.startsWith('containerd'))).toEqual(['containerd=1.7.24~ds1-6']);
    const e = effectiveManifest(m);
    expect(e.packages).toEqual(p);
    expect(m.packages).toEqual(['systemd', 'containerd=1.7.24~ds1-6', 'runc:amd64']); // not mutated
  });

  it('leaves the list alone without kubelet', () => {
    const m = parseManifest('packages: [systemd]\n');
    expect(composePackages(m)).toEqual(['systemd']);
  });
});

function binary(over: Partial<KubeletBinary> = {}): KubeletBinary {
  return {
    path: '/cache/kubelet/v1.35.4-go1.26.8/kubelet',
    version: 'v1.35.4',
    source: 'go-module-proxy',
    sha256: 'f'.repeat(64),
    cached: true,
    goVersion: 'go1.26.8',
    moduleHash: 'h1:o/8dBC/pHVpYoGV4OAIytAlNPZbdYVTXJHoYvXC4qzM=',
    modules: ['k8s.io/api v0.0.0 => k8s.io/api v0.35.4'],
    buildDate: '2026-04-15T18:01:22Z',
    log: '/cache/kubelet/v1.35.4-go1.26.8/build.log',
    versionOutput: 'Kubernetes v1.35.4',
    ...over,
  };
}

/** A fake Go toolchain whose go binary fails if anything runs it (its version comes from $GOROOT/VERSION). */
function fakeGo(dir: string, version = 'go1.99.1'): string {
  const goroot = join(dir, 'goroot');
  mkdirSync(join(goroot, 'bin'), { recursive: true });
  writeFileSync(join(goroot, 'VERSION'), `${version}\ntime 2030-01-01T00:00:00Z\n`);
  writeFileSync(join(goroot, 'bin', 'go'), '#!/bin/sh\necho "go must not run" >&2\nexit 99\n');
  chmodSync(join(goroot, 'bin', 'go'), 0o755);
  return join(goroot, 'bin', 'go');
}

describe('meta.json kubelet record', () => {
  it('is built from a go-module KubeletBinary', () => {
    expect(kubeletRecord(binary())).toEqual({
      version: 'v1.35.4',
      source: 'go-module',
      sha256: 'f'.repeat(64),
      moduleHash: 'h1:o/8dBC/pHVpYoGV4OAIytAlNPZbdYVTXJHoYvXC4qzM=',
      goVersion: 'go1.26.8',
    });
  });

  it('is built from a url KubeletBinary', () => {
    const b = binary({ source: 'url', url: 'https://dl.k8s.io/v1.35.4/bin/linux/amd64/kubelet', goVersion: undefined, moduleHash: undefined, modules: undefined });
    expect(kubeletRecord(b)).toEqual({ version: 'v1.35.4', source: 'url', sha256: 'f'.repeat(64), url: 'https://dl.k8s.io/v1.35.4/bin/linux/amd64/kubelet' });
  });
});

describe('obtaining the kubelet', () => {
  it('go-module: ensureKubelet with the manifest version or the default; url: fetchKubelet with url + sha256', async () => {
    const calls: unknown[] = [];
    const ensure = async (o: unknown) => (calls.push(['ensure', o]), binary());
    const fetch = async (o: unknown) => (calls.push(['fetch', o]), binary({ source: 'url' }));
    await obtainKubelet(parseManifest(K).kubelet, { ensure, fetch, goBin: '/go' });
    await obtainKubelet(parseManifest(`${K}  version: v1.34.2\n`).kubelet, { ensure, fetch });
    await obtainKubelet(parseManifest(`${K}  url: file:///k\n  sha256: ${'c'.repeat(64)}\n`).kubelet, { ensure, fetch });
    expect(calls).toEqual([
      ['ensure', { version: DEFAULT_KUBELET_VERSION, goBin: '/go' }],
      ['ensure', { version: 'v1.34.2', goBin: undefined }],
      ['fetch', { url: 'file:///k', sha256: 'c'.repeat(64) }],
    ]);
  });

  describe('with a warm cache', () => {
    let dir: string;
    useTempCacheDir('fcos-k8s-warm-', (d) => (dir = d));

    it('the kubelet and the payload digest cost no go subprocess (no-change detection stays cheap)', async () => {
      const goBin = fakeGo(dir);
      const text = '#!/bin/sh\necho "Kubernetes v1.35.4"\n';
      const entry = join(dir, 'cache', 'kubelet', 'v1.35.4-go1.99.1');
      mkdirSync(entry, { recursive: true });
      writeFileSync(join(entry, 'kubelet'), text);
      const sha = createHash('sha256').update(text).digest('hex');
      writeFileSync(
        join(entry, 'kubelet.json'),
        JSON.stringify({ version: 'v1.35.4', source: 'go-module-proxy', sha256: sha, size: text.length, goVersion: 'go1.99.1', moduleHash: 'h1:x=', versionOutput: 'Kubernetes v1.35.4' }),
      );
      const b = await obtainKubelet(parseManifest(`${K}  version: v1.35.4\n`).kubelet, { goBin });
      expect(b.cached).toBe(true);
      expect(kubeletRecord(b)).toEqual({ version: 'v1.35.4', source: 'go-module', sha256: sha, moduleHash: 'h1:x=', goVersion: 'go1.99.1' });
      const d1 = await k8sPayloadDigest(b, { goBin });
      expect(await k8sPayloadDigest(b, { goBin })).toBe(d1);
      // another Go for pause/hello is another payload
      expect(await k8sPayloadDigest(b, { goBin: fakeGo(join(dir, 'other'), 'go1.99.2') })).not.toBe(d1);
    });
  });
});

describe('input hash with kubelet and images', () => {
  let dir: string;
  beforeEach(() => {
    dir = tmp('fcos-k8s-hash-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const base = () => ({ manifest: parseManifest(K), overlayDirs: [undefined], packages: { systemd: '257-1' }, fcosVersion: '0.1.0', sourceDateEpoch: 1 });

  it('a manifest without kubelet and images hashes as before (no kubelet/images parts)', () => {
    const p = inputParts({ ...base(), manifest: parseManifest('packages: [systemd]\n') });
    expect(p.kubelet).toBeUndefined();
    expect(p.images).toBeUndefined();
    expect(inputHash(p)).toBe(sha256(`manifest ${p.manifest}\noverlays ${p.overlays}\npackages ${p.packages}\ncompose ${p.compose}\n`));
  });

  it('changes with the kubelet version, source, sha256, module hash and Go version; not with cache details', async () => {
    const goBin = fakeGo(dir);
    const opts = { goBin, overlayDir: join(dir, 'ov'), imageSourcesDir: join(dir, 'src') };
    mkdirSync(opts.overlayDir);
    mkdirSync(opts.imageSourcesDir);
    const h = async (b: KubeletBinary) => inputHash(inputParts({ ...base(), kubelet: await k8sPayloadDigest(b, opts) }));
    const h0 = await h(binary());
    expect(await h(binary({ cached: false, path: '/elsewhere/kubelet', log: '/x', buildDate: 'other', modules: [] }))).toBe(h0);
    const variants = [
      binary({ version: 'v1.35.5' }),
      binary({ source: 'url', url: 'file:///k', goVersion: undefined, moduleHash: undefined }),
      binary({ sha256: 'e'.repeat(64) }),
      binary({ moduleHash: 'h1:other=' }),
      binary({ goVersion: 'go1.26.9' }),
    ];
    const hs = await Promise.all(variants.map(h));
    for (const x of hs) expect(x).not.toBe(h0);
    expect(new Set(hs).size).toBe(hs.length);
    // the overlay-k8s files and the pause/hello sources are part of it
    writeFileSync(join(opts.overlayDir, 'f'), 'x');
    expect(await h(binary())).not.toBe(h0);
    const h1 = await h(binary());
    writeFileSync(join(opts.imageSourcesDir, 'main.go'), 'package main');
    expect(await h(binary())).not.toBe(h1);
    // and the manifest's kubelet version itself, through the manifest part
    expect(inputHash(inputParts({ ...base(), manifest: parseManifest(`${K}  version: v1.34.2\n`) }))).not.toBe(inputHash(inputParts(base())));
  });

  it('changes with image contents and configs', async () => {
    mkdirSync(join(dir, 'root/bin'), { recursive: true });
    writeFileSync(join(dir, 'root/bin/app'), 'one');
    writeFileSync(join(dir, 'img.tar'), 'tar one');
    const spec = { name: 'localhost/x', tag: '1', from: { rootfs: 'root' } };
    const imgs = (over: Partial<ResolvedImage> = {}): ResolvedImage[] => [
      { spec, kind: 'rootfs', path: join(dir, 'root'), ref: 'localhost/x:1', file: imageArchiveName(spec), ...over },
      { spec: { name: 'localhost/y', tag: '1', from: { tarball: 'img.tar' } }, kind: 'tarball', path: join(dir, 'img.tar'), ref: 'localhost/y:1', file: 'localhost_y_1.tar' },
    ];
    expect(await imagesDigest([])).toBeUndefined();
    const d0 = await imagesDigest(imgs());
    expect(await imagesDigest(imgs())).toBe(d0);
    const h0 = inputHash(inputParts({ ...base(), images: d0 }));
    expect(h0).not.toBe(inputHash(inputParts(base())));
    writeFileSync(join(dir, 'root/bin/app'), 'two');
    const d1 = await imagesDigest(imgs());
    expect(d1).not.toBe(d0);
    chmodSync(join(dir, 'root/bin/app'), 0o755);
    const d2 = await imagesDigest(imgs());
    expect(d2).not.toBe(d1);
    writeFileSync(join(dir, 'root/.keep'), ''); // an image keeps its placeholder files, so they count
    const d3 = await imagesDigest(imgs());
    expect(d3).not.toBe(d2);
    writeFileSync(join(dir, 'img.tar'), 'tar two');
    const d4 = await imagesDigest(imgs());
    expect(d4).not.toBe(d3);
    expect(await imagesDigest(imgs({ spec: { ...spec, env: { A: '1' } } }))).not.toBe(d4);
    expect(await imagesDigest(imgs({ ref: 'localhost/x:2' }))).not.toBe(d4);
  });
});

const KVER = '6.12.0-test-amd64';

/** A small fake Debian tree: merged /usr, a kernel in /boot, /etc with users. */
function fakeTree(): string {
  const r = tmp('fcos-k8s-layout-');
  const w = (p: string, c = '', mode = 0o644) => {
    mkdirSync(join(r, p, '..'), { recursive: true });
    writeFileSync(join(r, p), c);
    chmodSync(join(r, p), mode);
  };
  for (const d of ['usr/bin', 'usr/lib', 'usr/sbin', 'etc/ssh', 'etc/systemd/system', 'boot', 'dev', 'proc', 'sys', 'run', 'tmp', 'home', 'root', `usr/lib/modules/${KVER}`, 'var/lib/dpkg']) {
    mkdirSync(join(r, d), { recursive: true });
  }
  symlinkSync('usr/bin', join(r, 'bin'));
  symlinkSync('usr/lib', join(r, 'lib'));
  w(`boot/vmlinuz-${KVER}`, 'kernel');
  w(`usr/lib/modules/${KVER}/modules.dep`, '');
  w('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n');
  w('etc/group', 'root:x:0:\n');
  w('etc/shadow', 'root:*:20370:0:99999:7:::\n', 0o640);
  w('var/lib/dpkg/status', 'Package: x\n');
  return r;
}

describe('layout step with the kubelet payload', () => {
  it('installs the payload and the manifest images while /etc is still /etc, before the manifest overlay', async () => {
    const r = fakeTree();
    const d = tmp('fcos-k8s-layout-in-');
    const kubelet = join(d, 'kubelet');
    writeFileSync(kubelet, '#!/bin/sh\necho "Kubernetes v1.35.4"\n');
    // the manifest's overlay overrides the payload's kubelet.yaml
    const ov = join(d, 'overlay');
    mkdirSync(join(ov, 'etc/kubernetes'), { recursive: true });
    writeFileSync(join(ov, 'etc/kubernetes/kubelet.yaml'), '# mine\n');
    // a manifest image from a rootfs directory
    mkdirSync(join(d, 'webroot/srv'), { recursive: true });
    writeFileSync(join(d, 'webroot/srv/index.html'), 'hello\n');
    const spec = { name: 'localhost/example/web', tag: '1', from: { rootfs: 'webroot' }, entrypoint: ['/srv/web'], ports: [8080] };
    const images: ResolvedImage[] = [{ spec, kind: 'rootfs', path: join(d, 'webroot'), ref: 'localhost/example/web:1', file: imageArchiveName(spec) }];

    const seen: string[] = [];
    const installPayload = async (root: string, o: InstallK8sPayloadOptions) => {
      seen.push(`payload etc=${lstatSync(join(root, 'etc')).isDirectory()} usr/etc=${existsSync(join(root, 'usr/etc'))} preload=${o.images}`);
      return installK8sPayload(root, o);
    };
    const unitsCommand = async (root: string, verb: string, units: string[]) => {
      seen.push(`${verb} ${units.join(' ')} kubelet.yaml=${readFileSync(join(root, 'etc/kubernetes/kubelet.yaml'), 'utf8') === '# mine\n' ? 'mine' : 'payload'}`);
    };
    const res = await layoutTree(r, {
      manifestOverlay: ov,
      units: { enable: ['kubelet.service'], disable: [], mask: [] },
      k8s: { kubelet: { path: kubelet }, preloadImages: false, images, sourceDateEpoch: 1700000000 },
      unitsCommand,
      installPayload,
    });
    expect(seen).toEqual(['payload etc=true usr/etc=false preload=false', 'enable kubelet.service kubelet.yaml=mine', 'disable  kubelet.yaml=mine', 'mask  kubelet.yaml=mine']);
    expect(res.kver).toBe(KVER);
    // /etc moved to /usr/etc with the payload in it
    expect(existsSync(join(r, 'etc'))).toBe(false);
    expect(readFileSync(join(r, 'usr/etc/kubernetes/kubelet.yaml'), 'utf8')).toBe('# mine\n');
    expect(readFileSync(join(r, 'usr/etc/containerd/config.toml'), 'utf8')).toContain('SystemdCgroup = true');
    expect(existsSync(join(r, 'usr/etc/cni/net.d/10-fcos-bridge.conflist'))).toBe(true);
    expect(readlinkSync(join(r, 'usr/etc/systemd/system/fcos-node.target.wants/kubelet.service'))).toBe('/usr/lib/systemd/system/kubelet.service');
    expect(existsSync(join(r, 'usr/lib/systemd/system/kubelet.service'))).toBe(true);
    expect(readFileSync(join(r, 'usr/bin/kubelet'), 'utf8')).toContain('Kubernetes v1.35.4');
    expect(lstatSync(join(r, 'usr/bin/kubelet')).mode & 0o777).toBe(0o755);
    // the manifest image as an OCI archive for the preload unit, listed in images.json and the result
    const archive = join(r, 'usr/share/fcos/images/localhost_example_web_1.tar');
    const oci = await readOciArchive(archive);
    expect(JSON.stringify(oci.index)).toContain('localhost/example/web:1');
    expect(JSON.parse(readFileSync(join(r, 'usr/share/fcos/images/images.json'), 'utf8'))).toEqual([
      { ref: 'localhost/example/web:1', file: 'localhost_example_web_1.tar', manifestDigest: res.k8s!.images[0]!.manifestDigest },
    ]);
    expect(res.k8s!.images).toEqual([expect.objectContaining({ ref: 'localhost/example/web:1', path: '/usr/share/fcos/images/localhost_example_web_1.tar' })]);
    expect(res.k8s!.files).toContain('usr/bin/kubelet');
    rmSync(r, { recursive: true, force: true });
    rmSync(d, { recursive: true, force: true });
  });

  it('without kubelet nothing of the payload lands', async () => {
    const r = fakeTree();
    const res = await layoutTree(r, { units: { enable: [], disable: [], mask: [] }, unitsCommand: async () => {} });
    expect(res.k8s).toBeUndefined();
    expect(existsSync(join(r, 'usr/bin/kubelet'))).toBe(false);
    expect(existsSync(join(r, 'usr/etc/containerd/config.toml'))).toBe(false);
    rmSync(r, { recursive: true, force: true });
  });
});

describe('ostree/manifests/k8s-node.yaml', () => {
  it('is the default manifest with kubelet enabled (and its own ref)', () => {
    const ex = loadManifest(join(import.meta.dirname, '../../ostree/manifests/k8s-node.yaml'));
    const def = loadManifest(defaultManifestPath());
    expect(ex.manifest.kubelet.enabled).toBe(true);
    expect(kubeletSource(ex.manifest.kubelet)).toBe('go-module');
    expect(ex.manifest.kubelet.version).toBe(DEFAULT_KUBELET_VERSION);
    expect(ex.overlayDir).toBe(def.overlayDir);
    expect(ex.manifest.ref).not.toBe(def.manifest.ref);
    const strip = (m: Record<string, unknown>) => {
      const { kubelet: _k, ref: _r, 'pretty-name': _p, overlay: _o, images: _i, ...rest } = m;
      return rest;
    };
    expect(strip(ex.manifest as unknown as Record<string, unknown>)).toEqual(strip(def.manifest as unknown as Record<string, unknown>));
    expect(def.manifest.kubelet).toEqual(ex.manifest.kubelet);
  });
});
