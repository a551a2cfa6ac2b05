import { describe, it, expect } from 'vitest';
import { mkdirSync, writeFileSync, rmSync, existsSync, readFileSync, chmodSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  parseKubernetesGoMod,
  wrapperGoMod,
  stagingVersion,
  moduleHashFromGoSum,
  versionLdflags,
  parseKubeVersion,
  fetchKubelet,
  ensureKubelet,
  DEFAULT_KUBELET_VERSION,
} from '../../ostree/k8s/kubelet.js';
import { compareGoVersions, goVersion } from '../../ostree/k8s/go.js';
import { UserError } from '../../lib/errors.js';
import { useTempCacheDir } from './cache-helpers.js';

const FAKE_GOMOD = `// This is a generated file. Do not edit directly.

module k8s.io/kubernetes

go 1.25.0

godebug default=go1.25

require (
	github.com/spf13/cobra v1.10.0
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
	k8s.io/klog/v2 v2.130.1
	k8s.io/kubelet v0.0.0
)

require (
	k8s.io/cri-api v0.0.0 // indirect
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/cri-api => ./staging/src/k8s.io/cri-api // comment
	k8s.io/kubelet v0.0.0 => ./staging/src/k8s.io/kubelet
	github.com/example/forked => github.com/example/fork v1.2.3
)

replace k8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
`;

describe('kubelet wrapper module', () => {
  it('reads the go directive, godebug and the staging replaces from kubernetes go.mod', () => {
    const k = parseKubernetesGoMod(FAKE_GOMOD);
    expect(k.go).toBe('1.25.0');
    expect(k.godebug).toEqual(['default=go1.25']);
    // only ./staging replaces, not ordinary module replaces; single-line replace included
    expect(k.staging).toEqual(['k8s.io/api', 'k8s.io/client-go', 'k8s.io/cri-api', 'k8s.io/kubelet', 'k8s.io/sample-controller']);
  });

  it('generates require + replace lines to the published v0 tags', () => {
    const text = wrapperGoMod('v1.35.4', parseKubernetesGoMod(FAKE_GOMOD));
    const lines = text.split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    expect(lines).toContain('module fcos.local/kubelet-build');
    expect(lines).toContain('go 1.25.0');
    expect(lines).toContain('godebug default=go1.25');
    expect(lines).toContain('require k8s.io/kubernetes v1.35.4');
    expect(lines).toContain('k8s.io/api => k8s.io/api v0.35.4');
    expect(lines).toContain('k8s.io/client-go => k8s.io/client-go v0.35.4');
    expect(lines).toContain('k8s.io/kubelet => k8s.io/kubelet v0.35.4');
    expect(lines).toContain('k8s.io/sample-controller => k8s.io/sample-controller v0.35.4');
    expect(text).not.toContain('github.com/example');
    expect(text).not.toContain('./staging');
    expect(lines.filter((l) => l.includes('=>'))).toHaveLength(5);
  });

  it('rejects a go.mod that is not Kubernetes', () => {
    expect(() => parseKubernetesGoMod('module x\n\ngo 1.22\n')).toThrow(UserError);
  });

  it('maps versions', () => {
    expect(stagingVersion('v1.35.4')).toBe('v0.35.4');
    expect(stagingVersion('v1.36.0-rc.1')).toBe('v0.36.0-rc.1');
    expect(() => parseKubeVersion('1.35.4')).toThrow(UserError);
    expect(() => parseKubeVersion('v2.0.0')).toThrow(UserError);
    expect(parseKubeVersion(DEFAULT_KUBELET_VERSION).minor).toMatch(/^3[4-9]$/);
  });

  it('finds the module hash in go.sum (not the /go.mod line)', () => {
    const sum = [
      'k8s.io/kubernetes v1.35.4 h1:o/8dBC/pHVpYoGV4OAIytAlNPZbdYVTXJHoYvXC4qzM=',
      'k8s.io/kubernetes v1.35.4/go.mod h1:fPfnQs8GtfrLQ+KuOcpvwQ+mV17jVcgdvPL6ZHxKp10=',
    ].join('\n');
    expect(moduleHashFromGoSum(sum, 'k8s.io/kubernetes', 'v1.35.4')).toBe('h1:o/8dBC/pHVpYoGV4OAIytAlNPZbdYVTXJHoYvXC4qzM=');
    expect(moduleHashFromGoSum(sum, 'k8s.io/kubernetes', 'v1.35.3')).toBeUndefined();
  });

  it('stamps the version like upstream (component-base and client-go)', () => {
    const f = versionLdflags('v1.35.4', '2026-04-15T18:01:22Z');
    for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
      expect(f).toContain(`-X ${pkg}.gitVersion=v1.35.4`);
      expect(f).toContain(`-X ${pkg}.gitMajor=1`);
      expect(f).toContain(`-X ${pkg}.gitMinor=35`);
      expect(f).toContain(`-X ${pkg}.gitTreeState=clean`);
      expect(f).toContain(`-X ${pkg}.buildDate=2026-04-15T18:01:22Z`);
    }
  });

  it('compares Go versions', () => {
    expect(compareGoVersions('go1.26.8', '1.25.0')).toBeGreaterThan(0);
    expect(compareGoVersions('go1.24.4', '1.25.0')).toBeLessThan(0);
    expect(compareGoVersions('go1.25', '1.25.0')).toBe(0);
  });
});

describe('kubelet caches', () => {
  let dir: string;
  useTempCacheDir('fcos-kubelet-test-', (d) => (dir = d));

  function fakeKubelet(version = 'v1.35.4'): { path: string; sha256: string } {
    const p = join(dir, 'kubelet');
    const text = `#!/bin/sh\nif [ "$1" = --version ]; then echo "Kubernetes ${version}"; exit 0; fi\nexit 1\n`;
    writeFileSync(p, text);
    chmodSync(p, 0o755);
    return { path: p, sha256: createHash('sha256').update(text).digest('hex') };
  }

  it('fetchKubelet: file:// URL with the right sha256 is cached by hash', async () => {
    const k = fakeKubelet();
    const url = pathToFileURL(k.path).href;
    const a = await fetchKubelet({ url, sha256: k.sha256 });
    expect(a.cached).toBe(false);
    expect(a.version).toBe('v1.35.4');
    expect(a.sha256).toBe(k.sha256);
    expect(a.source).toBe('url');
    expect(a.path).toContain(`sha256-${k.sha256}`);
    expect(readFileSync(a.path, 'utf8')).toContain('Kubernetes v1.35.4');
    rmSync(k.path); // the second call must not read the URL
    const b = await fetchKubelet({ url, sha256: k.sha256.toUpperCase() });
    expect(b.cached).toBe(true);
    expect(b.path).toBe(a.path);
  });

  it('fetchKubelet: a wrong sha256 is a UserError naming both hashes, and caches nothing', async () => {
    const k = fakeKubelet();
    const wrong = '0'.repeat(64);
    const err = await fetchKubelet({ url: pathToFileURL(k.path).href, sha256: wrong }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(k.sha256);
    expect(existsSync(join(dir, 'cache', 'kubelet', `sha256-${wrong}`))).toBe(false);
    // no temp leftovers
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(dir, 'cache', 'kubelet')).filter((n) => n.startsWith('.tmp'))).toEqual([]);
  });

  it('fetchKubelet: http:// URL (local server): good hash, bad hash, 404', async () => {
    const k = fakeKubelet('v1.34.4');
    const body = readFileSync(k.path);
    let hits = 0;
    const server: Server = createServer((req, res) => {
      hits++;
      if (req.url === '/kubelet') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(body);
      } else {
        res.writeHead(404);
        res.end('not found');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const bad = await fetchKubelet({ url: `${base}/kubelet`, sha256: 'f'.repeat(64) }).catch((e) => e);
      expect(bad).toBeInstanceOf(UserError);
      expect(bad.message).toContain(k.sha256);
      const a = await fetchKubelet({ url: `${base}/kubelet`, sha256: k.sha256 });
      expect(a.version).toBe('v1.34.4');
      expect(a.cached).toBe(false);
      const before = hits;
      expect((await fetchKubelet({ url: `${base}/kubelet`, sha256: k.sha256 })).cached).toBe(true);
      expect(hits).toBe(before);
      await expect(fetchKubelet({ url: `${base}/missing`, sha256: 'e'.repeat(64) })).rejects.toThrow(/HTTP 404/);
    } finally {
      server.close();
    }
  });

  it('fetchKubelet: missing file, bad scheme, bad hash text are UserErrors', async () => {
    await expect(fetchKubelet({ url: pathToFileURL(join(dir, 'nope')).href, sha256: 'a'.repeat(64) })).rejects.toThrow(/not found/);
    await expect(fetchKubelet({ url: 'ftp://example.org/kubelet', sha256: 'a'.repeat(64) })).rejects.toBeInstanceOf(UserError);
    await expect(fetchKubelet({ url: 'file:///x', sha256: 'abc' })).rejects.toBeInstanceOf(UserError);
  });

  it('fetchKubelet: a file that is not kubelet is refused', async () => {
    const p = join(dir, 'notkubelet');
    writeFileSync(p, '#!/bin/sh\necho hello\n');
    chmodSync(p, 0o755);
    const sha = createHash('sha256').update(readFileSync(p)).digest('hex');
    await expect(fetchKubelet({ url: pathToFileURL(p).href, sha256: sha })).rejects.toThrow(/does not look like kubelet/);
  });

  it('ensureKubelet: a warm cache returns without running go at all', async () => {
    // A fake Go toolchain: VERSION file next to bin/, and a go binary that fails loudly if anything runs it.
    const goroot = join(dir, 'goroot');
    mkdirSync(join(goroot, 'bin'), { recursive: true });
    writeFileSync(join(goroot, 'VERSION'), 'go1.99.1\ntime 2030-01-01T00:00:00Z\n');
    writeFileSync(join(goroot, 'bin', 'go'), '#!/bin/sh\necho "go must not run" >&2\nexit 99\n');
    chmodSync(join(goroot, 'bin', 'go'), 0o755);
    const goBin = join(goroot, 'bin', 'go');
    expect(await goVersion(goBin)).toBe('go1.99.1');

    const k = fakeKubelet();
    const entry = join(dir, 'cache', 'kubelet', 'v1.35.4-go1.99.1');
    mkdirSync(entry, { recursive: true });
    writeFileSync(join(entry, 'kubelet'), readFileSync(k.path));
    const meta = {
      version: 'v1.35.4',
      source: 'go-module-proxy',
      sha256: k.sha256,
      size: readFileSync(k.path).length,
      goVersion: 'go1.99.1',
      moduleHash: 'h1:o/8dBC/pHVpYoGV4OAIytAlNPZbdYVTXJHoYvXC4qzM=',
      modules: [],
      buildDate: '2026-04-15T18:01:22Z',
      versionOutput: 'Kubernetes v1.35.4',
    };
    writeFileSync(join(entry, 'kubelet.json'), JSON.stringify(meta));
    // The fake go exits 99 when run: a cache hit must not run it (speed is bench material, not asserted here).
    const r = await ensureKubelet({ version: 'v1.35.4', goBin });
    expect(r.cached).toBe(true);
    expect(r.path).toBe(join(entry, 'kubelet'));
    expect(r.moduleHash).toBe(meta.moduleHash);
    expect(r.goVersion).toBe('go1.99.1');

    // A truncated binary (size differs from the metadata) is not a cache hit: it would try to build → go runs → fails.
    writeFileSync(join(entry, 'kubelet'), 'trunc');
    await expect(ensureKubelet({ version: 'v1.35.4', goBin })).rejects.toThrow(/go must not run/);
  });
});
