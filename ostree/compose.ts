/**
 * fcos compose: a manifest becomes a reproducible ostree commit (issue #3).
 *
 *   resolve   apt indexes (private state in the cache) → input hash; unchanged → "No changes in image inputs"
 *   bootstrap mmdebstrap (debs cached under cacheDir('debs', suite))
 *   kubelet   (kubelet.enabled) the kubelet binary: built from the Go module proxy or fetched by URL, cached
 *   layout    built-in overlay, kubelet payload + preload images, the manifest's overlay, units, users, ssh,
 *             libostree layout
 *   initramfs dracut in a chroot of the tree
 *   commit    ostree commit (orphan) → builds/<version>/meta.json → ref → summary → builds.json → latest
 *
 * All work happens in builds/.tmp/compose-<pid>; the build directory is renamed into place and the ref moved
 * only at the end, so an interrupted compose leaves the repo, its refs and builds/latest as they were.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run } from '../lib/run.js';
import { requireTools } from '../lib/tools.js';
import { freeBytes } from '../lib/paths.js';
import { UserError } from '../lib/errors.js';
import { sha256File } from '../lib/hash.js';
import { info, step, warn } from '../lib/log.js';
import { checkInterrupted, withCleanup, type Cleanup } from '../lib/signals.js';
import { fcosVersion, projectRoot } from '../lib/version.js';
import { expandVersion, loadManifest, type LoadedManifest, type Manifest, type ResolvedImage } from './manifest.js';
import { aptState, aptUpdate, candidateVersions, checkPackagesExist, suiteDate } from './apt.js';
import { bootstrap } from './bootstrap.js';
import { applyOverlay, configureTree, ostreeLayout } from './layout.js';
import { buildInitramfs } from './initramfs.js';
import { commitTree, ensureRepo, revParse, setRef, updateSummary } from './repo.js';
import { acquireLock, addBuild, nextSerial, readLatestBuild, readMeta, setLatest, writeMeta, type BuildMeta } from './builds.js';
import { inputHash, inputParts, type InputParts } from './inputs.js';
import { installK8sPayload, type InstallK8sPayloadOptions, type InstalledK8sPayload } from './containers/k8s-payload.js';
import type { OciImageResult } from './containers/oci.js';
import type { KubeletBinary } from './kubelet.js';
import { buildManifestImages, containerImageRecords, effectiveManifest, imagesDigest, k8sPayloadDigest, kubeletRecord, obtainKubelet } from './k8s.js';
import type { ContainerImageRecord, KubeletRecord } from './builds.js';
import { ensureSigningKey, signCommit, type SigningKey } from './sign.js';
import { generateDelta } from './publish.js';
import { layerBase, layerBlocker, overlayFiles, stageLayer } from './layer.js';
import { updateConfText } from './manifest.js';
import { copyFileSync, writeFileSync } from 'node:fs';

export { readLatestBuild, updateMeta, readMeta, type BuildMeta, type LatestBuild } from './builds.js';

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

const MIN_FREE_BYTES = 6 * 1024 ** 3;

function checkFreeSpace(dir: string): void {
  const free = freeBytes(dir);
  if (free !== undefined && free < MIN_FREE_BYTES) {
    throw new UserError(
      `not enough free disk space in ${dir}: ${(free / 1024 ** 3).toFixed(1)} GiB free, a compose needs about ${MIN_FREE_BYTES / 1024 ** 3} GiB`,
      'free some disk space or use --builds on a larger filesystem',
    );
  }
}

/** Mount points at or below a directory, deepest first. */
export function mountsUnder(dir: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const d = resolve(dir);
  return text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\040/g, ' '))
    .filter((m) => m === d || m.startsWith(d + '/'))
    .sort((a, b) => b.length - a.length);
}

/** Remove a work directory safely: unmount anything below it first, never cross into other filesystems. */
export async function removeWorkDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const m of mountsUnder(dir)) {
    const r = await run('umount', [m], { allowFailure: true, cleanup: true });
    if (r.exitCode !== 0) await run('umount', ['--lazy', m], { allowFailure: true, cleanup: true });
  }
  const left = mountsUnder(dir);
  if (left.length) throw new UserError(`cannot remove ${dir}: still mounted: ${left.join(', ')}`);
  await run('rm', ['-rf', '--one-file-system', dir], { purpose: `remove the work directory ${dir}`, cleanup: true });
}

/** Remove work dirs of composes that died (SIGKILL, power loss). Called with the lock held. */
async function cleanStaleWork(tmpRoot: string): Promise<void> {
  let names: string[] = [];
  try {
    names = readdirSync(tmpRoot);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^compose-(\d+)$/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = pid !== process.pid;
    } catch {
      alive = false;
    }
    if (alive) continue;
    warn(`removing the work directory of an interrupted compose: ${join(tmpRoot, n)}`);
    await removeWorkDir(join(tmpRoot, n));
  }
}

/**
 * Finish or undo what an interrupted compose left between its last steps: the ref moved but builds.json/latest
 * not yet (register the build), or a ref pointing at a commit without a complete build (reset the ref).
 */
export async function reconcile(buildsDir: string, repo: string, ref: string): Promise<void> {
  if (!existsSync(join(repo, 'config'))) return;
  const refCommit = await revParse(repo, ref);
  if (!refCommit) return;
  const latest = readLatestBuild(buildsDir);
  if (latest && (latest.meta.ref !== ref || latest.meta['ostree-commit'] === refCommit)) return;
  for (const id of readdirSync(buildsDir)) {
    const mp = join(buildsDir, id, 'meta.json');
    if (!existsSync(mp)) continue;
    try {
      const meta = readMeta(join(buildsDir, id));
      if (meta['ostree-commit'] === refCommit && meta.ref === ref) {
        warn(`registering build ${id}, which an interrupted compose left out of builds.json`);
        await updateSummary(repo);
        addBuild(buildsDir, id);
        setLatest(buildsDir, id);
        return;
      }
    } catch {
      /* not a build */
    }
  }
  if (latest) {
    warn(`${ref} pointed at ${refCommit}, which has no build: reset to ${latest.meta['ostree-commit']} (${latest.id})`);
    await setRef(repo, ref, latest.meta['ostree-commit']);
    await updateSummary(repo);
  }
}

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
  const m = lm.manifest;
  // What bootstrap and the package checks see: K8S_REQUIRED_PACKAGES added with kubelet. Hashed: the manifest itself.
  const mEff = effectiveManifest(m);
  const buildsDir = resolve(opts.buildsDir);
  requireTools(['mmdebstrap', 'ostree', 'apt-get', 'apt-cache', 'dpkg-query', 'chroot', 'mount', 'umount', 'rm', 'du', 'sync']);
  mkdirSync(buildsDir, { recursive: true });
  const release = acquireLock(buildsDir);
  try {
    return await withCleanup(async (cleanup) => {
      const repo = join(buildsDir, 'repo');
      const tmpRoot = join(buildsDir, '.tmp');
      mkdirSync(tmpRoot, { recursive: true });
      await cleanStaleWork(tmpRoot);
      await reconcile(buildsDir, repo, m.ref);
      const overlays = [builtinOverlayDir(), lm.overlayDir];
      // The update signing key (made once per builds dir); its public key goes into the tree.
      const key = await ensureSigningKey(buildsDir);

      // 0. kubelet (cached: no subprocess when warm) and the digests of what the payload and images are made from.
      let kubelet: KubeletBinary | undefined;
      const k8sParts: { kubelet?: string; images?: string } = {};
      if (m.kubelet.enabled) {
        kubelet = await timed('kubelet', () => obtainKubelet(m.kubelet));
        k8sParts.kubelet = await k8sPayloadDigest(kubelet);
        k8sParts.images = await imagesDigest(lm.images);
      }

      // 1. Resolve the inputs.
      const apt = aptState(m);
      const { prev, parts, sde } = await timed('resolve inputs', async () => {
        await aptUpdate(apt);
        const sde = resolveSde(lm, opts, suiteDate(apt, m));
        const prev = readLatestBuild(buildsDir);
        let parts: InputParts | undefined;
        if (prev && prev.meta.ref === m.ref && prev.meta.packages) {
          const names = Object.keys(prev.meta.packages);
          const cands = await candidateVersions(apt, names);
          const resolved: Record<string, string> = {};
          for (const n of names) resolved[n] = cands.get(n) ?? '(none)';
          parts = inputParts({ manifest: m, overlayDirs: overlays, packages: resolved, fcosVersion: fcosVersion(), sourceDateEpoch: sde, ...k8sParts, signing: key.keyId });
        }
        return { prev, parts, sde };
      });
      if (prev && parts && !opts.force && inputHash(parts) === prev.meta['fcos.input-hash']) {
        info(`No changes in image inputs (build ${prev.id}, commit ${prev.meta['ostree-commit']})`);
        return {
          buildId: prev.id,
          version: prev.meta['ostree-version'],
          ref: prev.meta.ref,
          commit: prev.meta['ostree-commit'],
          parent: prev.meta['ostree-parent'],
          repo,
          buildDir: prev.dir,
          metaPath: join(prev.dir, 'meta.json'),
          changed: false,
          inputHash: prev.meta['fcos.input-hash'],
          sourceDateEpoch: prev.meta['source-date-epoch'],
          packages: Object.keys(prev.meta.packages).length,
          seconds: (Date.now() - t0) / 1000,
          timings,
          ...(prev.meta.kubelet ? { kubelet: prev.meta.kubelet } : {}),
        };
      }
      const filesNow = overlayFiles(lm.overlayDir);
      const base = parts ? layerBase({ manifest: m, builtinOverlay: overlays[0], parts }) : undefined;
      if (prev && parts && base && !opts.force && lm.overlayDir && prev.meta['fcos.layer-base'] === base) {
        const why = layerBlocker(prev.meta['fcos.overlay-files'], filesNow);
        if (!why) {
          return await timed('layered commit', () =>
            layeredCompose({ buildsDir, repo, work: join(tmpRoot, `compose-${process.pid}`), m, prev, parts: parts!, base, files: filesNow, key, overlayDir: lm.overlayDir!, sde, t0, timings, cleanup }),
          );
        }
        info(`full compose: ${why}`);
      }
      await checkPackagesExist(apt, mEff);
      checkFreeSpace(buildsDir);

      // Work directory (removed at the end, and on Ctrl-C: the cleanup stack unmounts first).
      const work = join(tmpRoot, `compose-${process.pid}`);
      await removeWorkDir(work);
      mkdirSync(work, { recursive: true });
      cleanup.push('remove the work directory', () => removeWorkDir(work));
      const rootfs = join(work, 'rootfs');

      // 2. Bootstrap.
      await timed('bootstrap', () => bootstrap({ manifest: mEff, apt, target: rootfs, workDir: work, sourceDateEpoch: sde }));
      checkInterrupted();
      const packages = await treePackages(rootfs);

      // 3. Layout.
      const layout = await timed('layout', () =>
        layoutTree(rootfs, {
          builtinOverlay: overlays[0],
          manifestOverlay: overlays[1],
          units: m.units,
          ...(kubelet ? { k8s: { kubelet, images: lm.images, sourceDateEpoch: sde } } : {}),
        }),
      );
      const { kver } = layout;
      writeUpdateFiles(rootfs, m, key);
      checkInterrupted();

      // 4. initramfs.
      const initramfs = await timed('initramfs', () => buildInitramfs(rootfs, kver, m.initramfs, sde, cleanup));
      checkInterrupted();

      // 5. Commit.
      const partsNow = inputParts({ manifest: m, overlayDirs: overlays, packages, fcosVersion: fcosVersion(), sourceDateEpoch: sde, ...k8sParts, signing: key.keyId });
      const hash = inputHash(partsNow);
      const serial = nextSerial(buildsDir, (s) => expandVersion(m, sde, s));
      const version = expandVersion(m, sde, serial);
      // Artifact sizes and checksums before the commit consumes the tree.
      const kdir = join(rootfs, 'usr', 'lib', 'modules', kver);
      const artifacts = {
        initramfs: { path: `/usr/lib/modules/${kver}/initramfs.img`, sha256: await sha256File(initramfs.path), size: initramfs.size },
        vmlinuz: { path: `/usr/lib/modules/${kver}/vmlinuz`, sha256: await sha256File(join(kdir, 'vmlinuz')), size: statSync(join(kdir, 'vmlinuz')).size },
        tree: { path: 'repo', size: await treeSize(rootfs) },
      };
      const result = await timed('commit', async () => {
        await ensureRepo(repo);
        const parent = await revParse(repo, m.ref);
        const commit = await commitTree({
          repo,
          tree: rootfs,
          ref: m.ref,
          parent,
          version,
          timestamp: sde,
          subject: `${m.name} ${version}`,
          metadata: { 'fcos.input-hash': hash, 'fcos.suite': m.suite },
        });
        checkInterrupted();
        // Signed, and the delta from the parent made, before any ref moves (ostree/publish.ts).
        await signCommit(repo, commit, key);
        const delta = parent ? { from: parent, size: await generateDelta(repo, parent, commit) } : undefined;
        checkInterrupted();
        // The build directory, complete, renamed into place before any ref moves.
        const staging = join(work, 'build');
        mkdirSync(staging, { recursive: true });
        const meta: BuildMeta = {
          buildid: version,
          name: m.name,
          ref: m.ref,
          'ostree-commit': commit,
          'ostree-timestamp': new Date(sde * 1000).toISOString().replace(/\.000Z$/, 'Z'),
          'ostree-version': version,
          ...(parent ? { 'ostree-parent': parent } : {}),
          'coreos-assembler.image-input-checksum': hash,
          'fcos.input-hash': hash,
          'fcos.inputs': partsNow,
          'source-date-epoch': sde,
          'build-time': new Date().toISOString(),
          suite: m.suite,
          architecture: m.architecture,
          'kernel-version': kver,
          'kernel-arguments': m['kernel-arguments'],
          'image-size': m['image-size'],
          packages,
          artifacts: { ...artifacts, tree: { ...artifacts.tree, commit } },
          images: {},
          ...(kubelet ? { kubelet: kubeletRecord(kubelet) } : {}),
          ...(layout.k8s ? { 'container-images': layout.k8s.images } : {}),
          'fcos.layer-base': layerBase({ manifest: m, builtinOverlay: overlays[0], parts: partsNow }),
          'fcos.overlay-files': filesNow,
          'fcos.compose-kind': 'full',
          'fcos.signed-by': key.keyId,
          ...(delta ? { 'fcos.delta': delta } : {}),
        };
        writeMeta(staging, meta);
        const buildDir = join(buildsDir, version);
        renameSync(staging, buildDir);
        // From here the build exists: move the ref, update the summary, then builds.json and latest.
        await setRef(repo, m.ref, commit);
        await updateSummary(repo);
        addBuild(buildsDir, version);
        setLatest(buildsDir, version);
        return { commit, parent, buildDir, delta };
      });
      const seconds = (Date.now() - t0) / 1000;
      info(`composed ${m.ref} ${version}: ${result.commit} in ${seconds.toFixed(1)}s`);
      return {
        buildId: version,
        version,
        ref: m.ref,
        commit: result.commit,
        parent: result.parent,
        repo,
        buildDir: result.buildDir,
        metaPath: join(result.buildDir, 'meta.json'),
        changed: true,
        inputHash: hash,
        sourceDateEpoch: sde,
        packages: Object.keys(packages).length,
        seconds,
        timings,
        ...(kubelet ? { kubelet: kubeletRecord(kubelet) } : {}),
        kind: 'full',
        ...(result.delta ? { deltaSize: result.delta.size } : {}),
      };
    });
  } finally {
    release();
  }
}


/** Apparent size of a tree in bytes (du -sb). */
async function treeSize(root: string): Promise<number> {
  const r = await run('du', ['-sb', '--one-file-system', root], { allowFailure: true });
  const n = Number(r.stdout.split('\t')[0]);
  return Number.isFinite(n) ? n : 0;
}

export type { Cleanup };

/** The update agent's defaults and the public signing key, in /usr/lib/fcos (read by fcos-update in the image). */
export function writeUpdateFiles(rootfs: string, m: Manifest, key: Pick<SigningKey, 'publicKey'>): void {
  const d = join(rootfs, 'usr', 'lib', 'fcos');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'update.conf'), updateConfText(m), { mode: 0o644 });
  copyFileSync(key.publicKey, join(d, 'updates.gpg'));
}

interface LayeredOptions {
  buildsDir: string;
  repo: string;
  work: string;
  m: Manifest;
  prev: NonNullable<ReturnType<typeof readLatestBuild>>;
  parts: InputParts;
  base: string;
  files: string[];
  key: SigningKey;
  overlayDir: string;
  sde: number;
  t0: number;
  timings: Record<string, number>;
  cleanup: Cleanup;
}

/** The layered compose (ostree/layer.ts): the overlay merged over the previous commit, signed, with its delta. */
async function layeredCompose(o: LayeredOptions): Promise<ComposeResult> {
  const { m, prev, repo } = o;
  const parent = prev.meta['ostree-commit'];
  info(`only overlay files changed since ${prev.id}: layering them onto ${parent.slice(0, 12)} (no bootstrap)`);
  await removeWorkDir(o.work);
  mkdirSync(o.work, { recursive: true });
  o.cleanup.push('remove the work directory', () => removeWorkDir(o.work));
  const stage = join(o.work, 'layer');
  await stageLayer(o.overlayDir, stage, repo, parent);
  checkInterrupted();
  const hash = inputHash(o.parts);
  const serial = nextSerial(o.buildsDir, (s) => expandVersion(m, o.sde, s));
  const version = expandVersion(m, o.sde, serial);
  const commit = await commitTree({
    repo,
    tree: stage,
    baseTree: parent,
    ref: m.ref,
    parent,
    version,
    timestamp: o.sde,
    subject: `${m.name} ${version}`,
    metadata: { 'fcos.input-hash': hash, 'fcos.suite': m.suite },
  });
  checkInterrupted();
  await signCommit(repo, commit, o.key);
  const delta = { from: parent, size: await generateDelta(repo, parent, commit) };
  checkInterrupted();
  const staging = join(o.work, 'build');
  mkdirSync(staging, { recursive: true });
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
    'fcos.signed-by': o.key.keyId,
    'fcos.delta': delta,
  };
  writeMeta(staging, meta);
  const buildDir = join(o.buildsDir, version);
  renameSync(staging, buildDir);
  await setRef(repo, m.ref, commit);
  await updateSummary(repo);
  addBuild(o.buildsDir, version);
  setLatest(o.buildsDir, version);
  const seconds = (Date.now() - o.t0) / 1000;
  info(`composed ${m.ref} ${version} (layered): ${commit} in ${seconds.toFixed(1)}s, delta ${delta.size} bytes`);
  return {
    buildId: version,
    version,
    ref: m.ref,
    commit,
    parent,
    repo,
    buildDir,
    metaPath: join(buildDir, 'meta.json'),
    changed: true,
    inputHash: hash,
    sourceDateEpoch: o.sde,
    packages: Object.keys(prev.meta.packages).length,
    seconds,
    timings: o.timings,
    ...(prev.meta.kubelet ? { kubelet: prev.meta.kubelet } : {}),
    kind: 'layered',
    deltaSize: delta.size,
  };
}
