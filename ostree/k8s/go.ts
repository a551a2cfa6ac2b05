/**
 * The Go toolchain, as fcos uses it: which `go` binary, its version (read without running it, so warm cache hits
 * cost no subprocess), and the environment every Go build gets (module cache and build cache under the one fcos
 * cache directory, no toolchain downloads, static binaries).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cacheDir } from '../../lib/paths.js';
import { run } from '../../lib/run.js';
import { findTool } from '../../lib/tools.js';
import { UserError } from '../../lib/errors.js';

export const DEFAULT_GO = '/usr/local/go/bin/go';

/** The go binary: explicit argument, $FCOS_GO, /usr/local/go/bin/go, else `go` on PATH. */
export function resolveGoBin(goBin?: string): string {
  if (goBin) return goBin;
  if (process.env.FCOS_GO) return process.env.FCOS_GO;
  if (existsSync(DEFAULT_GO)) return DEFAULT_GO;
  return 'go';
}

/**
 * The toolchain version ("go1.26.8"). Reads $GOROOT/VERSION next to the binary (the official tarball and
 * Debian's golang-1.xx both ship it); falls back to `go env GOVERSION`.
 */
export async function goVersion(goBin: string): Promise<string> {
  const abs = findTool(goBin);
  if (abs) {
    try {
      const root = dirname(dirname(realpathSync(abs)));
      const v = readFileSync(join(root, 'VERSION'), 'utf8').split('\n')[0]!.trim();
      if (/^go\d+\.\d+/.test(v)) return v;
    } catch {
      /* fall through */
    }
  }
  const r = await run(goBin, ['env', 'GOVERSION'], { purpose: 'query the Go toolchain version' });
  return r.stdout.trim();
}

/** Compare "go1.26.8" / "1.25.0" style versions: negative, 0, positive. */
export function compareGoVersions(a: string, b: string): number {
  const parse = (s: string) =>
    s
      .replace(/^go/, '')
      .split(/[^0-9]+/)
      .filter((x) => x !== '')
      .slice(0, 3)
      .map(Number);
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function requireGoVersion(have: string, need: string, what: string): void {
  if (compareGoVersions(have, need) < 0) {
    throw new UserError(
      `${what} needs Go ${need} or newer, but the Go toolchain is ${have}`,
      `install a newer Go (e.g. the official tarball in /usr/local/go) or point FCOS_GO at one`,
    );
  }
}

/**
 * Environment for every Go build: caches under the fcos cache dir, CGO off, no automatic toolchain download,
 * no workspace. GOPROXY/GOSUMDB/GONOSUMDB/GOPRIVATE/GOFLAGS from the caller's environment are kept, so a user can
 * point at a mirror. The checksum database is used when reachable: the default GOPROXY serves it
 * (proxy.golang.org/sumdb/…), so no direct connection to sum.golang.org is needed.
 */
export function goEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    GOMODCACHE: cacheDir('go', 'mod'),
    GOCACHE: cacheDir('go', 'build'),
    GOPATH: cacheDir('go', 'path'),
    GOTOOLCHAIN: 'local',
    GOWORK: 'off',
    GO111MODULE: 'on',
    CGO_ENABLED: '0',
    GOFLAGS: [process.env.GOFLAGS ?? '', '-mod=mod'].join(' ').trim(),
    ...extra,
  };
}
