/**
 * `fcos build`: config → compose (or reuse) → disk image → formats → builds/<version>/ + meta.json images.
 *
 * Order matters: the config is refused before anything else happens (no builds dir change). The disk is built
 * under a temporary name in the build directory and renamed only when complete, so an interrupted build never
 * leaves something that looks bootable.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTools } from '../lib/tools.js';
import { freeBytes, renameDurably } from '../lib/paths.js';
import { projectRoot } from '../lib/version.js';
import { InterruptedError, UserError } from '../lib/errors.js';
import { withCleanup } from '../lib/signals.js';
import { info, step } from '../lib/log.js';
import { prepareConfig } from './config.js';
import { buildDisk, type Firmware } from './disk.js';
import { FORMATS, expandFormats, validateFormats } from './formats.js';
import { parseSize, MiB } from './layout.js';
import { readMeta, updateMeta, type ComposedBuild } from '../ostree/builds.js';

/** What `compose()` (ostree/compose.ts) is to the image step; injected so the image step can be used on its own. */
export type ComposeFn = (o: { manifest?: string; buildsDir: string; force?: boolean }) => Promise<ComposedBuild>;

export interface BuildImageOptions {
  ignition: string;
  manifest?: string;
  buildsDir: string;
  formats: string[];
  firmware: Firmware;
  force?: boolean;
  compose: ComposeFn;
}

export interface ImageRecord {
  path: string;
  sha256: string;
  size: number;
}

/** What an image build made, kept in meta.json (ImageBuildRecord) and reported (BuildImageResult). */
export interface ImageFacts {
  firmware: Firmware;
  configVersion?: string;
  imageConfigVersion?: string;
  kernelArguments: string[];
  deployment: string;
  bootEntries: string[];
}

export interface BuildImageResult extends ImageFacts {
  buildId: string;
  buildDir: string;
  ref: string;
  commit: string;
  composed: boolean;
  images: Record<string, ImageRecord>;
  seconds: number;
  /** The build's images were up to date (same compose, config, firmware and image code): nothing was written. */
  reused?: boolean;
}

/**
 * meta.json `fcos.image-build`: what the images of a build were made from, so that a later `fcos build` with the same
 * inputs reuses them instead of writing 8 GiB again (cosa's buildextend-* skip an artifact that exists). `inputs`
 * hashes the config text, the firmware, the commit, the kernel arguments and the image code itself (dist/images:
 * a changed image builder never reuses an image the old one made).
 */
export interface ImageBuildRecord extends ImageFacts {
  inputs: string;
  /** Format → the meta.json images keys it wrote. */
  formats: Record<string, string[]>;
}

let codeDigest: string | undefined;
/**
 * A digest of the image code: the compiled image builder (this directory), the project's images/ directory (its
 * sources) and the assets read at run time (the PXE dracut module, ostree/guest/pxe-live).
 */
export function imageCodeDigest(dirs: readonly string[] = defaultCodeDirs()): string {
  const own = dirs.length === 3 && dirs[0] === dirname(fileURLToPath(import.meta.url));
  if (own && codeDigest) return codeDigest;
  const h = createHash('sha256');
  const walk = (root: string, d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(root, p);
      else if (e.isFile()) h.update(`${p.slice(root.length)}\0`).update(readFileSync(p)).update('\0');
    }
  };
  for (const d of dirs) if (existsSync(d)) walk(d, d);
  const digest = h.digest('hex');
  if (own) codeDigest = digest;
  return digest;
}

function defaultCodeDirs(): string[] {
  return [dirname(fileURLToPath(import.meta.url)), join(projectRoot(), 'images'), join(projectRoot(), 'ostree', 'guest', 'pxe-live')];
}

export function imageInputs(o: { config: string; firmware: Firmware; commit: string; kernelArguments: readonly string[]; code: string }): string {
  return createHash('sha256').update(JSON.stringify([o.config, o.firmware, o.commit, o.kernelArguments, o.code])).digest('hex');
}

/**
 * The images of a build that `fcos build` may reuse: the same inputs, every asked format written before, and every
 * file still there with its recorded size. Undefined: build.
 */
export function reusableImages(buildDir: string, inputs: string, formats: readonly string[]): { record: ImageBuildRecord; images: Record<string, ImageRecord> } | undefined {
  let meta;
  try {
    meta = readMeta(buildDir);
  } catch {
    return undefined;
  }
  const record = meta['fcos.image-build'] as ImageBuildRecord | undefined;
  if (!record || record.inputs !== inputs) return undefined;
  const images: Record<string, ImageRecord> = {};
  for (const f of formats) {
    const keys = record.formats[f];
    if (!keys?.length) return undefined;
    for (const k of keys) {
      const img = meta.images?.[k] as ImageRecord | undefined;
      if (!img?.path) return undefined;
      const p = join(buildDir, img.path);
      try {
        if (statSync(p).size !== img.size) return undefined;
      } catch {
        return undefined;
      }
      images[k] = img;
    }
  }
  return { record, images };
}

export const IMAGE_TOOLS = ['sgdisk', 'losetup', 'partx', 'mkfs.ext4', 'mkfs.vfat', 'mmd', 'mcopy', 'mount', 'umount', 'ostree', 'qemu-img', 'chroot', 'truncate'];

import { sha256File } from '../lib/hash.js';
export { sha256File };

const GiB = 1024 * MiB;
const gib = (n: number) => `${(n / GiB).toFixed(1)} GiB`;

/**
 * Bytes a build writes into its build dir: the raw disk's used blocks (the deployment, hard-linked to the image's
 * repo, plus /boot) and each output format, each about the tree's size plus 256 MiB of boot files and filesystem
 * overhead. An upper estimate: qcow2 and zstd outputs are smaller.
 */
export function buildSpaceNeeded(treeSize: number, outputs: number): number {
  return (outputs + 1) * (treeSize + 256 * MiB);
}

/** Refuse a build that cannot fit before any image file is written ($FCOS_SPACE_CHECK=0 skips the check). */
export function checkBuildSpace(dir: string, need: number): void {
  if (process.env.FCOS_SPACE_CHECK === '0') return;
  const free = freeBytes(dir);
  if (free !== undefined && free < need) {
    throw new UserError(
      `not enough free disk space in ${dir}: ${gib(free)} free, this build needs about ${gib(need)}`,
      'free some disk space, build fewer formats, or use --builds on a larger filesystem (FCOS_SPACE_CHECK=0 skips this estimate)',
    );
  }
}

/** An error of the image step while the build dir's filesystem is (nearly) full is a full disk, whatever the tool said. */
function fullDiskError(dir: string, err: unknown): UserError | undefined {
  if (err instanceof UserError || err instanceof InterruptedError) return undefined;
  const free = freeBytes(dir);
  if (free === undefined || free >= 64 * MiB) return undefined;
  const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new UserError(
    `no space left on device in ${dir} while building the image (${why}); the partial image files are removed and meta.json is not changed`,
    'free some disk space or use --builds on a larger filesystem',
  );
}

/** What `fcos build` reports, from the compose, the image record (built now or reused) and the images. */
function buildResult(c: ComposedBuild, r: ImageBuildRecord, images: Record<string, ImageRecord>, t0: number): BuildImageResult {
  return {
    buildId: c.buildId,
    buildDir: c.buildDir,
    ref: c.ref,
    commit: c.commit,
    composed: c.changed,
    firmware: r.firmware,
    ...(r.configVersion ? { configVersion: r.configVersion } : {}),
    ...(r.imageConfigVersion ? { imageConfigVersion: r.imageConfigVersion } : {}),
    kernelArguments: r.kernelArguments,
    deployment: r.deployment,
    bootEntries: r.bootEntries,
    images,
    seconds: (Date.now() - t0) / 1000,
  };
}

export async function buildImage(opts: BuildImageOptions): Promise<BuildImageResult> {
  const t0 = Date.now();
  validateFormats(opts.formats);
  if (!existsSync(opts.ignition)) throw new UserError(`no such config file: ${opts.ignition}`);
  // 1. The config, before any other work.
  const cfg = await step('check the Ignition config', () => prepareConfig(opts.ignition));
  requireTools(IMAGE_TOOLS);
  if (process.getuid?.() !== 0) throw new UserError('building a disk image needs root (loop devices, mounts)', 'run fcos build as root');

  // 2. Compose, or reuse the latest compose when the inputs are unchanged.
  const c = await opts.compose({ manifest: opts.manifest, buildsDir: resolve(opts.buildsDir), force: opts.force });
  const meta = readMeta(dirname(c.metaPath));
  const name = meta.name ?? 'fcos';
  const kargs = meta['kernel-arguments'] ?? [];
  const sizeBytes = parseSize(meta['image-size'] ?? '8G');
  const treeSize = meta.artifacts?.tree?.size ?? 0;
  // The deployment (hardlinked checkout) plus the repo copy, plus room for one upgrade.
  const minRootBytes = Math.ceil(treeSize * 2.5) + 256 * MiB;
  const formats = expandFormats(opts.formats);
  const inputs = imageInputs({ config: cfg.text, firmware: opts.firmware, commit: c.commit, kernelArguments: kargs, code: imageCodeDigest() });
  const reuse = opts.force ? undefined : reusableImages(c.buildDir, inputs, formats);
  if (reuse) {
    const r = reuse.record;
    info(`images of ${c.buildId} are up to date (same compose, config, firmware and image code): ${Object.values(reuse.images).map((i) => i.path).join(', ')}; --force rebuilds`);
    return { ...buildResult(c, r, reuse.images, t0), reused: true };
  }
  checkBuildSpace(c.buildDir, buildSpaceNeeded(treeSize, formats.length));

  return withCleanup(async (cleanup) => {
    try {
      const rawTmp = join(c.buildDir, `.${name}-${c.buildId}.raw.partial`);
      cleanup.push('remove the partial image', () => rmSync(rawTmp, { force: true }));
      const disk = await step('build the disk image', () =>
        buildDisk(
          {
            path: rawTmp,
            sizeBytes,
            repo: c.repo,
            ref: c.ref,
            commit: c.commit,
            stateroot: name,
            kernelArguments: kargs,
            firmware: opts.firmware,
            ignition: cfg.text,
            minRootBytes,
          },
          cleanup,
        ),
      );
      const images: Record<string, ImageRecord> = {};
      const written: Record<string, string[]> = {};
      const single = formats.filter((f) => FORMATS[f]!.convert);
      for (const f of formats) {
        const spec = FORMATS[f]!;
        if (!spec.produce) continue;
        const files = await step(`write the ${f} artifacts`, () =>
          spec.produce!({ raw: rawTmp, buildDir: c.buildDir, prefix: `${name}-${c.buildId}`, repo: c.repo, commit: c.commit, cleanup }),
        );
        for (const [key, file] of Object.entries(files)) {
          const p = join(c.buildDir, file);
          images[key] = { path: file, sha256: await sha256File(p), size: statSync(p).size };
        }
        written[f] = Object.keys(files);
      }
      for (const [i, f] of single.entries()) {
        const spec = FORMATS[f]!;
        const file = `${name}-${c.buildId}-${spec.suffix}`;
        const final = join(c.buildDir, file);
        const partial = join(c.buildDir, `.${file}.partial`);
        cleanup.push(`remove ${partial}`, () => rmSync(partial, { force: true }));
        await step(`write ${file}`, () => spec.convert!(rawTmp, partial, i < single.length - 1));
        renameDurably(partial, final);
        images[spec.key] = { path: file, sha256: await sha256File(final), size: statSync(final).size };
        written[f] = [spec.key];
      }
      // Formats written earlier from the same inputs stay reusable next to the ones written now.
      const prev = readMeta(c.buildDir)['fcos.image-build'] as ImageBuildRecord | undefined;
      const record: ImageBuildRecord = {
        inputs,
        formats: { ...(prev?.inputs === inputs ? prev.formats : {}), ...written },
        firmware: opts.firmware,
        ...(cfg.fromVersion ? { configVersion: cfg.fromVersion } : {}),
        ...(cfg.toVersion ? { imageConfigVersion: cfg.toVersion } : {}),
        kernelArguments: disk.kargs,
        deployment: disk.deployment,
        bootEntries: disk.bootEntries,
      };
      updateMeta(c.buildDir, { images, 'fcos.image-build': record });
      info(`built ${Object.values(images).map((i) => i.path).join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      return buildResult(c, record, images, t0);
    } catch (e) {
      // Still inside withCleanup: the partial files are not removed yet, so a full filesystem is still full.
      throw fullDiskError(c.buildDir, e) ?? e;
    }
  });
}
