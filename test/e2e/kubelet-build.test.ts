/**
 * Builds the pinned kubelet from the Go module proxy (or reuses it from the fcos cache) and checks it.
 * Cold (empty module and build caches, 2 cores): see README "kubelet" for the measured time.
 */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ensureKubelet, cachedKubelet, DEFAULT_KUBELET_VERSION } from '../../ostree/kubelet.js';
import { cacheDir } from '../../lib/paths.js';

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
      const file = execFileSync('sh', ['-c', `command -v file >/dev/null && file -b ${k.path} || echo statically linked`], { encoding: 'utf8' });
      expect(file).toMatch(/statically linked/);
      // sha256 of the file
      expect(createHash('sha256').update(readFileSync(k.path)).digest('hex')).toBe(k.sha256);
      // module hash of k8s.io/kubernetes: h1: format, and the one the module cache recorded (go.sum)
      expect(k.moduleHash).toMatch(/^h1:[A-Za-z0-9+/]{43}=$/);
      const ziphash = join(cacheDir('go', 'mod'), 'cache', 'download', 'k8s.io', 'kubernetes', '@v', `${k.version}.ziphash`);
      if (existsSync(ziphash)) expect(readFileSync(ziphash, 'utf8').trim()).toBe(k.moduleHash);
      expect(k.goVersion).toMatch(/^go1\.\d+/);
      expect(k.buildDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      // the resolved staging modules are the published v0.<minor>.<patch> versions
      const minorPatch = DEFAULT_KUBELET_VERSION.replace(/^v1\./, '');
      expect(k.modules!.some((m) => m === `k8s.io/api v0.${minorPatch}`)).toBe(true);
      expect(k.modules!.some((m) => m === `k8s.io/kubernetes ${DEFAULT_KUBELET_VERSION}`)).toBe(true);
      const log = readFileSync(k.log, 'utf8');
      expect(log).toContain('resolved k8s.io modules');
      const meta = JSON.parse(readFileSync(join(dirname(k.path), 'kubelet.json'), 'utf8'));
      expect(meta.sha256).toBe(k.sha256);
      expect(meta.moduleHash).toBe(k.moduleHash);

      // second call: from the cache, fast, no go
      const t1 = Date.now();
      const again = await ensureKubelet();
      expect(again.cached).toBe(true);
      expect(again.path).toBe(k.path);
      expect(again.sha256).toBe(k.sha256);
      expect(Date.now() - t1).toBeLessThan(500);
      expect((await cachedKubelet())?.path).toBe(k.path);
    },
    40 * 60_000,
  );
});
