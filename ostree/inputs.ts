/**
 * The input hash of a compose: what decides whether a new build is needed ("No changes in image inputs").
 *
 *   manifest  canonical JSON of the validated manifest (defaults filled in, keys sorted)
 *   overlays  every file of the built-in overlay and of the manifest's overlay: path, type, mode, content/target
 *   packages  the resolved package set "name=version", sorted
 *   compose   the compose format version, the fcos version and SOURCE_DATE_EPOCH
 *
 * Resolving packages cheaply: after a build, the set is the tree's dpkg-query list. Before a build, the previous
 * build's package names are looked up in the (updated) package indexes: if every candidate version equals the
 * installed one and the manifest is unchanged, apt would resolve the same set, so the hash is the same.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Bump when the tree produced from the same inputs changes (layout, initramfs, commit options). */
export const COMPOSE_FORMAT = '1';

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function sha256(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Digest of a directory tree: relative paths, types, mode bits, contents, symlink targets. Missing dir = empty. */
export function treeDigest(dir: string | undefined): string {
  const h = createHash('sha256');
  if (!dir) return h.digest('hex');
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(dir, rel)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (n === '.keep' || n === '.gitkeep') continue;
      const r = rel ? `${rel}/${n}` : n;
      const p = join(dir, r);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        h.update(`d ${r} ${mode}\n`);
        walk(r);
      } else if (st.isSymbolicLink()) {
        h.update(`l ${r} ${readlinkSync(p)}\n`);
      } else {
        h.update(`f ${r} ${mode} ${sha256(readFileSync(p))}\n`);
      }
    }
  };
  walk('');
  return h.digest('hex');
}

export function packagesDigest(pkgs: Record<string, string>): string {
  return sha256(
    Object.keys(pkgs)
      .sort()
      .map((k) => `${k}=${pkgs[k]}\n`)
      .join(''),
  );
}

export interface InputParts {
  manifest: string;
  overlays: string;
  packages: string;
  compose: string;
}

export function inputParts(o: { manifest: unknown; overlayDirs: (string | undefined)[]; packages: Record<string, string>; fcosVersion: string; sourceDateEpoch: number }): InputParts {
  return {
    manifest: sha256(canonicalJson(o.manifest)),
    overlays: sha256(o.overlayDirs.map((d) => treeDigest(d)).join('\n')),
    packages: packagesDigest(o.packages),
    compose: sha256(`format=${COMPOSE_FORMAT}\nfcos=${o.fcosVersion}\nsde=${o.sourceDateEpoch}\n`),
  };
}

export function inputHash(p: InputParts): string {
  return sha256(`manifest ${p.manifest}\noverlays ${p.overlays}\npackages ${p.packages}\ncompose ${p.compose}\n`);
}
