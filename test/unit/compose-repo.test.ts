import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitTree, ensureRepo, parentOf, revParse, setRef } from '../../ostree/repo.js';
import { addBuild, readBuildsJson, resetToImagedBuild, setLatest, writeMeta, type BuildMeta } from '../../ostree/builds.js';
import { reconcile } from '../../ostree/commit.js';

const REF = 'fcos/test/x86_64/stable';

function meta(id: string, commit: string): BuildMeta {
  return {
    buildid: id, name: 'fcos', ref: REF, 'ostree-commit': commit, 'ostree-timestamp': '', 'ostree-version': id,
    'coreos-assembler.image-input-checksum': 'h', 'fcos.input-hash': 'h', 'fcos.inputs': { manifest: '', overlays: '', packages: '', compose: '' },
    'source-date-epoch': 1, 'build-time': '', suite: 'trixie', architecture: 'amd64', 'kernel-version': 'k', 'kernel-arguments': [], 'image-size': '8G', packages: {}, images: {},
  };
}

async function tinyCommit(repo: string, content: string, parent?: string): Promise<string> {
  const t = mkdtempSync(join(tmpdir(), 'fcos-tree-'));
  mkdirSync(join(t, 'usr'));
  writeFileSync(join(t, 'usr', 'f'), content);
  return commitTree({ repo, tree: t, ref: REF, parent, version: content, timestamp: 1700000000, subject: content, metadata: {} });
}

describe('repo and the final steps of compose', () => {
  it('commits are orphans with a parent and a fixed timestamp; same input → same checksum', async () => {
    const b = mkdtempSync(join(tmpdir(), 'fcos-repo-'));
    const repo = join(b, 'repo');
    await ensureRepo(repo);
    const c1 = await tinyCommit(repo, 'one');
    expect(await revParse(repo, REF)).toBeUndefined();
    const c2 = await tinyCommit(repo, 'two', c1);
    expect(await parentOf(repo, c2)).toBe(c1);
    const other = join(b, 'repo2');
    await ensureRepo(other);
    expect(await tinyCommit(other, 'one')).toBe(c1);
  });

  it('reconcile registers a build whose ref moved but builds.json/latest did not, and resets a ref without a build', async () => {
    const b = mkdtempSync(join(tmpdir(), 'fcos-reconcile-'));
    const repo = join(b, 'repo');
    await ensureRepo(repo);
    const c1 = await tinyCommit(repo, 'one');
    mkdirSync(join(b, 'v1'));
    writeMeta(join(b, 'v1'), meta('v1', c1));
    addBuild(b, 'v1');
    setLatest(b, 'v1');
    await setRef(repo, REF, c1);
    // Interrupted after the ref moved: build dir present, builds.json and latest not updated.
    const c2 = await tinyCommit(repo, 'two', c1);
    mkdirSync(join(b, 'v2'));
    writeMeta(join(b, 'v2'), meta('v2', c2));
    await setRef(repo, REF, c2);
    await reconcile(b, repo, REF);
    expect(readlinkSync(join(b, 'latest'))).toBe('v2');
    expect(readBuildsJson(b).builds.map((x) => x.id)).toEqual(['v2', 'v1']);
    // A ref pointing at a commit that has no build is reset to latest.
    const c3 = await tinyCommit(repo, 'three', c2);
    await setRef(repo, REF, c3);
    await reconcile(b, repo, REF);
    expect(await revParse(repo, REF)).toBe(c2);
    expect(existsSync(join(b, 'repo', 'summary'))).toBe(true);
  });

  it('resetToImagedBuild goes back to the newest imaged build (ref, builds.json, latest), keeping later build dirs', async () => {
    const b = mkdtempSync(join(tmpdir(), 'fcos-reset-'));
    const repo = join(b, 'repo');
    await ensureRepo(repo);
    expect(await resetToImagedBuild(join(b, 'none'))).toBeUndefined(); // no builds.json: nothing to do
    const c1 = await tinyCommit(repo, 'one');
    mkdirSync(join(b, 'v1'));
    writeMeta(join(b, 'v1'), { ...meta('v1', c1), images: { qemu: { path: 'x.qcow2', sha256: 's', size: 1 } } });
    addBuild(b, 'v1');
    setLatest(b, 'v1');
    await setRef(repo, REF, c1);
    expect(await resetToImagedBuild(b)).toBeUndefined(); // the newest build is imaged already
    for (const [id, parent] of [['v2', c1], ['v3', undefined]] as const) {
      const c = await tinyCommit(repo, id, parent ?? (await revParse(repo, REF)));
      mkdirSync(join(b, id));
      writeMeta(join(b, id), meta(id, c));
      addBuild(b, id);
      setLatest(b, id);
      await setRef(repo, REF, c);
    }
    expect(await resetToImagedBuild(b)).toBe('v1');
    expect(await revParse(repo, REF)).toBe(c1);
    expect(readlinkSync(join(b, 'latest'))).toBe('v1');
    expect(readBuildsJson(b).builds[0]!.id).toBe('v1');
    expect(existsSync(join(b, 'v3', 'meta.json'))).toBe(true);
    expect(existsSync(join(repo, 'summary'))).toBe(true);
  });
});
