/**
 * Compose's last steps, shared by the full and the layered compose: the next version, the ostree commit (signed, with
 * its static delta) and the build registered (build directory renamed into place, then ref, summary, builds.json and
 * latest); and reconcile(), which finishes or undoes what an interrupted compose left between those steps.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { warn } from '../lib/log.js';
import { sha256File } from '../lib/hash.js';
import { checkInterrupted } from '../lib/signals.js';
import { expandVersion, type Manifest } from './manifest.js';
import { commitTree, ensureRepo, revParse, setRef, updateSummary } from './repo.js';
import { addBuild, nextSerial, readLatestBuild, readMeta, setLatest, writeMeta, type BuildMeta, type ContainerImageRecord, type KubeletRecord } from './builds.js';
import type { InputParts } from './inputs.js';
import { treeSize } from './tree.js';
import { signCommit, type SigningKey } from './updates/sign.js';
import { generateDelta } from './updates/publish.js';

/** The version of the next build (the manifest's version pattern with the next free serial). */
export function nextVersion(buildsDir: string, m: Manifest, sde: number): string {
  const serial = nextSerial(buildsDir, (s) => expandVersion(m, sde, s));
  return expandVersion(m, sde, serial);
}

export interface SignedCommitOptions {
  repo: string;
  /** The staged tree (consumed). */
  tree: string;
  /** Layered: the commit whose tree the staged one is merged over. */
  baseTree?: string;
  m: Manifest;
  parent?: string;
  version: string;
  sde: number;
  hash: string;
  key: SigningKey;
}

/** ostree commit of a staged tree, signed, and the static delta from its parent made: all before any ref moves. */
export async function signedCommit(o: SignedCommitOptions): Promise<{ commit: string; delta?: { from: string; size: number } }> {
  const commit = await commitTree({
    repo: o.repo,
    tree: o.tree,
    ...(o.baseTree ? { baseTree: o.baseTree } : {}),
    ref: o.m.ref,
    parent: o.parent,
    version: o.version,
    timestamp: o.sde,
    subject: `${o.m.name} ${o.version}`,
    metadata: { 'fcos.input-hash': o.hash, 'fcos.suite': o.m.suite },
  });
  checkInterrupted();
  await signCommit(o.repo, commit, o.key);
  const delta = o.parent ? { from: o.parent, size: await generateDelta(o.repo, o.parent, commit) } : undefined;
  checkInterrupted();
  return { commit, ...(delta ? { delta } : {}) };
}

/**
 * The build directory, complete (its meta.json), renamed into place before any ref moves; from then on the build
 * exists: move the ref, update the summary, then builds.json and latest. Returns the build directory.
 */
export async function registerBuild(o: { buildsDir: string; repo: string; work: string; meta: BuildMeta }): Promise<string> {
  const staging = join(o.work, 'build');
  mkdirSync(staging, { recursive: true });
  writeMeta(staging, o.meta);
  const version = o.meta.buildid;
  const buildDir = join(o.buildsDir, version);
  renameSync(staging, buildDir);
  await setRef(o.repo, o.meta.ref, o.meta['ostree-commit']);
  await updateSummary(o.repo);
  addBuild(o.buildsDir, version);
  setLatest(o.buildsDir, version);
  return buildDir;
}

export type TreeArtifacts = Awaited<ReturnType<typeof treeArtifacts>>;

export interface FullCommitOptions {
  buildsDir: string;
  repo: string;
  work: string;
  rootfs: string;
  m: Manifest;
  sde: number;
  key: SigningKey;
  version: string;
  /** The inputs as composed (the packages the tree really has), and their hash. */
  parts: InputParts;
  hash: string;
  kver: string;
  artifacts: TreeArtifacts;
  packages: Record<string, string>;
  kubelet?: KubeletRecord;
  containerImages?: ContainerImageRecord[];
  layerBase: string;
  overlayFiles: string[];
}

/** Sizes and checksums of the kernel, the initramfs and the tree, taken before the commit consumes the tree. */
export async function treeArtifacts(rootfs: string, kver: string, initramfs: { path: string; size: number }) {
  const kdir = join(rootfs, 'usr', 'lib', 'modules', kver);
  return {
    initramfs: { path: `/usr/lib/modules/${kver}/initramfs.img`, sha256: await sha256File(initramfs.path), size: initramfs.size },
    vmlinuz: { path: `/usr/lib/modules/${kver}/vmlinuz`, sha256: await sha256File(join(kdir, 'vmlinuz')), size: statSync(join(kdir, 'vmlinuz')).size },
    tree: { path: 'repo', size: await treeSize(rootfs) },
  };
}

/** The commit step of a full compose: the tree committed, signed, its delta, its build registered. */
export async function commitFull(o: FullCommitOptions): Promise<{ commit: string; parent?: string; buildDir: string; delta?: { from: string; size: number } }> {
  const { m, sde, version, artifacts } = o;
  await ensureRepo(o.repo);
  const parent = await revParse(o.repo, m.ref);
  const { commit, delta } = await signedCommit({ repo: o.repo, tree: o.rootfs, m, parent, version, sde, hash: o.hash, key: o.key });
  const meta: BuildMeta = {
    buildid: version,
    name: m.name,
    ref: m.ref,
    'ostree-commit': commit,
    'ostree-timestamp': new Date(sde * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    'ostree-version': version,
    ...(parent ? { 'ostree-parent': parent } : {}),
    'coreos-assembler.image-input-checksum': o.hash,
    'fcos.input-hash': o.hash,
    'fcos.inputs': o.parts,
    'source-date-epoch': sde,
    'build-time': new Date().toISOString(),
    suite: m.suite,
    architecture: m.architecture,
    'kernel-version': o.kver,
    'kernel-arguments': m['kernel-arguments'],
    'image-size': m['image-size'],
    packages: o.packages,
    artifacts: { ...artifacts, tree: { ...artifacts.tree, commit } },
    images: {},
    ...(o.kubelet ? { kubelet: o.kubelet } : {}),
    ...(o.containerImages ? { 'container-images': o.containerImages } : {}),
    'fcos.layer-base': o.layerBase,
    'fcos.overlay-files': o.overlayFiles,
    'fcos.compose-kind': 'full',
    'fcos.signed-by': o.key.keyId,
    ...(delta ? { 'fcos.delta': delta } : {}),
  };
  const buildDir = await registerBuild({ buildsDir: o.buildsDir, repo: o.repo, work: o.work, meta });
  return { commit, parent, buildDir, delta };
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
