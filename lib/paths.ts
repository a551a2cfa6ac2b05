/**
 * Where fcos keeps things.
 * - cache: Debian packages, Go modules, kubelet binaries, rootfs/commit caches. One directory, shared by all builds,
 *   kept across CI runs: $FCOS_CACHE_DIR, else /var/cache/fcos as root, else ~/.cache/fcos.
 * - builds: the cosa-style builds directory (repo/, <version>/, builds.json, latest): --builds, else ./builds.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdirSync, statfsSync } from 'node:fs';

export function cacheDir(...sub: string[]): string {
  const base = process.env.FCOS_CACHE_DIR
    ? resolve(process.env.FCOS_CACHE_DIR)
    : process.getuid?.() === 0
      ? '/var/cache/fcos'
      : join(homedir(), '.cache', 'fcos');
  const d = join(base, ...sub);
  mkdirSync(d, { recursive: true });
  return d;
}

export function buildsDir(flag?: string): string {
  return resolve(flag ?? process.env.FCOS_BUILDS_DIR ?? 'builds');
}

/** Free bytes for an unprivileged writer in dir's filesystem, or undefined when statfs fails (e.g. no such dir). */
export function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}
