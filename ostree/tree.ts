/**
 * Compose's steps on the bootstrapped tree: the layout step (overlays, the kubelet payload, units, configureTree,
 * the libostree layout), the files of the update agent, and what is read back from the tree (packages, size).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/run.js';
import { updateConfText, type Manifest, type ResolvedImage } from './manifest.js';
import { applyOverlay, configureTree, ostreeLayout } from './layout.js';
import type { ContainerImageRecord } from './builds.js';
import { installK8sPayload, type InstallK8sPayloadOptions, type InstalledK8sPayload } from './k8s/payload.js';
import type { OciImageResult } from './k8s/oci.js';
import { buildManifestImages, containerImageRecords } from './k8s/compose.js';
import type { SigningKey } from './updates/sign.js';

/** Installed packages of a tree: name → version (dpkg-query against the tree's database). */
export async function treePackages(root: string): Promise<Record<string, string>> {
  const r = await run('dpkg-query', [`--admindir=${join(root, 'var', 'lib', 'dpkg')}`, '-W', '-f=${db:Status-Abbrev}\t${Package}\t${Version}\n'], {
    purpose: 'list the packages of the tree',
  });
  const out: Record<string, string> = {};
  for (const l of r.stdout.split('\n')) {
    const [st, name, ver] = l.split('\t');
    if (!name || !ver || !st?.startsWith('ii')) continue;
    out[name] = ver;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** enable/disable/mask with the tree's own systemctl, offline (--root=/ inside a chroot: no host systemd needed). */
async function unitsCommand(root: string, verb: 'enable' | 'disable' | 'mask', units: string[]): Promise<void> {
  if (units.length === 0) return;
  await run('chroot', [root, 'systemctl', '--root=/', '--no-reload', verb, ...units], {
    env: { SYSTEMD_LOG_LEVEL: 'warning', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    purpose: `${verb} ${units.join(' ')} in the tree`,
    hint: 'check the unit names in the manifest (units.enable/disable/mask) against the packages and overlays',
  });
}

export interface LayoutTreeOptions {
  /** ostree/guest/overlay (first-boot glue). */
  builtinOverlay?: string;
  /** The manifest's overlay: copied after the kubelet payload, so it can override the payload's files. */
  manifestOverlay?: string;
  units: Manifest['units'];
  /** kubelet.enabled: the payload to install. */
  k8s?: {
    kubelet: { path: string };
    /** Build and ship pause + hello (default true). */
    preloadImages?: boolean;
    /** The manifest's images. */
    images: ResolvedImage[];
    sourceDateEpoch?: number;
    goBin?: string;
  };
  /** systemctl enable/disable/mask in the tree (default: the tree's own systemctl in a chroot). */
  unitsCommand?: (root: string, verb: 'enable' | 'disable' | 'mask', units: string[]) => Promise<void>;
  /** Injectable for tests. */
  installPayload?: (rootfs: string, opts: InstallK8sPayloadOptions) => Promise<InstalledK8sPayload>;
}

export interface LayoutTreeResult {
  kver: string;
  /** kubelet.enabled: the payload files and every preloaded OCI archive. */
  k8s?: { files: string[]; images: ContainerImageRecord[] };
}

/**
 * The layout step: built-in overlay → kubelet payload (overlay-k8s into /etc and /usr, /usr/bin/kubelet, OCI
 * archives into /usr/share/fcos/images) → the manifest's overlay → units → configureTree → ostreeLayout. The
 * payload must land while /etc is still /etc: ostreeLayout moves /etc to /usr/etc as its last act.
 */
export async function layoutTree(rootfs: string, o: LayoutTreeOptions): Promise<LayoutTreeResult> {
  if (o.builtinOverlay) applyOverlay(rootfs, o.builtinOverlay);
  let k8s: LayoutTreeResult['k8s'];
  if (o.k8s) {
    const payload = await (o.installPayload ?? installK8sPayload)(rootfs, {
      kubelet: o.k8s.kubelet,
      images: o.k8s.preloadImages ?? true,
      goBin: o.k8s.goBin,
      sourceDateEpoch: o.k8s.sourceDateEpoch,
    });
    const own: OciImageResult[] = await buildManifestImages(rootfs, o.k8s.images, o.k8s.sourceDateEpoch);
    k8s = { files: payload.files, images: containerImageRecords(rootfs, [...payload.images, ...own]) };
  }
  if (o.manifestOverlay) applyOverlay(rootfs, o.manifestOverlay);
  const units = o.unitsCommand ?? unitsCommand;
  await units(rootfs, 'enable', o.units.enable);
  await units(rootfs, 'disable', o.units.disable);
  await units(rootfs, 'mask', o.units.mask);
  configureTree(rootfs, { units: o.units });
  const { kver } = ostreeLayout(rootfs);
  return { kver, ...(k8s ? { k8s } : {}) };
}

/** Apparent size of a tree in bytes (du -sb). */
export async function treeSize(root: string): Promise<number> {
  const r = await run('du', ['-sb', '--one-file-system', root], { allowFailure: true });
  const n = Number(r.stdout.split('\t')[0]);
  return Number.isFinite(n) ? n : 0;
}

/** The update agent's defaults and the public signing key, in /usr/lib/fcos (read by fcos-update in the image). */
export function writeUpdateFiles(rootfs: string, m: Manifest, key: Pick<SigningKey, 'publicKey'>): void {
  const d = join(rootfs, 'usr', 'lib', 'fcos');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'update.conf'), updateConfText(m), { mode: 0o644 });
  copyFileSync(key.publicKey, join(d, 'updates.gpg'));
}
