/**
 * `fcos serve` against broken and hostile input (issue 15, items 2, 3, 4, 9): a bad builds.json or meta.json is a
 * 500 with a one-line reason and the server keeps serving; a symlink out of builds/repo is not followed; the default
 * bind is 127.0.0.1 and the bound address is reported; a host that does not resolve is a user error (exit 1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpdateServer, type UpdateServer } from '../../ostree/updates/serve.js';
import { addBuild, writeMeta, type BuildMeta } from '../../ostree/builds.js';
import { buildCli, fcosCli } from './cli-helpers.js';

function buildsDir(): string {
  const b = mkdtempSync(join(tmpdir(), 'fcos-serve-hostile-'));
  mkdirSync(join(b, 'repo', 'objects', 'ab'), { recursive: true });
  writeFileSync(join(b, 'repo', 'config'), '[core]\nmode=archive-z2\n');
  mkdirSync(join(b, '1.0'));
  writeMeta(join(b, '1.0'), { buildid: '1.0', ref: 'r', 'ostree-commit': 'a'.repeat(64), 'ostree-version': '1.0', 'ostree-timestamp': 't' } as unknown as BuildMeta);
  addBuild(b, '1.0');
  return b;
}

describe('fcos serve: a bad file gives a 500, and the server keeps serving', () => {
  let b: string;
  let srv: UpdateServer;
  const get = async (p: string) => {
    const r = await fetch(`${srv.url}${p}`);
    return { status: r.status, text: await r.text() };
  };
  beforeAll(async () => {
    b = buildsDir();
    srv = await startUpdateServer({ buildsDir: b, port: 0 });
  });
  afterAll(async () => {
    await srv?.close();
    rmSync(b, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 by default and says so', () => {
    expect(srv.address).toBe('127.0.0.1');
    expect(srv.listening).toBe(`127.0.0.1:${srv.port}`);
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}`);
  });

  it('builds.json that is not JSON: 500, one line, no path; the next request is served', async () => {
    expect((await get('/index.json')).status).toBe(200);
    writeFileSync(join(b, 'builds.json'), '{"builds": [');
    const r = await get('/index.json');
    expect(r.status).toBe(500);
    expect(r.text).toBe('fcos serve: builds.json is not valid JSON\n');
    expect(r.text).not.toContain(b);
    // Still up: another request, and the same one again.
    expect((await get('/repo/config')).status).toBe(200);
    expect((await get('/index.json')).status).toBe(500);
    writeFileSync(join(b, 'builds.json'), JSON.stringify({ builds: [{ id: '1.0' }] }));
    expect((await get('/index.json')).status).toBe(200);
  });

  it('a meta.json that is null: 500 naming the build, and the server stays up', async () => {
    writeFileSync(join(b, '1.0', 'meta.json'), 'null');
    const r = await get('/index.json');
    expect(r.status).toBe(500);
    expect(r.text).toBe("fcos serve: 1.0/meta.json is not a build's metadata (null)\n");
    expect(r.text.trimEnd().split('\n')).toHaveLength(1);
    expect((await get('/repo/config')).status).toBe(200);
    writeFileSync(join(b, '1.0', 'meta.json'), '{"ref": 5}');
    // A key of the wrong type: the meta.json schema (ostree/builds.ts) names it.
    expect((await get('/index.json')).text).toBe('fcos serve: 1.0/meta.json: "ref" must be string\n');
    writeFileSync(join(b, '1.0', 'meta.json'), '{"ref": "fcos/x"}');
    expect((await get('/index.json')).text).toMatch(/^fcos serve: 1\.0\/meta\.json has no "[a-z-]+" string\n$/);
    // A build id that would leave the builds dir is refused, not read.
    writeFileSync(join(b, 'builds.json'), JSON.stringify({ builds: [{ id: '../../etc' }] }));
    expect(await get('/index.json')).toEqual({ status: 500, text: 'fcos serve: builds.json: builds[0] has no valid "id"\n' });
    expect((await get('/repo/config')).status).toBe(200);
  });

  it('POST, PUT and DELETE get 405 with an Allow header', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await fetch(`${srv.url}/repo/config`, { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.get('allow')).toBe('GET, HEAD');
    }
  });
});

describe('fcos serve: symlinks out of the served tree', () => {
  it('a symlink in builds/repo to a file outside is 404; one inside is served', async () => {
    const b = buildsDir();
    const outside = mkdtempSync(join(tmpdir(), 'fcos-serve-outside-'));
    writeFileSync(join(outside, 'shadow'), 'root:secret\n');
    symlinkSync(outside, join(b, 'repo', 'etclink'));
    symlinkSync(join(outside, 'shadow'), join(b, 'repo', 'filelink'));
    writeFileSync(join(b, 'repo', 'objects', 'ab', 'cd.filez'), 'obj');
    symlinkSync('../../config', join(b, 'repo', 'objects', 'ab', 'inside.filez'));
    // keys/ pointing outside the builds dir: the public key is not served from there either.
    symlinkSync(outside, join(b, 'keys'));
    writeFileSync(join(outside, 'fcos-updates.gpg'), 'not-ours');
    const srv = await startUpdateServer({ buildsDir: b, port: 0 });
    try {
      const get = (p: string) => fetch(`${srv.url}${p}`).then(async (r) => ({ status: r.status, text: await r.text() }));
      expect(await get('/repo/etclink/shadow')).toEqual({ status: 404, text: 'not found\n' });
      expect((await get('/repo/filelink')).status).toBe(404);
      expect((await get('/keys/fcos-updates.gpg')).status).toBe(404);
      expect(await get('/repo/objects/ab/cd.filez')).toEqual({ status: 200, text: 'obj' });
      expect((await get('/repo/objects/ab/inside.filez')).text).toContain('[core]');
      // builds/latest is a symlink inside the builds dir: its meta.json is served.
      symlinkSync('1.0', join(b, 'latest'));
      expect((await get('/latest/meta.json')).status).toBe(200);
    } finally {
      await srv.close();
      rmSync(b, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('fcos serve (CLI): bind mistakes are user errors', () => {
  beforeAll(() => buildCli(), 300_000);

  it('--host nonexistent.invalid: exit 1, one line and a hint, no stack trace', async () => {
    const b = buildsDir();
    try {
      const r = await fcosCli(['serve', '--builds', b, '--port', '0', '--host', 'nonexistent.invalid']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/^fcos: cannot resolve nonexistent\.invalid\n {2}hint: --host takes/);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('prints the address it bound (127.0.0.1 by default)', async () => {
    const b = buildsDir();
    try {
      const r = await fcosCli(['serve', '--builds', b, '--port', '0', '--json'], { untilStdout: /"listening"/ });
      const j = JSON.parse(r.stdout) as { address: string; listening: string; url: string; port: number };
      expect(j.address).toBe('127.0.0.1');
      expect(j.url).toBe(`http://127.0.0.1:${j.port}`);
    } finally {
      rmSync(b, { recursive: true, force: true });
    }
  });
});
