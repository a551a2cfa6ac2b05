/**
 * Builds the pinned kubelet from the Go module proxy (or reuses it from the fcos cache) and checks it.
 * Cold (empty module and build caches, 2 cores): see README "kubelet" for the measured time.
 */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync, mkdtempSync, mkdirSync, writeFileSync, cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { overlayK8sDir } from '../../ostree/k8s/payload.js';
import { join, dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ensureKubelet, cachedKubelet, DEFAULT_KUBELET_VERSION } from '../../ostree/k8s/kubelet.js';
import { cacheDir } from '../../lib/paths.js';

/** Does a 64-bit little-endian ELF file have a PT_INTERP program header (i.e. is it dynamically linked)? */
function hasElfInterpreter(b: Buffer): boolean {
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return true;
  return false;
}

describe('kubelet from the Go module proxy', () => {
  it(
    `builds kubelet ${DEFAULT_KUBELET_VERSION} (or reuses it), version-stamped, with its metadata`,
    async () => {
      const t0 = Date.now();
      const k = await ensureKubelet();
      const secs = (Date.now() - t0) / 1000;
      process.stderr.write(`kubelet ${k.version}: ${k.cached ? 'from cache' : 'built'} in ${secs.toFixed(1)}s → ${k.path}\n`);

      expect(k.version).toBe(DEFAULT_KUBELET_VERSION);
      expect(k.source).toBe('go-module-proxy');
      expect(k.path.startsWith(cacheDir('kubelet'))).toBe(true);
      // the binary runs and says what it is
      const out = execFileSync(k.path, ['--version'], { encoding: 'utf8' }).trim();
      expect(out).toBe(`Kubernetes ${DEFAULT_KUBELET_VERSION}`);
      expect(k.versionOutput).toBe(out);
      // static: no dynamic loader needed (CGO_ENABLED=0)
      const head = readFileSync(k.path).subarray(0, 4);
      expect(head.toString('latin1')).toBe('\x7fELF');
      expect(hasElfInterpreter(readFileSync(k.path))).toBe(false);
      // sha256 of the file
      expect(createHash('sha256').update(readFileSync(k.path)).digest('hex')).toBe(k.sha256);
      // module hash of k8s.io/kubernetes: h1: format, and the one the module cache recorded (go.sum)
      expect(k.moduleHash).toMatch(/^h1:[A-Za-z0-9+/]{43}=$/);
      const ziphash = join(cacheDir('go', 'mod'), 'cache', 'download', 'k8s.io', 'kubernetes', '@v', `${k.version}.ziphash`);
      // The module cache records it when the module was downloaded; a warm kubelet cache may predate the module cache.
      if (!k.cached) expect(existsSync(ziphash)).toBe(true);
      if (existsSync(ziphash)) expect(readFileSync(ziphash, 'utf8').trim()).toBe(k.moduleHash);
      expect(k.goVersion).toMatch(/^go1\.\d+/);
      expect(k.buildDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      // the resolved staging modules are the published v0.<minor>.<patch> versions
      const minorPatch = DEFAULT_KUBELET_VERSION.replace(/^v1\./, '');
      expect(k.modules).toContain(`k8s.io/api v0.0.0 => k8s.io/api v0.${minorPatch}`);
      expect(k.modules).toContain(`k8s.io/kubernetes ${DEFAULT_KUBELET_VERSION}`);
      const log = readFileSync(k.log, 'utf8');
      expect(log).toContain('resolved k8s.io modules');
      const meta = JSON.parse(readFileSync(join(dirname(k.path), 'kubelet.json'), 'utf8'));
      expect(meta.sha256).toBe(k.sha256);
      expect(meta.moduleHash).toBe(k.moduleHash);

      // second call: from the cache, no go build: the same file, not rewritten (speed is bench material, not asserted)
      const before = statSync(k.path).mtimeMs;
      const again = await ensureKubelet();
      expect(again.cached).toBe(true);
      expect(again.path).toBe(k.path);
      expect(again.sha256).toBe(k.sha256);
      expect(statSync(again.path).mtimeMs).toBe(before);
      expect((await cachedKubelet())?.path).toBe(k.path);
    },
    40 * 60_000,
  );

  it('accepts fcos’s KubeletConfiguration (+ drop-in dir) and runs standalone up to the CRI connection', async () => {
    const k = await cachedKubelet();
    expect(k, 'kubelet built by the previous test').toBeDefined();
    const t = mkdtempSync(join(tmpdir(), 'fcos-kubelet-cfg-'));
    try {
      const O = overlayK8sDir();
      // fcos's config with paths moved into the temp dir; the PKI from fcos's own kubelet-prepare
      await execa(join(O, 'usr/libexec/fcos/kubelet-prepare'), { env: { FCOS_ROOT: join(t, 'r') } });
      const cfg = readFileSync(join(O, 'etc/kubernetes/kubelet.yaml'), 'utf8')
        .replaceAll('/etc/kubernetes/manifests', join(t, 'r/etc/kubernetes/manifests'))
        .replaceAll('/etc/kubernetes/pki', join(t, 'r/etc/kubernetes/pki'))
        .replace('unix:///run/containerd/containerd.sock', `unix://${t}/no-containerd.sock`);
      writeFileSync(join(t, 'kubelet.yaml'), cfg);
      const dropins = join(t, 'config.d');
      mkdirSync(dropins);
      cpSync(join(t, 'r/run/kubelet/config.d'), dropins, { recursive: true });
      // the image is cgroup v2; a cgroup v1 CI host needs this to get past validation
      if (!existsSync('/sys/fs/cgroup/cgroup.controllers')) {
        writeFileSync(join(dropins, '99-test-cgroupv1.conf'), 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailCgroupV1: false\n');
      }
      expect(readdirSync(dropins)).toContain('50-fcos-resolv.conf');
      const r = await execa(k!.path, [`--config=${join(t, 'kubelet.yaml')}`, `--config-dir=${dropins}`, `--root-dir=${join(t, 'root')}`], {
        reject: false,
        timeout: 60_000,
        all: true,
      });
      const out = r.all ?? '';
      expect(out).not.toMatch(/strict decoding error|unknown field|failed to validate kubelet configuration|failed to load kubelet config/i);
      expect(out).toContain('Standalone mode, no API client');
      expect(out).toMatch(/validate CRI v1 runtime API for endpoint .*no-containerd\.sock/);
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  }, 120_000);
});
