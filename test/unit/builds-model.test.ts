/**
 * The one model of the builds dir (ostree/builds.ts): builds.json and meta.json are read only there, checked against
 * their schemas, and a bad file is a BuildFileError (a user error) that names the file as the caller shows it.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BuildFileError, latestCompose, readBuildIds, readBuildsJson, readLatestBuild, readMeta } from '../../ostree/builds.js';
import { UserError } from '../../lib/errors.js';

const ROOT = resolve(__dirname, '../..');
const COMMIT = 'a'.repeat(64);

function buildsDir(meta: unknown, o: { builds?: unknown; latest?: boolean } = {}): string {
  const d = mkdtempSync(join(tmpdir(), 'fcos-builds-model-'));
  mkdirSync(join(d, '1.0'));
  writeFileSync(join(d, '1.0', 'meta.json'), typeof meta === 'string' ? meta : JSON.stringify(meta));
  writeFileSync(join(d, 'builds.json'), typeof o.builds === 'string' ? o.builds : JSON.stringify(o.builds ?? { 'schema-version': '1.0.0', builds: [{ id: '1.0', arches: ['x86_64'] }] }));
  if (o.latest !== false) symlinkSync('1.0', join(d, 'latest'));
  return d;
}

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
}

describe('builds dir model', () => {
  const good = { buildid: '1.0', name: 'fcos', ref: 'fcos/x', 'ostree-commit': COMMIT, 'ostree-version': '1.0', 'ostree-timestamp': 't', 'kernel-arguments': ['a=b'], images: { qemu: { path: 'q.qcow2', sha256: 'b'.repeat(64), size: 3 } } };

  it('reads a good build: builds.json ids, the latest build, the compose fcos build --no-compose uses', () => {
    const d = buildsDir(good);
    expect(readBuildIds(d)).toEqual(['1.0']);
    expect(readLatestBuild(d)?.meta['ostree-commit']).toBe(COMMIT);
    expect(latestCompose(d)).toEqual({ buildId: '1.0', ref: 'fcos/x', commit: COMMIT, repo: join(d, 'repo'), buildDir: join(d, '1.0'), metaPath: join(d, '1.0', 'meta.json'), changed: false });
  });

  it('without latest, the first build of builds.json; without any build, a user error that says what to run', () => {
    expect(readLatestBuild(buildsDir(good, { latest: false }))?.id).toBe('1.0');
    const empty = mkdtempSync(join(tmpdir(), 'fcos-builds-model-'));
    expect(readBuildsJson(empty).builds).toEqual([]);
    const e = thrown(() => latestCompose(empty));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`no compose in ${empty}`);
  });

  it.each([
    ['not JSON', '{"builds": [', 'is not valid JSON'],
    ['null', 'null', "is not a build's metadata (null)"],
    ['an array', '[]', "is not a build's metadata (an array)"],
    ['a key of the wrong type', { ...good, 'kernel-arguments': 'a=b' }, '"kernel-arguments" must be array'],
    ['an image without a path', { ...good, images: { qemu: { sha256: 'x' } } }, '"images.qemu" must have required property \'path\''],
    ['a size that is not a number', { ...good, images: { qemu: { path: 'q', size: '3' } } }, '"images.qemu.size" must be integer'],
    ['a build id that leaves the dir', { ...good, buildid: '../x' }, '"buildid" must match pattern'],
  ])('a meta.json that is %s is a BuildFileError naming the file', (_what, meta, msg) => {
    const d = buildsDir(meta);
    const e = thrown(() => readMeta(join(d, '1.0'), { shown: '1.0/meta.json', hint: 'fix it' }));
    expect(e).toBeInstanceOf(BuildFileError);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message.startsWith('1.0/meta.json')).toBe(true);
    expect(e.message).toContain(msg);
    expect((e as UserError).hint).toBe('fix it');
  });

  it('a reader that needs a key says which one is missing', () => {
    const { ref: _drop, ...noRef } = good;
    const d = buildsDir(noRef);
    expect(thrown(() => readMeta(join(d, '1.0'), { shown: 'm', require: ['ref'] })).message).toBe('m has no "ref" string');
    expect(thrown(() => latestCompose(d)).message).toContain('has no "ref" string');
    // Without `require`, an older build without the key still reads.
    expect(readMeta(join(d, '1.0')).name).toBe('fcos');
  });

  it.each([
    ['not JSON', '{"builds": [', 'builds.json is not valid JSON'],
    ['without a builds array', '{"builds": 3}', 'builds.json has no "builds" array'],
    ['with an id that leaves the dir', { builds: [{ id: '../../etc' }] }, 'builds.json: builds[0] has no valid "id"'],
    ['with id ".."', { builds: [{ id: '..' }] }, 'builds.json: builds[0] has no valid "id"'],
    ['with an entry without an id', { builds: [{ arches: [] }] }, 'builds.json: builds[0] has no valid "id"'],
  ])('a builds.json %s is a BuildFileError', (_what, builds, msg) => {
    const d = buildsDir(good, { builds });
    const e = thrown(() => readBuildIds(d, { shown: 'builds.json' }));
    expect(e).toBeInstanceOf(BuildFileError);
    expect(e.message).toBe(msg);
  });

  it('nobody else parses builds.json or meta.json: no JSON.parse of them outside ostree/builds.ts', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && p.endsWith('.ts') && !p.endsWith(join('ostree', 'builds.ts'))) {
          const text = readFileSync(p, 'utf8');
          // A JSON.parse whose line (or the line above) names the builds dir's files.
          const lines = text.split('\n');
          lines.forEach((l, i) => {
            if (/JSON\.parse/.test(l) && /meta\.json|builds\.json|metaPath|'latest'/.test(`${lines[i - 1] ?? ''}\n${l}`)) offenders.push(`${p.slice(ROOT.length + 1)}:${i + 1}`);
          });
        }
      }
    };
    for (const top of ['cli', 'ignition', 'ostree', 'images', 'qemu', 'lib', 'test/scenarios']) walk(join(ROOT, top));
    // ostree/k8s/kubelet.ts reads the kubelet cache's own meta.json (the cached binary's record), not a build's.
    expect(offenders.filter((o) => !o.startsWith('ostree/k8s/kubelet.ts:'))).toEqual([]);
  });
});
