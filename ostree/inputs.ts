/**
 * The input hash of a compose: what decides whether a new build is needed ("No changes in image inputs").
 *
 *   manifest  canonical JSON of the validated manifest (defaults filled in, keys sorted)
 *   overlays  every file of the built-in overlay and of the manifest's overlay: path, type, mode, content/target
 *   packages  the resolved package set "name=version", sorted
 *   compose   the compose format version, the fcos version and SOURCE_DATE_EPOCH
 *   kubelet   (kubelet.enabled only) the kubelet binary's identity (version, source, sha256, module hash, Go
 *             version), ostree/guest/overlay-k8s and the sources + Go version of the pause/hello images
 *   images    (manifest images only) each image's ref, config and the content of its source
 * A manifest without kubelet and images hashes exactly as before these parts existed.
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

/**
 * Digest of a directory tree: relative paths, types, mode bits, contents, symlink targets. Missing dir = empty.
 * `.keep`/`.gitkeep` placeholders are skipped (applyOverlay skips them too) unless keepPlaceholders.
 */
export function treeDigest(dir: string | undefined, opts: { keepPlaceholders?: boolean } = {}): string {
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
      if (!opts.keepPlaceholders && (n === '.keep' || n === '.gitkeep')) continue;
      const r = rel ? `${rel}/${n}` : n;
      const p = join(dir, r);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        h.update(`d ${r} ${mode}\n`);
        walk(r);
      } else if (st.isSymbolicLink()) {
        h.update(`l ${r} ${readlinkSync(p)}\n`);
      } else if (st.isFile()) {
        h.update(`f ${r} ${mode} ${sha256(readFileSync(p))}\n`);
      } else {
        // devices, fifos, sockets (image rootfs trees): never read them
        h.update(`o ${r} ${mode} ${st.mode & 0o170000} ${st.rdev}\n`);
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
  /** Digest of the kubelet payload identity (ostree/k8s/compose.ts k8sPayloadDigest); only with kubelet.enabled. */
  kubelet?: string;
  /** Digest of the manifest's preloaded images (ostree/k8s/compose.ts imagesDigest); only when it lists images. */
  images?: string;
  /** The update signing key's fingerprint (its public key is in the tree). */
  signing?: string;
}

export function inputParts(o: {
  manifest: unknown;
  overlayDirs: (string | undefined)[];
  packages: Record<string, string>;
  fcosVersion: string;
  sourceDateEpoch: number;
  kubelet?: string;
  images?: string;
  signing?: string;
}): InputParts {
  return {
    manifest: sha256(canonicalJson(o.manifest)),
    overlays: sha256(o.overlayDirs.map((d) => treeDigest(d)).join('\n')),
    packages: packagesDigest(o.packages),
    compose: sha256(`format=${COMPOSE_FORMAT}\nfcos=${o.fcosVersion}\nsde=${o.sourceDateEpoch}\n`),
    ...(o.kubelet !== undefined ? { kubelet: o.kubelet } : {}),
    ...(o.images !== undefined ? { images: o.images } : {}),
    ...(o.signing !== undefined ? { signing: sha256(`signing=${o.signing}\n`) } : {}),
  };
}

export function inputHash(p: InputParts): string {
  let s = `manifest ${p.manifest}\noverlays ${p.overlays}\npackages ${p.packages}\ncompose ${p.compose}\n`;
  if (p.kubelet !== undefined) s += `kubelet ${p.kubelet}\n`;
  if (p.images !== undefined) s += `images ${p.images}\n`;
  if (p.signing !== undefined) s += `signing ${p.signing}\n`;
  return sha256(s);
}

/** Digest of a file's content (streamed: image tarballs can be large). */
export async function fileDigest(path: string): Promise<string> {
  const { createReadStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}
