/**
 * Compose's side of kubelet (issue #5): the manifest's `kubelet:` and `images:` sections.
 *
 *   packages   kubelet.enabled adds K8S_REQUIRED_PACKAGES (containerd, runc, CNI plugins, …) unless listed
 *   binary     source go-module: ensureKubelet({version}) (built from the Go module proxy, cached);
 *              source url: fetchKubelet({url, sha256}) (cached by sha256). Warm: no subprocess.
 *   hash       the binary's identity (version, source, sha256, module hash, Go version) + ostree/guest/overlay-k8s + the
 *              pause/hello sources and Go version → InputParts.kubelet; the manifest images' refs, configs and
 *              source contents → InputParts.images
 *   layout     installK8sPayload (overlay-k8s, /usr/bin/kubelet, pause + hello) and the manifest's images as OCI
 *              archives in /usr/share/fcos/images, while /etc is still /etc (see layoutTree in compose.ts)
 *   meta.json  `kubelet` (KubeletRecord) and `container-images`
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, fileDigest, sha256, treeDigest } from '../inputs.js';
import { kubeletSource, type Manifest, type KubeletConfig, type ResolvedImage } from '../manifest.js';
import { DEFAULT_KUBELET_VERSION, ensureKubelet, fetchKubelet, type KubeletBinary } from './kubelet.js';
import { K8S_REQUIRED_PACKAGES, overlayK8sDir } from './payload.js';
import { goSourcesDir } from './images.js';
import { goVersion, resolveGoBin } from './go.js';
import { buildOciImage, type OciImageConfig, type OciImageResult } from './oci.js';
import type { ContainerImageRecord, KubeletRecord } from '../builds.js';

/** Where preloaded OCI archives go in the tree (fcos-preload-images.service imports *.tar from there). */
export const IMAGES_DIR = 'usr/share/fcos/images';

/** Package name without :arch and =version. */
function baseName(p: string): string {
  return p.replace(/=.*$/, '').replace(/:[a-z0-9]+$/, '');
}

/** The package list compose installs: the manifest's, plus K8S_REQUIRED_PACKAGES (not yet listed) with kubelet. */
export function composePackages(m: Pick<Manifest, 'packages' | 'kubelet'>): string[] {
  if (!m.kubelet.enabled) return [...m.packages];
  const have = new Set(m.packages.map(baseName));
  return [...m.packages, ...K8S_REQUIRED_PACKAGES.filter((p) => !have.has(p))];
}

/** The manifest as bootstrap and the package checks see it (packages extended); hashing uses the original. */
export function effectiveManifest(m: Manifest): Manifest {
  return { ...m, packages: composePackages(m) };
}

export interface ObtainKubeletDeps {
  ensure?: typeof ensureKubelet;
  fetch?: typeof fetchKubelet;
  goBin?: string;
}

/** The kubelet binary a manifest asks for (cached after the first time). */
export async function obtainKubelet(k: KubeletConfig, deps: ObtainKubeletDeps = {}): Promise<KubeletBinary> {
  if (kubeletSource(k) === 'url') return (deps.fetch ?? fetchKubelet)({ url: k.url!, sha256: k.sha256! });
  return (deps.ensure ?? ensureKubelet)({ version: k.version ?? DEFAULT_KUBELET_VERSION, goBin: deps.goBin });
}

/** meta.json's `kubelet` record of a binary. */
export function kubeletRecord(b: KubeletBinary): KubeletRecord {
  const source = b.source === 'url' ? 'url' : 'go-module';
  return {
    version: b.version,
    source,
    sha256: b.sha256,
    ...(b.moduleHash ? { moduleHash: b.moduleHash } : {}),
    ...(b.goVersion ? { goVersion: b.goVersion } : {}),
    ...(b.url ? { url: b.url } : {}),
  };
}

/**
 * InputParts.kubelet: what decides the kubelet payload besides the manifest: the binary's identity, the files of
 * ostree/guest/overlay-k8s, and the sources and Go version the pause/hello images are built from. Costs no subprocess
 * when Go's VERSION file is readable (the default toolchain and Debian's both have one).
 */
export async function k8sPayloadDigest(b: KubeletBinary, opts: { goBin?: string; overlayDir?: string; imageSourcesDir?: string } = {}): Promise<string> {
  const go = await goVersion(resolveGoBin(opts.goBin));
  return sha256(
    canonicalJson({
      kubelet: kubeletRecord(b),
      overlay: treeDigest(opts.overlayDir ?? overlayK8sDir()),
      preload: { sources: treeDigest(opts.imageSourcesDir ?? goSourcesDir()), go },
    }),
  );
}

/** Content digest of one image source: the tree of a rootfs directory, the bytes of a tarball or OCI archive. */
export async function imageSourceDigest(img: Pick<ResolvedImage, 'kind' | 'path'>): Promise<string> {
  return img.kind === 'rootfs' ? treeDigest(img.path, { keepPlaceholders: true }) : fileDigest(img.path);
}

/** InputParts.images: refs, configs and source contents of the manifest's images; undefined when there are none. */
export async function imagesDigest(images: ResolvedImage[]): Promise<string | undefined> {
  if (images.length === 0) return undefined;
  const parts: unknown[] = [];
  for (const img of images) parts.push({ ref: img.ref, kind: img.kind, config: ociConfig(img), content: await imageSourceDigest(img) });
  return sha256(canonicalJson(parts));
}

/** The OCI config of a manifest image (entrypoint, cmd, env, ports). */
export function ociConfig(img: Pick<ResolvedImage, 'spec'>): OciImageConfig {
  const s = img.spec;
  const c: OciImageConfig = {};
  if (s.entrypoint) c.entrypoint = s.entrypoint;
  if (s.cmd) c.cmd = s.cmd;
  if (s.env) c.env = Object.entries(s.env).map(([k, v]) => `${k}=${String(v)}`);
  if (s.ports) c.exposedPorts = s.ports.map((p) => (typeof p === 'number' || !p.includes('/') ? `${p}/tcp` : p));
  return c;
}

/** Build the manifest's images as OCI archives into `<rootfs>/usr/share/fcos/images`. */
export async function buildManifestImages(rootfs: string, images: ResolvedImage[], sourceDateEpoch?: number): Promise<OciImageResult[]> {
  const out: OciImageResult[] = [];
  for (const img of images) {
    const from = img.kind === 'rootfs' ? { rootfsDir: img.path } : img.kind === 'tarball' ? { rootfsTar: img.path } : { ociArchive: img.path };
    out.push(
      await buildOciImage({ name: img.spec.name, tag: img.spec.tag, from, config: ociConfig(img), out: join(rootfs, IMAGES_DIR, img.file), sourceDateEpoch }),
    );
  }
  return out;
}

/** meta.json's `container-images` entries, and images.json next to the archives listing all of them. */
export function containerImageRecords(rootfs: string, images: OciImageResult[]): ContainerImageRecord[] {
  const dir = join(rootfs, IMAGES_DIR);
  const recs = images
    .map((i) => ({
      ref: i.ref,
      path: `/${IMAGES_DIR}/${i.out.slice(dir.length + 1)}`,
      manifestDigest: i.manifestDigest,
      configDigest: i.configDigest,
      size: i.archiveSize,
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (recs.length) {
    writeFileSync(
      join(dir, 'images.json'),
      JSON.stringify(
        recs.map((r) => ({ ref: r.ref, file: r.path.slice(IMAGES_DIR.length + 2), manifestDigest: r.manifestDigest })),
        null,
        2,
      ) + '\n',
    );
  }
  return recs;
}
