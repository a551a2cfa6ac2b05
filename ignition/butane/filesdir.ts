/**
 * Local files referenced by a Butane config (`local`, `contents_local`, `ssh_authorized_keys_local`, trees).
 *
 * The translator only sees the FilesDir interface, so it stays a pure function of its inputs; `nodeFilesDir`
 * is the file-system implementation used by the CLI, and tests can pass an in-memory one.
 * Every reference is checked with `confine` (or `confineLocalPath`) before the reader is asked for it.
 */
import { lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { posix, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../../lib/errors.js';

export const ERR_NO_FILES_DIR = 'local file paths are relative to a files directory that must be specified with -d/--files-dir';
export const ERR_FILES_DIR_ESCAPE = 'local file path traverses outside the files directory';
export const ERR_ABSOLUTE_LOCAL = 'local file path must be relative to the files directory, not absolute';

export type TreeEntryKind = 'dir' | 'file' | 'symlink' | 'other';
export interface TreeEntry {
  /** Path relative to the tree root, '/'-separated; '' is the root itself. */
  rel: string;
  kind: TreeEntryKind;
  /** Any execute bit set (files). */
  executable?: boolean;
  /** Symlink target, as stored. */
  target?: string;
}

export interface FilesDir {
  /** Read a confined relative path. Throws Error with a user-facing message when it cannot. */
  read(rel: string): Uint8Array;
  /** 'missing' when nothing is there. */
  kind(rel: string): TreeEntryKind | 'missing';
  /** All entries under a directory, in Go's filepath.Walk order (lexical, parents first). Throws Error with a user-facing message when it cannot. */
  walk(rel: string): TreeEntry[];
  /**
   * Check a `local` reference against this directory's own path, as Butane does (EnsurePathWithinFilesDir: the
   * cleaned join of the directory and the reference must stay inside), so `../<dir>/x` is the directory's `x`.
   * Without it, `confineLocalPath` is used.
   */
  confine?(p: string): { rel: string } | { error: string };
}

/** The reference checked against the files directory (its own check when it has one). */
export function confineIn(fd: FilesDir, p: string): { rel: string } | { error: string } {
  return fd.confine ? fd.confine(p) : confineLocalPath(p);
}

/** Check that a `local` reference stays inside the files directory; returns the normalized relative path. */
export function confineLocalPath(p: string): { rel: string } | { error: string } {
  if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) return { error: ERR_ABSOLUTE_LOCAL };
  const norm = posix.normalize(p);
  if (norm === '..' || norm.startsWith('../')) return { error: ERR_FILES_DIR_ESCAPE };
  return { rel: norm === '.' ? '' : norm.replace(/\/$/, '') };
}

/** The files directory on disk. Symlinks that lead out of it are refused too (reads follow links). */
export function nodeFilesDir(dir: string): FilesDir {
  const base = resolve(dir);
  const abs = (rel: string) => (rel ? join(base, ...rel.split('/')) : base);
  const realBase = (() => {
    try {
      return realpathSync(base);
    } catch {
      return base;
    }
  })();
  const inside = (p: string) => p === realBase || p.startsWith(realBase + sep);
  return {
    confine(p) {
      if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) return { error: ERR_ABSOLUTE_LOCAL };
      const target = resolve(base, ...p.split('/'));
      if (target !== base && !target.startsWith(base + sep)) return { error: ERR_FILES_DIR_ESCAPE };
      return { rel: relative(base, target).split(sep).join('/') };
    },
    read(rel) {
      const p = abs(rel);
      let real: string;
      try {
        real = realpathSync(p);
      } catch (e) {
        throw new UserError(describe(e, p));
      }
      if (!inside(real)) throw new UserError(ERR_FILES_DIR_ESCAPE);
      try {
        if (statSync(real).isDirectory()) throw Object.assign(new UserError('is a directory'), { code: 'EISDIR' });
        return readFileSync(real);
      } catch (e) {
        throw new UserError(describe(e, p));
      }
    },
    kind(rel) {
      try {
        const st = statSync(abs(rel));
        return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
      } catch {
        return 'missing';
      }
    },
    walk(rel) {
      // The tree's root may be reached through a symlinked directory: it must stay inside, as reads must. Below
      // the root, symlinks are not followed (they become links).
      let realRoot: string;
      try {
        realRoot = realpathSync(abs(rel));
      } catch (e) {
        throw new UserError(describe(e, abs(rel)));
      }
      if (!inside(realRoot)) throw new UserError(ERR_FILES_DIR_ESCAPE);
      const out: TreeEntry[] = [];
      const visit = (r: string) => {
        const p = abs(r);
        const st = lstatSync(p);
        if (st.isSymbolicLink()) out.push({ rel: r.slice(rel.length).replace(/^\//, ''), kind: 'symlink', target: readlinkSync(p) });
        else if (st.isDirectory()) {
          out.push({ rel: r.slice(rel.length).replace(/^\//, ''), kind: 'dir' });
          for (const name of readdirSync(p).sort()) visit(r ? `${r}/${name}` : name);
        } else if (st.isFile()) out.push({ rel: r.slice(rel.length).replace(/^\//, ''), kind: 'file', executable: (st.mode & 0o111) !== 0 });
        else out.push({ rel: r.slice(rel.length).replace(/^\//, ''), kind: 'other' });
      };
      visit(rel);
      return out;
    },
  };
}

function describe(e: unknown, p: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `open ${p}: no such file or directory`;
  if (code === 'EISDIR') return `read ${p}: is a directory`;
  if (code === 'EACCES') return `open ${p}: permission denied`;
  return `open ${p}: ${(e as Error).message}`;
}

/** An in-memory files directory (tests, and callers that already hold the files). */
export function memoryFilesDir(files: Record<string, string | Uint8Array | { symlink: string } | { mode: number; data: string | Uint8Array }>): FilesDir {
  const entries = new Map<string, TreeEntry & { data?: Uint8Array }>();
  const addDirs = (rel: string) => {
    const parts = rel.split('/');
    for (let i = 0; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!entries.has(d)) entries.set(d, { rel: d, kind: 'dir' });
    }
  };
  entries.set('', { rel: '', kind: 'dir' });
  for (const [rel, v] of Object.entries(files)) {
    addDirs(rel);
    if (typeof v === 'string' || v instanceof Uint8Array) entries.set(rel, { rel, kind: 'file', executable: false, data: Buffer.from(v) });
    else if ('symlink' in v) entries.set(rel, { rel, kind: 'symlink', target: v.symlink });
    else entries.set(rel, { rel, kind: 'file', executable: (v.mode & 0o111) !== 0, data: Buffer.from(v.data) });
  }
  return {
    read(rel) {
      const e = entries.get(rel);
      if (!e) throw new UserError(`open ${rel}: no such file or directory`);
      if (e.kind !== 'file') throw new UserError(`read ${rel}: is a directory`);
      return e.data!;
    },
    kind(rel) {
      return entries.get(rel)?.kind ?? 'missing';
    },
    walk(rel) {
      const keys = [...entries.keys()].filter((k) => k === rel || rel === '' || k.startsWith(rel + '/'));
      // Go's Walk order: compare path components.
      keys.sort((a, b) => {
        const pa = a.split('/');
        const pb = b.split('/');
        for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
        return pa.length - pb.length;
      });
      return keys.map((k) => {
        const e = entries.get(k)!;
        return { rel: rel ? k.slice(rel.length).replace(/^\//, '') : k, kind: e.kind, executable: e.executable, target: e.target };
      });
    },
  };
}
