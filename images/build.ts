/**
 * `fcos build`: config → compose (or reuse) → disk image → formats → builds/<version>/ + meta.json images.
 *
 * Order matters: the config is refused before anything else happens (no builds dir change). The disk is built
 * under a temporary name in the build directory and renamed only when complete, so an interrupted build never
 * leaves something that looks bootable.
 */
import { existsSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requireTools } from '../lib/run.js';
import { freeBytes } from '../lib/paths.js';
import { InterruptedError, UserError } from '../lib/errors.js';
import { withCleanup } from '../lib/signals.js';
import { info, step } from '../lib/log.js';
import { prepareConfig } from './config.js';
import { buildDisk, type Firmware } from './disk.js';
import { FORMATS, expandFormats, validateFormats } from './formats.js';
import { parseSize, MiB } from './layout.js';
import { updateMeta } from '../ostree/builds.js';

/** What `compose()` returns (ostree/compose.ts); injected so the image step can be used on its own. */
export interface ComposedBuild {
  buildId: string;
  ref: string;
  commit: string;
  repo: string;
  buildDir: string;
  metaPath: string;
  changed: boolean;
}

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

export interface BuildImageResult {
  buildId: string;
  buildDir: string;
  ref: string;
  commit: string;
  composed: boolean;
  firmware: Firmware;
  configVersion?: string;
  imageConfigVersion?: string;
  kernelArguments: string[];
  deployment: string;
  bootEntries: string[];
  images: Record<string, ImageRecord>;
  seconds: number;
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

export async function buildImage(opts: BuildImageOptions): Promise<BuildImageResult> {
  const t0 = Date.now();
  validateFormats(opts.formats);
  if (!existsSync(opts.ignition)) throw new UserError(`no such config file: ${opts.ignition}`);
  // 1. The config, before any other work.
  const cfg = await step('check the Ignition config', () => prepareConfig(opts.ignition));
  await requireTools(IMAGE_TOOLS);
  if (process.getuid?.() !== 0) throw new UserError('building a disk image needs root (loop devices, mounts)', 'run fcos build as root');

  // 2. Compose, or reuse the latest compose when the inputs are unchanged.
  const c = await opts.compose({ manifest: opts.manifest, buildsDir: resolve(opts.buildsDir), force: opts.force });
  const meta = JSON.parse(readFileSync(c.metaPath, 'utf8')) as Record<string, unknown>;
  const name = typeof meta.name === 'string' ? meta.name : 'fcos';
  const kargs = Array.isArray(meta['kernel-arguments']) ? (meta['kernel-arguments'] as string[]) : [];
  const sizeBytes = parseSize((meta['image-size'] as string | undefined) ?? '8G');
  const treeSize = ((meta.artifacts as Record<string, { size?: number }> | undefined)?.tree?.size ?? 0) as number;
  // The deployment (hardlinked checkout) plus the repo copy, plus room for one upgrade.
  const minRootBytes = Math.ceil(treeSize * 2.5) + 256 * MiB;
  checkBuildSpace(c.buildDir, buildSpaceNeeded(treeSize, expandFormats(opts.formats).length));

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
      const formats = expandFormats(opts.formats);
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
      }
      for (const [i, f] of single.entries()) {
        const spec = FORMATS[f]!;
        const file = `${name}-${c.buildId}-${spec.suffix}`;
        const final = join(c.buildDir, file);
        const partial = join(c.buildDir, `.${file}.partial`);
        cleanup.push(`remove ${partial}`, () => rmSync(partial, { force: true }));
        await step(`write ${file}`, () => spec.convert!(rawTmp, partial, i < single.length - 1));
        renameSync(partial, final);
        images[spec.key] = { path: file, sha256: await sha256File(final), size: statSync(final).size };
      }
      updateMeta(c.buildDir, { images });
      const seconds = (Date.now() - t0) / 1000;
      info(`built ${Object.values(images).map((i) => i.path).join(', ')} in ${seconds.toFixed(1)}s`);
      return {
        buildId: c.buildId,
        buildDir: c.buildDir,
        ref: c.ref,
        commit: c.commit,
        composed: c.changed,
        firmware: opts.firmware,
        configVersion: cfg.fromVersion,
        imageConfigVersion: cfg.toVersion,
        kernelArguments: disk.kargs,
        deployment: disk.deployment,
        bootEntries: disk.bootEntries,
        images,
        seconds,
      };
    } catch (e) {
      // Still inside withCleanup: the partial files are not removed yet, so a full filesystem is still full.
      throw fullDiskError(c.buildDir, e) ?? e;
    }
  });
}
