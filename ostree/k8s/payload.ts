/**
 * Everything the image needs to run a standalone kubelet, put into a rootfs in one call (for compose):
 * - the files of ostree/guest/overlay-k8s (containerd config, CNI config, kubelet config + unit, preload unit + scripts,
 *   tmpfiles, presets, fcos-node.target and its wants links);
 * - the kubelet binary at /usr/bin/kubelet;
 * - the preloaded OCI archives (pause = the CRI sandbox image, hello = the demo HTTP server) in
 *   /usr/share/fcos/images, imported at first boot by fcos-preload-images.service.
 *
 * The packages the image must contain for this to work (Debian trixie): containerd, runc,
 * containernetworking-plugins (bridge/portmap/host-local/loopback in /usr/lib/cni), iptables (bridge ipMasq and
 * portmap call it), openssl (kubelet-prepare makes the local PKI), tar (preload-images reads index.json);
 * podman is optional (preload-images also `podman load`s the images when it is there).
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, lstat, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BugError, UserError } from '../../lib/errors.js';
import { buildPreloadImages, type BuiltImage } from './images.js';
import { applyOverlay } from '../layout.js';

/** Debian packages the overlay relies on; compose should add them to the manifest when kubelet is enabled. */
export const K8S_REQUIRED_PACKAGES = ['containerd', 'runc', 'containernetworking-plugins', 'iptables', 'openssl', 'tar'] as const;

/** Absolute path of ostree/guest/overlay-k8s, from the sources (vitest) or from dist/ (the built CLI). */
export function overlayK8sDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'guest', 'overlay-k8s'), join(here, '..', '..', '..', 'ostree', 'guest', 'overlay-k8s')];
  for (const c of candidates) if (existsSync(join(c, 'etc', 'kubernetes', 'kubelet.yaml'))) return c;
  throw new BugError(`ostree/guest/overlay-k8s not found (looked in ${candidates.join(', ')})`);
}

/** Every path in the overlay, relative ("etc/containerd/config.toml"), sorted. */
export async function overlayK8sFiles(): Promise<string[]> {
  const root = overlayK8sDir();
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const n of (await readdir(d)).sort()) {
      const p = join(d, n);
      const s = await lstat(p);
      if (s.isDirectory()) await walk(p);
      else out.push(relative(root, p));
    }
  };
  await walk(root);
  return out;
}

export interface InstallK8sPayloadOptions {
  /** The kubelet binary to install (from ensureKubelet() or fetchKubelet()). */
  kubelet: { path: string };
  /** Build and ship the preload images (default true). */
  images?: boolean;
  goBin?: string;
  sourceDateEpoch?: number;
}

export interface InstalledK8sPayload {
  /** Overlay files written, relative to the rootfs. */
  files: string[];
  images: BuiltImage[];
}

/** Install the kubelet payload into `rootfs` (see the file comment). */
export async function installK8sPayload(rootfs: string, opts: InstallK8sPayloadOptions): Promise<InstalledK8sPayload> {
  if (!existsSync(rootfs)) throw new UserError(`rootfs not found: ${rootfs}`);
  if (!existsSync(opts.kubelet.path)) throw new UserError(`kubelet binary not found: ${opts.kubelet.path}`);
  const src = overlayK8sDir();
  const files = await overlayK8sFiles();
  // applyOverlay, not fs.cp: paths resolve inside the tree (its /lib → usr/lib links), modes are kept, files are
  // owned by root, and a link the packages already made (containerd's multi-user.target.wants/containerd.service)
  // is replaced; fs.cp stats the source link's target on the *host* in that case and fails when it is missing there.
  applyOverlay(rootfs, src);
  // containerd's postinst enabled it into multi-user.target (deb-systemd-helper); here fcos-node.target wants it,
  // which multi-user.target wants without waiting for it (see fcos-node.target).
  await rm(join(rootfs, 'etc', 'systemd', 'system', 'multi-user.target.wants', 'containerd.service'), { force: true });
  await mkdir(join(rootfs, 'usr', 'bin'), { recursive: true });
  await copyFile(opts.kubelet.path, join(rootfs, 'usr', 'bin', 'kubelet'));
  await chmod(join(rootfs, 'usr', 'bin', 'kubelet'), 0o755);
  for (const f of ['usr/libexec/fcos/kubelet-prepare', 'usr/libexec/fcos/preload-images']) await chmod(join(rootfs, f), 0o755);
  const images = opts.images === false ? [] : await buildPreloadImages(join(rootfs, 'usr', 'share', 'fcos', 'images'), opts);
  return { files: [...files, 'usr/bin/kubelet'], images };
}
