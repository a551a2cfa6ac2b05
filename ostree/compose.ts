/**
 * fcos compose: a manifest becomes a reproducible ostree commit (issue #3).
 *
 *   resolve   apt indexes (private state in the cache) → input hash; unchanged → "No changes in image inputs"
 *   bootstrap mmdebstrap (debs cached under cacheDir('debs', suite))
 *   kubelet   (kubelet.enabled) the kubelet binary: built from the Go module proxy or fetched by URL, cached
 *   layout    built-in overlay, kubelet payload + preload images, the manifest's overlay, units, users, ssh,
 *             libostree layout (ostree/tree.ts)
 *   initramfs dracut in a chroot of the tree
 *   commit    ostree commit (orphan), signed, delta → builds/<version>/meta.json → ref → summary → builds.json →
 *             latest (ostree/commit.ts, shared with the layered compose of ostree/layer.ts)
 *
 * All work happens in builds/.tmp/compose-<pid> (ostree/workdir.ts); the build directory is renamed into place and the ref moved
 * only at the end, so an interrupted compose leaves the repo, its refs and builds/latest as they were.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requireTools } from '../lib/tools.js';
import { UserError } from '../lib/errors.js';
import { info, step } from '../lib/log.js';
import { checkInterrupted, withCleanup, type Cleanup } from '../lib/signals.js';
import { fcosVersion, projectRoot } from '../lib/version.js';
import { loadManifest, type LoadedManifest, type Manifest } from './manifest.js';
import { aptState, aptUpdate, candidateVersions, checkPackagesExist, suiteDate, type AptState } from './apt.js';
import { bootstrap } from './bootstrap.js';
import { buildInitramfs } from './initramfs.js';
import { acquireLock, readLatestBuild, type BuildMeta, type KubeletRecord, type LatestBuild } from './builds.js';
import { inputHash, inputParts, type InputParts } from './inputs.js';
import type { KubeletBinary } from './k8s/kubelet.js';
import { effectiveManifest, imagesDigest, k8sPayloadDigest, kubeletRecord, obtainKubelet } from './k8s/compose.js';
import { ensureSigningKey, type SigningKey } from './updates/sign.js';
import { layerBase, layerBlocker, overlayFiles, stageLayer } from './layer.js';
import { commitFull, nextVersion, reconcile, registerBuild, signedCommit, treeArtifacts } from './commit.js';
import { layoutTree, treePackages, writeUpdateFiles } from './tree.js';
import { checkFreeSpace, cleanStaleWork, removeWorkDir } from './workdir.js';

export { readLatestBuild, updateMeta, readMeta, type BuildMeta, type LatestBuild } from './builds.js';
export type { Cleanup };

export interface ComposeOptions {
  /** Manifest file; default ostree/manifests/default.yaml. */
  manifest?: string;
  /** Builds directory; default ./builds (or $FCOS_BUILDS_DIR). */
  buildsDir: string;
  /** Build even when the inputs did not change. */
  force?: boolean;
  /** Override SOURCE_DATE_EPOCH (else $SOURCE_DATE_EPOCH, the manifest's, or the suite's Release date). */
  sourceDateEpoch?: number;
}

export interface ComposeResult {
  /** The version (= build id). */
  buildId: string;
  version: string;
  ref: string;
  commit: string;
  parent?: string;
  /** builds/repo */
  repo: string;
  /** builds/<version> */
  buildDir: string;
  metaPath: string;
  /** false: nothing changed, the previous build is returned. */
  changed: boolean;
  inputHash: string;
  sourceDateEpoch: number;
  packages: number;
  seconds: number;
  /** Per-step seconds. */
  timings: Record<string, number>;
  /** kubelet.enabled: the kubelet in the commit. */
  kubelet?: KubeletRecord;
  /** 'layered': the overlay was layered onto the previous commit (ostree/layer.ts). */
  kind?: 'full' | 'layered';
  /** The static delta from the parent (bytes). */
  deltaSize?: number;
}

/** The built-in overlay (first-boot glue), copied before the manifest's overlay. */
export function builtinOverlayDir(): string | undefined {
  const d = join(projectRoot(), 'ostree', 'guest', 'overlay');
  return existsSync(d) ? d : undefined;
}

function resolveSde(lm: LoadedManifest, opts: ComposeOptions, fallback: number | undefined): number {
  if (opts.sourceDateEpoch !== undefined) return opts.sourceDateEpoch;
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0) throw new UserError(`SOURCE_DATE_EPOCH must be a number of seconds, got '${env}'`);
    return n;
  }
  if (lm.manifest['source-date-epoch'] !== undefined) return lm.manifest['source-date-epoch'];
  if (fallback !== undefined) return fallback;
  throw new UserError('cannot derive SOURCE_DATE_EPOCH: the suite has no Release date', 'set SOURCE_DATE_EPOCH or source-date-epoch in the manifest');
}

/** What every step of one compose shares. */
interface ComposeRun {
  opts: ComposeOptions;
  lm: LoadedManifest;
  m: Manifest;
  buildsDir: string;
  repo: string;
  tmpRoot: string;
  /** [the built-in overlay, the manifest's]. */
  overlays: [string | undefined, string | undefined];
  key: SigningKey;
  apt: AptState;
  kubelet?: KubeletBinary;
  k8sParts: { kubelet?: string; images?: string };
  t0: number;
  timings: Record<string, number>;
  cleanup: Cleanup;
  timed: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

/** The ComposeResult of a build, in one key order whichever way it was made. */
function resultOf(r: ComposeRun, b: { version: string; commit: string; parent?: string; buildDir: string; changed: boolean; hash: string; sde: number; packages: number; kubelet?: KubeletRecord; kind?: 'full' | 'layered'; deltaSize?: number }): ComposeResult {
  return {
    buildId: b.version,
    version: b.version,
    ref: r.m.ref,
    commit: b.commit,
    parent: b.parent,
    repo: r.repo,
    buildDir: b.buildDir,
    metaPath: join(b.buildDir, 'meta.json'),
    changed: b.changed,
    inputHash: b.hash,
    sourceDateEpoch: b.sde,
    packages: b.packages,
    seconds: (Date.now() - r.t0) / 1000,
    timings: r.timings,
    ...(b.kubelet ? { kubelet: b.kubelet } : {}),
    ...(b.kind ? { kind: b.kind } : {}),
    ...(b.deltaSize !== undefined ? { deltaSize: b.deltaSize } : {}),
  };
}

export async function compose(opts: ComposeOptions): Promise<ComposeResult> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    try {
      return await step(name, fn);
    } finally {
      timings[name] = (Date.now() - s) / 1000;
    }
  };
  const lm = loadManifest(opts.manifest);
  const buildsDir = resolve(opts.buildsDir);
  requireTools(['mmdebstrap', 'ostree', 'apt-get', 'apt-cache', 'dpkg-query', 'chroot', 'mount', 'umount', 'rm', 'du', 'sync']);
  mkdirSync(buildsDir, { recursive: true });
  const release = acquireLock(buildsDir);
  try {
    return await withCleanup(async (cleanup) => {
      const r = await startRun({ opts, lm, m: lm.manifest, buildsDir, t0, timings, cleanup, timed });
      const { prev, parts, sde } = await resolveInputs(r);
      if (prev && parts && !opts.force && inputHash(parts) === prev.meta['fcos.input-hash']) return unchangedResult(r, prev);
      const filesNow = overlayFiles(lm.overlayDir);
      const base = parts ? layerBase({ manifest: r.m, builtinOverlay: r.overlays[0], parts }) : undefined;
      if (prev && parts && base && !opts.force && lm.overlayDir && prev.meta['fcos.layer-base'] === base) {
        const why = layerBlocker(prev.meta['fcos.overlay-files'], filesNow);
        if (!why) return await timed('layered commit', () => layeredCompose(r, { prev, parts, base, files: filesNow, overlayDir: lm.overlayDir!, sde }));
        info(`full compose: ${why}`);
      }
      return await fullCompose(r, sde, filesNow);
    });
  } finally {
    release();
  }
}

/**
 * With the lock held: the work dirs of dead composes removed, an interrupted compose reconciled, the update signing
 * key (made once per builds dir; its public key goes into the tree), and step 0, the kubelet (cached: no subprocess
 * when warm) and the digests of what the payload and images are made from.
 */
async function startRun(o: Pick<ComposeRun, 'opts' | 'lm' | 'm' | 'buildsDir' | 't0' | 'timings' | 'cleanup' | 'timed'>): Promise<ComposeRun> {
  const repo = join(o.buildsDir, 'repo');
  const tmpRoot = join(o.buildsDir, '.tmp');
  mkdirSync(tmpRoot, { recursive: true });
  await cleanStaleWork(tmpRoot);
  await reconcile(o.buildsDir, repo, o.m.ref);
  const overlays: ComposeRun['overlays'] = [builtinOverlayDir(), o.lm.overlayDir];
  const key = await ensureSigningKey(o.buildsDir);
  let kubelet: KubeletBinary | undefined;
  const k8sParts: ComposeRun['k8sParts'] = {};
  if (o.m.kubelet.enabled) {
    kubelet = await o.timed('kubelet', () => obtainKubelet(o.m.kubelet));
    k8sParts.kubelet = await k8sPayloadDigest(kubelet);
    k8sParts.images = await imagesDigest(o.lm.images);
  }
  return { ...o, repo, tmpRoot, overlays, key, apt: aptState(o.m), kubelet, k8sParts };
}

/** The input parts of this compose for a package set. */
function partsFor(r: ComposeRun, packages: Record<string, string>, sde: number): InputParts {
  return inputParts({ manifest: r.m, overlayDirs: r.overlays, packages, fcosVersion: fcosVersion(), sourceDateEpoch: sde, ...r.k8sParts, signing: r.key.keyId });
}

/** Step 1: apt indexes, SOURCE_DATE_EPOCH, and the input parts with the previous build's packages at today's candidates. */
async function resolveInputs(r: ComposeRun): Promise<{ prev?: LatestBuild; parts?: InputParts; sde: number }> {
  const { m, apt } = r;
  return r.timed('resolve inputs', async () => {
    await aptUpdate(apt);
    const sde = resolveSde(r.lm, r.opts, suiteDate(apt, m));
    const prev = readLatestBuild(r.buildsDir);
    let parts: InputParts | undefined;
    if (prev && prev.meta.ref === m.ref && prev.meta.packages) {
      const names = Object.keys(prev.meta.packages);
      const cands = await candidateVersions(apt, names);
      const resolved: Record<string, string> = {};
      for (const n of names) resolved[n] = cands.get(n) ?? '(none)';
      parts = partsFor(r, resolved, sde);
    }
    return { prev, parts, sde };
  });
}

function unchangedResult(r: ComposeRun, prev: LatestBuild): ComposeResult {
  info(`No changes in image inputs (build ${prev.id}, commit ${prev.meta['ostree-commit']})`);
  return resultOf(r, {
    version: prev.meta['ostree-version'],
    commit: prev.meta['ostree-commit'],
    parent: prev.meta['ostree-parent'],
    buildDir: prev.dir,
    changed: false,
    hash: prev.meta['fcos.input-hash'],
    sde: prev.meta['source-date-epoch'],
    packages: Object.keys(prev.meta.packages).length,
    kubelet: prev.meta.kubelet,
  });
}

/** A fresh work directory (removed at the end, and on Ctrl-C: the cleanup stack unmounts first). */
async function workDir(r: ComposeRun): Promise<string> {
  const work = join(r.tmpRoot, `compose-${process.pid}`);
  await removeWorkDir(work);
  mkdirSync(work, { recursive: true });
  r.cleanup.push('remove the work directory', () => removeWorkDir(work));
  return work;
}

/** Steps 2-5: bootstrap, layout, initramfs, commit. */
async function fullCompose(r: ComposeRun, sde: number, filesNow: string[]): Promise<ComposeResult> {
  const { m, timed, kubelet } = r;
  // What bootstrap and the package checks see: K8S_REQUIRED_PACKAGES added with kubelet. Hashed: the manifest itself.
  const mEff = effectiveManifest(m);
  await checkPackagesExist(r.apt, mEff);
  checkFreeSpace(r.buildsDir);
  const work = await workDir(r);
  const rootfs = join(work, 'rootfs');

  await timed('bootstrap', () => bootstrap({ manifest: mEff, apt: r.apt, target: rootfs, workDir: work, sourceDateEpoch: sde }));
  checkInterrupted();
  const packages = await treePackages(rootfs);
  const layout = await timed('layout', () =>
    layoutTree(rootfs, {
      builtinOverlay: r.overlays[0],
      manifestOverlay: r.overlays[1],
      units: m.units,
      ...(kubelet ? { k8s: { kubelet, images: r.lm.images, sourceDateEpoch: sde } } : {}),
    }),
  );
  const { kver } = layout;
  writeUpdateFiles(rootfs, m, r.key);
  checkInterrupted();
  const initramfs = await timed('initramfs', () => buildInitramfs(rootfs, kver, m.initramfs, sde, r.cleanup));
  checkInterrupted();

  const parts = partsFor(r, packages, sde);
  const hash = inputHash(parts);
  const version = nextVersion(r.buildsDir, m, sde);
  const artifacts = await treeArtifacts(rootfs, kver, initramfs);
  const record = kubelet ? kubeletRecord(kubelet) : undefined;
  const built = await timed('commit', () =>
    commitFull({
      buildsDir: r.buildsDir, repo: r.repo, work, rootfs, m, sde, key: r.key, version, parts, hash, kver, artifacts, packages,
      kubelet: record,
      containerImages: layout.k8s?.images,
      layerBase: layerBase({ manifest: m, builtinOverlay: r.overlays[0], parts }),
      overlayFiles: filesNow,
    }),
  );
  info(`composed ${m.ref} ${version}: ${built.commit} in ${((Date.now() - r.t0) / 1000).toFixed(1)}s`);
  return resultOf(r, { version, commit: built.commit, parent: built.parent, buildDir: built.buildDir, changed: true, hash, sde, packages: Object.keys(packages).length, kubelet: record, kind: 'full', deltaSize: built.delta?.size });
}

/** The layered compose (ostree/layer.ts): the overlay merged over the previous commit, signed, with its delta. */
async function layeredCompose(r: ComposeRun, o: { prev: LatestBuild; parts: InputParts; base: string; files: string[]; overlayDir: string; sde: number }): Promise<ComposeResult> {
  const { m, repo } = r;
  const { prev, sde } = o;
  const parent = prev.meta['ostree-commit'];
  info(`only overlay files changed since ${prev.id}: layering them onto ${parent.slice(0, 12)} (no bootstrap)`);
  const work = await workDir(r);
  const stage = join(work, 'layer');
  await stageLayer(o.overlayDir, stage, repo, parent);
  checkInterrupted();
  const hash = inputHash(o.parts);
  const version = nextVersion(r.buildsDir, m, sde);
  const { commit, delta } = await signedCommit({ repo, tree: stage, baseTree: parent, m, parent, version, sde, hash, key: r.key });
  const meta: BuildMeta = {
    ...prev.meta,
    buildid: version,
    'ostree-commit': commit,
    'ostree-version': version,
    'ostree-parent': parent,
    'coreos-assembler.image-input-checksum': hash,
    'fcos.input-hash': hash,
    'fcos.inputs': o.parts,
    'build-time': new Date().toISOString(),
    artifacts: { ...(prev.meta.artifacts ?? {}), tree: { ...(prev.meta.artifacts?.tree ?? { path: 'repo', size: 0 }), commit } },
    images: {},
    'fcos.layer-base': o.base,
    'fcos.overlay-files': o.files,
    'fcos.compose-kind': 'layered',
    'fcos.signed-by': r.key.keyId,
    'fcos.delta': delta!,
  };
  const buildDir = await registerBuild({ buildsDir: r.buildsDir, repo, work, meta });
  info(`composed ${m.ref} ${version} (layered): ${commit} in ${((Date.now() - r.t0) / 1000).toFixed(1)}s, delta ${delta!.size} bytes`);
  return resultOf(r, { version, commit, parent, buildDir, changed: true, hash, sde, packages: Object.keys(prev.meta.packages).length, kubelet: prev.meta.kubelet, kind: 'layered', deltaSize: delta!.size });
}
