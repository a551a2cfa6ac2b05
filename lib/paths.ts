/**
 * Where fcos keeps things.
 * - cache: Debian packages, Go modules, kubelet binaries, rootfs/commit caches. One directory, shared by all builds,
 *   kept across CI runs: $FCOS_CACHE_DIR, else /var/cache/fcos as root, else ~/.cache/fcos.
 * - builds: the cosa-style builds directory (repo/, <version>/, builds.json, latest): --builds, else ./builds.
 */
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, statfsSync } from 'node:fs';

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

/**
 * Move a fully written file into place so that it survives a power loss: its data is flushed before the rename, and
 * the rename itself (the directory) after it. A file recorded in meta.json is then never a partly written one.
 */
export function renameDurably(from: string, to: string): void {
  const sync = (p: string) => {
    const fd = openSync(p, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  };
  sync(from);
  renameSync(from, to);
  sync(dirname(to));
}
