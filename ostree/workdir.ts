/**
 * Compose's work directories under builds/.tmp: made, removed safely (unmount below first, never cross into other
 * filesystems), and those of composes that died cleaned up; the free-space check before a full compose.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run } from '../lib/run.js';
import { freeBytes } from '../lib/paths.js';
import { UserError } from '../lib/errors.js';
import { warn } from '../lib/log.js';

const MIN_FREE_BYTES = 6 * 1024 ** 3;

export function checkFreeSpace(dir: string): void {
  const free = freeBytes(dir);
  if (free !== undefined && free < MIN_FREE_BYTES) {
    throw new UserError(
      `not enough free disk space in ${dir}: ${(free / 1024 ** 3).toFixed(1)} GiB free, a compose needs about ${MIN_FREE_BYTES / 1024 ** 3} GiB`,
      'free some disk space or use --builds on a larger filesystem',
    );
  }
}

/** Mount points at or below a directory, deepest first. */
export function mountsUnder(dir: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const d = resolve(dir);
  return text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\040/g, ' '))
    .filter((m) => m === d || m.startsWith(d + '/'))
    .sort((a, b) => b.length - a.length);
}

/** Remove a work directory safely: unmount anything below it first, never cross into other filesystems. */
export async function removeWorkDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const m of mountsUnder(dir)) {
    const r = await run('umount', [m], { allowFailure: true, cleanup: true });
    if (r.exitCode !== 0) await run('umount', ['--lazy', m], { allowFailure: true, cleanup: true });
  }
  const left = mountsUnder(dir);
  if (left.length) throw new UserError(`cannot remove ${dir}: still mounted: ${left.join(', ')}`);
  await run('rm', ['-rf', '--one-file-system', dir], { purpose: `remove the work directory ${dir}`, cleanup: true });
}

/** Remove work dirs of composes that died (SIGKILL, power loss). Called with the lock held. */
export async function cleanStaleWork(tmpRoot: string): Promise<void> {
  let names: string[] = [];
  try {
    names = readdirSync(tmpRoot);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^compose-(\d+)$/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = pid !== process.pid;
    } catch {
      alive = false;
    }
    if (alive) continue;
    warn(`removing the work directory of an interrupted compose: ${join(tmpRoot, n)}`);
    await removeWorkDir(join(tmpRoot, n));
  }
}
