import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest, updateConfText } from '../../ostree/manifest.js';
import { UserError } from '../../lib/errors.js';
import { resolveServedPath, startUpdateServer } from '../../ostree/updates/serve.js';
import { buildIndex, deltaDir } from '../../ostree/updates/publish.js';
import { layerBase, layerBlocker, overlayFiles } from '../../ostree/layer.js';
import { inputParts } from '../../ostree/inputs.js';
import { addBuild, writeMeta, type BuildMeta } from '../../ostree/builds.js';
import { parseStatus } from '../../test/scenarios/upgrade.js';

function err(text: string): string {
  try {
    parseManifest(text, 'm.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('manifest upgrade:', () => {
  it('has defaults and renders the agent config', () => {
    const m = parseManifest('packages: [systemd]\n');
    expect(m.upgrade).toEqual({ strategy: 'immediate', 'check-interval-minutes': 60, 'boot-tries': 3, 'health-timeout-seconds': 120 });
    const t = updateConfText(m);
    expect(t).toContain("REF='fcos/trixie/x86_64/stable'");
    expect(t).toContain("URL=''");
    expect(t).toContain("BOOT_TRIES='3'");
  });
  it('takes a url, a periodic window and tries', () => {
    const m = parseManifest(
      'packages: [systemd]\nupgrade:\n  url: http://updates.example:8080/repo\n  strategy: periodic\n  periodic: {days: [Sat, Sun], start: "02:30", length-minutes: 90}\n  boot-tries: 2\n',
    );
    const t = updateConfText(m);
    expect(t).toContain("URL='http://updates.example:8080/repo'");
    expect(t).toContain("STRATEGY='periodic'");
    expect(t).toContain("WINDOW_DAYS='Sat Sun'");
    expect(t).toContain("WINDOW_START='02:30'");
    expect(t).toContain("WINDOW_MINUTES='90'");
    expect(t).toContain("BOOT_TRIES='2'");
  });
  it('refuses bad values with positions', () => {
    expect(err('packages: [systemd]\nupgrade:\n  strategy: sometimes\n')).toContain('m.yaml:3:13: /upgrade/strategy: must be one of');
    expect(err('packages: [systemd]\nupgrade:\n  strategy: periodic\n')).toContain('m.yaml:3:3: /upgrade: strategy periodic needs upgrade.periodic');
    expect(err('packages: [systemd]\nupgrade:\n  periodic: {days: [Mon], start: "01:00", length-minutes: 5}\n')).toContain('only used with strategy periodic');
    expect(err('packages: [systemd]\nupgrade:\n  url: "http://x/$(reboot)"\n')).toContain('/upgrade/url');
    expect(err('packages: [systemd]\nupgrade:\n  url: ftp://x/\n')).toContain('/upgrade/url');
    expect(err('packages: [systemd]\nupgrade:\n  boot-tries: 10\n')).toContain('/upgrade/boot-tries');
    expect(err('packages: [systemd]\nupgrade:\n  periodic: {days: [Someday], start: "25:00", length-minutes: 5}\n  strategy: periodic\n')).toMatch(/days|start/);
    expect(err('packages: [systemd]\nupgrade:\n  retries: 3\n')).toContain("unknown key 'retries'");
  });
});

describe('fcos serve', () => {
  const B = '/srv/builds';
  it('maps only the repo, the index files and the public key', () => {
    expect(resolveServedPath(B, '/repo/config')).toBe('/srv/builds/repo/config');
    expect(resolveServedPath(B, '/repo/objects/ab/cdef.filez')).toBe('/srv/builds/repo/objects/ab/cdef.filez');
    expect(resolveServedPath(B, '/builds.json')).toBe('/srv/builds/builds.json');
    expect(resolveServedPath(B, '/13.20261121.0/meta.json')).toBe('/srv/builds/13.20261121.0/meta.json');
    expect(resolveServedPath(B, '/keys/fcos-updates.gpg')).toBe('/srv/builds/keys/fcos-updates.gpg');
    for (const bad of ['/keys/gnupg/private-keys-v1.d/x.key', '/repo/../keys/gnupg/pubring.kbx', '/repo/%2e%2e/keys/key-id', '/.lock', '/.tmp/meta.json', '/repo/tmp/x', '/13.2/fcos.qcow2', '/', '/repo/']) {
      expect(resolveServedPath(B, bad), bad).toBeUndefined();
    }
  });
  it('serves files, the build index, 404s the rest and counts delta bytes', async () => {
    const b = mkdtempSync(join(tmpdir(), 'fcos-serve-'));
    mkdirSync(join(b, 'repo', 'deltas', 'ab'), { recursive: true });
    writeFileSync(join(b, 'repo', 'config'), '[core]\nmode=archive-z2\n');
    writeFileSync(join(b, 'repo', 'deltas', 'ab', 'superblock'), Buffer.alloc(100));
    mkdirSync(join(b, 'keys', 'gnupg'), { recursive: true });
    writeFileSync(join(b, 'keys', 'gnupg', 'secret'), 'x');
    const c1 = 'a'.repeat(64);
    const c2 = 'b'.repeat(64);
    for (const [id, commit, parent] of [['1.0', c1, undefined], ['1.1', c2, c1]] as const) {
      mkdirSync(join(b, id));
      writeMeta(join(b, id), { buildid: id, ref: 'r', 'ostree-commit': commit, 'ostree-version': id, 'ostree-timestamp': 't', ...(parent ? { 'ostree-parent': parent } : {}) } as unknown as BuildMeta);
      addBuild(b, id);
    }
    const d = deltaDir(join(b, 'repo'), c1, c2);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'superblock'), Buffer.alloc(10));
    writeFileSync(join(d, '0'), Buffer.alloc(32));
    const srv = await startUpdateServer({ buildsDir: b, host: '127.0.0.1', port: 0 });
    try {
      const get = (p: string) => fetch(`${srv.url}${p}`);
      expect((await get('/repo/config')).status).toBe(200);
      expect((await get('/keys/gnupg/secret')).status).toBe(404);
      const r = await get('/repo/deltas/ab/superblock');
      expect((await r.arrayBuffer()).byteLength).toBe(100);
      expect(srv.stats.deltaBytes).toBe(100);
      expect(srv.stats.deltaRequests).toBe(1);
      const idx = (await (await get('/index.json')).json()) as ReturnType<typeof buildIndex>;
      expect(idx.builds.map((x) => x.version)).toEqual(['1.1', '1.0']);
      expect(idx.builds[0]).toMatchObject({ commit: c2, parent: c1, delta: { from: c1, size: 42 } });
      expect(idx.builds[1]!.delta).toBeUndefined();
      expect((await fetch(`${srv.url}/repo/config`, { method: 'POST' })).status).toBe(405);
    } finally {
      await srv.close();
    }
  });
  it('holds loose objects while objectDelayMs is set (a slow link for power-cut tests), nothing else', async () => {
    const b = mkdtempSync(join(tmpdir(), 'fcos-serve-delay-'));
    mkdirSync(join(b, 'repo', 'objects', 'ab'), { recursive: true });
    writeFileSync(join(b, 'repo', 'config'), '[core]\n');
    writeFileSync(join(b, 'repo', 'objects', 'ab', 'cd.filez'), Buffer.alloc(7));
    const srv = await startUpdateServer({ buildsDir: b, host: '127.0.0.1', port: 0 });
    try {
      expect(srv.objectDelayMs).toBe(0);
      srv.objectDelayMs = 1500;
      let answered = false;
      const held = fetch(`${srv.url}/repo/objects/ab/cd.filez`).then(async (r) => {
        answered = true;
        return (await r.arrayBuffer()).byteLength;
      });
      expect((await fetch(`${srv.url}/repo/config`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect(answered).toBe(false);
      expect(await held).toBe(7);
      expect(srv.stats.objectRequests).toBe(1);
    } finally {
      await srv.close();
      rmSync(b, { recursive: true, force: true });
    }
  });
  it('refuses a builds dir without a repo', async () => {
    await expect(startUpdateServer({ buildsDir: '/nonexistent-fcos', port: 0 })).rejects.toThrow(/no ostree repository/);
  });
  it('computes ostree delta paths (modified base64)', () => {
    // ostree: deltas/<2 chars>/<rest>-<to>, base64 without padding, "/" → "_".
    const from = 'ff'.repeat(32);
    const to = '00'.repeat(32);
    expect(deltaDir('/r', from, to)).toBe(`/r/deltas/__/${'_'.repeat(40)}8-${'A'.repeat(43)}`);
  });
});

describe('layered composes', () => {
  const mk = () => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-layer-'));
    mkdirSync(join(d, 'etc', 'x'), { recursive: true });
    writeFileSync(join(d, 'etc', 'x', 'a.conf'), 'a');
    mkdirSync(join(d, 'usr', 'lib'), { recursive: true });
    symlinkSync('a.conf', join(d, 'usr', 'lib', 'link'));
    writeFileSync(join(d, 'usr', '.keep'), '');
    return d;
  };
  it('lists overlay files and decides when a layer is enough', () => {
    const d = mk();
    expect(overlayFiles(d)).toEqual(['etc/x/a.conf', 'usr/lib/link']);
    expect(layerBlocker(undefined, ['etc/a'])).toMatch(/no record/);
    expect(layerBlocker(['etc/a'], ['etc/a', 'usr/b'])).toBeUndefined();
    expect(layerBlocker(['etc/a', 'etc/b'], ['etc/a'])).toMatch(/etc\/b was removed/);
    expect(layerBlocker([], ['var/lib/x'])).toMatch(/outside etc\/ and usr\//);
  });
  it('the layer base ignores the overlay and nothing else', () => {
    const m = parseManifest('packages: [systemd]\noverlay: a\n');
    const parts = inputParts({ manifest: m, overlayDirs: [], packages: { systemd: '1' }, fcosVersion: '1', sourceDateEpoch: 1, signing: 'K' });
    const base = layerBase({ manifest: m, parts });
    expect(layerBase({ manifest: { ...m, overlay: 'b' }, parts })).toBe(base);
    expect(layerBase({ manifest: { ...m, packages: ['systemd', 'curl'] }, parts })).not.toBe(base);
    expect(layerBase({ manifest: m, parts: { ...parts, packages: 'other' } })).not.toBe(base);
    expect(layerBase({ manifest: m, parts: { ...parts, signing: 'other' } })).not.toBe(base);
    expect(layerBase({ manifest: m, builtinOverlay: mk(), parts })).not.toBe(base);
  });
});

describe('fcos-update status parsing', () => {
  it('reads the Key: value lines', () => {
    const st = parseStatus('Deployments:\n  *  booted    13.1 (abc.0)\nBooted: 13.1\nRollback: none\nBoot counter: none\nLast fallback: 2026 fell back from 13.3 to 13.2: x\n');
    expect(st).toMatchObject({ Booted: '13.1', Rollback: 'none', 'Boot counter': 'none', 'Last fallback': '2026 fell back from 13.3 to 13.2: x' });
  });
});
