/**
 * Publishing updates (issue #6): what a host needs to upgrade from builds/repo over HTTP.
 *
 *   - every commit is signed (./sign.ts) before its ref moves;
 *   - a static delta from the parent (`ostree static-delta generate --from=PARENT --to=NEW`), also before the ref
 *     moves, so a host that sees the new commit in the summary finds its delta too;
 *   - `ostree summary -u` (the compose does it after moving the ref);
 *   - the build index: builds/builds.json (cosa) and the JSON that `fcos serve` answers at /index.json.
 * Each of these is atomic inside ostree (temp file + rename), so an interrupted compose leaves no half-written state
 * that a host would read: an unreferenced delta or signature is harmless.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../lib/run.js';
import { readBuildIds, readMeta } from '../builds.js';

/** Generate the static delta parent → commit (skipped when it exists). Returns the delta's size in bytes. */
export async function generateDelta(repo: string, from: string, to: string): Promise<number> {
  const dir = deltaDir(repo, from, to);
  if (!existsSync(join(dir, 'superblock'))) {
    await run('ostree', ['static-delta', 'generate', `--repo=${repo}`, `--from=${from}`, `--to=${to}`], {
      purpose: `generate the static delta ${from.slice(0, 12)} → ${to.slice(0, 12)}`,
    });
  }
  return dirSize(dir);
}

/** ostree's delta path: deltas/<from modified-base64, first 2 chars>/<rest>-<to modified-base64>. */
export function deltaDir(repo: string, from: string, to: string): string {
  const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64').replace(/=+$/, '').replace(/\//g, '_');
  const f = b64(from);
  return join(repo, 'deltas', f.slice(0, 2), `${f.slice(2)}-${b64(to)}`);
}

function dirSize(dir: string): number {
  let n = 0;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      n += e.isDirectory() ? dirSize(p) : statSync(p).size;
    }
  } catch {
    return 0;
  }
  return n;
}

export interface IndexEntry {
  version: string;
  commit: string;
  parent?: string;
  ref: string;
  timestamp: string;
  /** The static delta from the parent, when there is one. */
  delta?: { from: string; size: number };
}

export interface BuildIndex {
  'schema-version': 1;
  ref?: string;
  /** Newest first (builds.json order). */
  builds: IndexEntry[];
}

/** The keys of a build's meta.json that the index is made from. */
const INDEX_KEYS = ['ostree-version', 'ostree-commit', 'ref', 'ostree-timestamp'] as const;

/** The build index served at /index.json: every build of builds.json with its commit, parent and delta. */
export function buildIndex(buildsDir: string): BuildIndex {
  const repo = join(buildsDir, 'repo');
  const builds: IndexEntry[] = [];
  // Errors name the files relative to the builds dir (BuildFileError, one line): `fcos serve` sends them to clients.
  for (const id of readBuildIds(buildsDir, { shown: 'builds.json' })) {
    const metaPath = join(buildsDir, id, 'meta.json');
    // A build being removed (or not finished) has no meta.json: not in the index.
    if (!existsSync(metaPath)) continue;
    const meta = readMeta(join(buildsDir, id), { shown: `${id}/meta.json`, require: INDEX_KEYS });
    const e: IndexEntry = { version: meta['ostree-version'], commit: meta['ostree-commit'], ref: meta.ref, timestamp: meta['ostree-timestamp'] };
    const parent = meta['ostree-parent'];
    if (parent) {
      e.parent = parent;
      const d = deltaDir(repo, parent, e.commit);
      if (existsSync(join(d, 'superblock'))) e.delta = { from: parent, size: dirSize(d) };
    }
    builds.push(e);
  }
  return { 'schema-version': 1, ...(builds[0] ? { ref: builds[0].ref } : {}), builds };
}

