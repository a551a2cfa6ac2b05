/**
 * Publishing updates (issue #6): what a host needs to upgrade from builds/repo over HTTP.
 *
 *   - every commit is signed (ostree/sign.ts) before its ref moves;
 *   - a static delta from the parent (`ostree static-delta generate --from=PARENT --to=NEW`), also before the ref
 *     moves, so a host that sees the new commit in the summary finds its delta too;
 *   - `ostree summary -u` (the compose does it after moving the ref);
 *   - the build index: builds/builds.json (cosa) and the JSON that `fcos serve` answers at /index.json.
 * Each of these is atomic inside ostree (temp file + rename), so an interrupted compose leaves no half-written state
 * that a host would read: an unreferenced delta or signature is harmless.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/run.js';
import { UserError } from '../lib/errors.js';
import { type BuildMeta } from './builds.js';

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

/**
 * A file of the builds dir that the index cannot be made from (builds.json not JSON, a meta.json that is not a
 * build's metadata). The message is one line, with paths relative to the builds dir: `fcos serve` sends it to clients.
 */
export class BadBuildFileError extends UserError {}

/** The build index served at /index.json: every build of builds.json with its commit, parent and delta. */
export function buildIndex(buildsDir: string): BuildIndex {
  const repo = join(buildsDir, 'repo');
  const builds: IndexEntry[] = [];
  for (const id of buildIds(buildsDir)) {
    const metaPath = join(buildsDir, id, 'meta.json');
    // A build being removed (or not finished) has no meta.json: not in the index.
    if (!existsSync(metaPath)) continue;
    const meta = readBuildMeta(metaPath, `${id}/meta.json`);
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

/** Build ids of builds.json, newest first; BadBuildFileError when it is not a builds.json. */
function buildIds(buildsDir: string): string[] {
  const p = join(buildsDir, 'builds.json');
  if (!existsSync(p)) return [];
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code) throw new BadBuildFileError(`builds.json cannot be read (${(e as NodeJS.ErrnoException).code})`);
    throw new BadBuildFileError('builds.json is not valid JSON');
  }
  const list = j && typeof j === 'object' ? (j as { builds?: unknown }).builds : undefined;
  if (!Array.isArray(list)) throw new BadBuildFileError('builds.json has no "builds" array');
  return list.map((b, i) => {
    const id = b && typeof b === 'object' ? (b as { id?: unknown }).id : undefined;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/.test(id) || id === '..') {
      throw new BadBuildFileError(`builds.json: builds[${i}] has no valid "id"`);
    }
    return id;
  });
}

const META_STRINGS = ['ostree-version', 'ostree-commit', 'ref', 'ostree-timestamp'] as const;

function readBuildMeta(path: string, shown: string): BuildMeta {
  let meta: unknown;
  try {
    meta = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code) throw new BadBuildFileError(`${shown} cannot be read (${(e as NodeJS.ErrnoException).code})`);
    throw new BadBuildFileError(`${shown} is not valid JSON`);
  }
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) throw new BadBuildFileError(`${shown} is not a build's metadata (${meta === null ? 'null' : Array.isArray(meta) ? 'an array' : typeof meta})`);
  const m = meta as Record<string, unknown>;
  const bad = META_STRINGS.find((k) => typeof m[k] !== 'string');
  if (bad) throw new BadBuildFileError(`${shown} has no "${bad}" string`);
  if (m['ostree-parent'] != null && typeof m['ostree-parent'] !== 'string') throw new BadBuildFileError(`${shown}: "ostree-parent" is not a string`);
  return m as unknown as BuildMeta;
}
