/**
 * Layered composes (issue #6): a new version that differs from the previous build only in the manifest's overlay
 * files is made without mmdebstrap, dracut or a 1 GB commit:
 *
 *   ostree commit --tree=ref=<previous commit> --tree=dir=<the overlay, etc/ → usr/etc/> --parent=<previous>
 *
 * ostree merges the directory into the previous tree (files replace files, directories are merged), so the result
 * is a real commit whose parent is the previous one; the kernel and initramfs objects are the same, so the static
 * delta carries the changed files only. Used only when it gives the tree a full compose would give:
 *   - everything but the overlay is unchanged: the manifest without `overlay`, the built-in overlay, the resolved
 *     packages, the compose format, kubelet, images and the signing key (the "layer base" digest);
 *   - no file of the previous overlay was removed (a layer cannot delete) and every file is under etc/ or usr/
 *     (var/ and the rest are rearranged by the layout step).
 * Otherwise the compose is a full one and says why.
 */
import { chmodSync, chownSync, lstatSync, readdirSync, renameSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/run.js';
import { applyOverlay } from './layout.js';
import { canonicalJson, sha256, treeDigest, type InputParts } from './inputs.js';
import type { Manifest } from './manifest.js';

/** Digest of every input except the manifest's overlay files. */
export function layerBase(o: { manifest: Manifest; builtinOverlay?: string; parts: InputParts }): string {
  const { overlay: _ignored, ...rest } = o.manifest;
  void _ignored;
  const p = o.parts;
  return sha256(
    [canonicalJson(rest), treeDigest(o.builtinOverlay), p.packages, p.compose, p.kubelet ?? '', p.images ?? '', p.signing ?? ''].join('\n'),
  );
}

/** Files and symlinks of an overlay directory, relative, sorted (placeholders skipped, as applyOverlay does). */
export function overlayFiles(dir: string | undefined): string[] {
  const out: string[] = [];
  if (!dir) return out;
  const walk = (rel: string) => {
    for (const n of readdirSync(join(dir, rel)).sort()) {
      if (n === '.keep' || n === '.gitkeep') continue;
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out;
}

/** Why a layered compose cannot be used (undefined: it can). */
export function layerBlocker(prevFiles: string[] | undefined, files: string[]): string | undefined {
  if (!prevFiles) return 'the previous build has no record of its overlay files';
  const now = new Set(files);
  const gone = prevFiles.find((f) => !now.has(f));
  if (gone) return `the overlay file ${gone} was removed (a layer cannot delete)`;
  const outside = files.find((f) => !(f.startsWith('etc/') || f.startsWith('usr/')));
  if (outside) return `the overlay file ${outside} is outside etc/ and usr/`;
  return undefined;
}

/**
 * Stage the overlay as a tree in the committed layout: etc/ → usr/etc/. Directories that exist in the base commit
 * get the base's mode and owner (ostree would otherwise take the staging directory's), new ones the overlay's.
 */
export async function stageLayer(overlayDir: string, stage: string, repo: string, base: string): Promise<void> {
  mkdirSync(stage, { recursive: true });
  applyOverlay(stage, overlayDir);
  if (existsSync(join(stage, 'etc'))) {
    mkdirSync(join(stage, 'usr'), { recursive: true });
    if (existsSync(join(stage, 'usr', 'etc'))) {
      applyOverlay(join(stage, 'usr', 'etc'), join(stage, 'etc'));
      await run('rm', ['-rf', '--one-file-system', join(stage, 'etc')], { purpose: 'remove the staged etc' });
    } else renameSync(join(stage, 'etc'), join(stage, 'usr', 'etc'));
  }
  const dirs: string[] = ['/'];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(stage, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      if (lstatSync(join(stage, r)).isDirectory()) {
        dirs.push(`/${r}`);
        walk(r);
      }
    }
  };
  walk('');
  // `ostree ls -d`: "d00755 0 0 0 /usr/etc" per existing path; missing paths make it fail, so one call per dir.
  for (const d of dirs) {
    const r = await run('ostree', ['ls', `--repo=${repo}`, '-d', base, d], { allowFailure: true });
    const m = /^d0?(\d+)\s+(\d+)\s+(\d+)\s/m.exec(r.stdout);
    const local = join(stage, d.slice(1));
    if (r.exitCode === 0 && m) {
      chmodSync(local, parseInt(m[1]!, 8) & 0o7777);
      chownSync(local, Number(m[2]), Number(m[3]));
    } else if (d === '/') {
      chmodSync(local, 0o755);
      chownSync(local, 0, 0);
    }
  }
}
