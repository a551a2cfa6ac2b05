/**
 * `fcos pxe serve` against broken and hostile input (issue 15, items 2, 3, 9, 11): per-machine config tokens, the
 * client allow-list, the default bind, errors without host paths or exception text, 405 for other methods, and user
 * mistakes (bad meta.json, ports, addresses, --tftp FILE, --ignition-dir FILE) as user errors through bin/fcos.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allowed, machineToken, parseAllow, startPxeServer, type PxeServer } from '../../images/pxe-serve.js';
import { UserError } from '../../lib/errors.js';
import { buildCli, fcosCli } from './cli-helpers.js';

const MAC1 = '52-54-00-00-00-01';
const MAC2 = '52-54-00-00-00-02';
const host = (h: string) => JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files: [{ path: '/etc/hostname', mode: 420, contents: { source: `data:,${h}` } }] } });

/** A builds dir with a PXE build (1.0, builds/latest) and a config dir. */
function fixture(): { dir: string; builds: string; cfg: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fcos-pxe-hostile-'));
  const b = join(dir, 'builds', '1.0');
  mkdirSync(b, { recursive: true });
  const img = (p: string, sha: string) => ({ path: p, sha256: sha, size: 3 });
  writeFileSync(
    join(b, 'meta.json'),
    JSON.stringify({
      buildid: '1.0',
      images: {
        'live-kernel': img('fcos-1.0-live-kernel', 'k1'),
        'live-initramfs': img('fcos-1.0-live-initramfs.img', 'i1'),
        'live-rootfs': img('fcos-1.0-live-rootfs.squashfs', 'r1'),
        'metal-zst': img('fcos-1.0-metal.raw.zst', 'z1'),
      },
    }),
  );
  writeFileSync(join(b, 'fcos-1.0-live-kernel'), 'KER');
  symlinkSync('1.0', join(dir, 'builds', 'latest'));
  const cfg = join(dir, 'cfg');
  mkdirSync(cfg);
  writeFileSync(join(cfg, `${MAC1}.ign`), host('one'));
  writeFileSync(join(cfg, `${MAC2}.ign`), host('two'));
  writeFileSync(join(cfg, 'default.ign'), host('dflt'));
  return { dir, builds: join(dir, 'builds'), cfg };
}

const get = async (url: string, init?: RequestInit) => {
  const r = await fetch(url, init);
  return { status: r.status, text: await r.text(), allow: r.headers.get('allow') };
};

/** The config URL of a machine's iPXE script, as this host reaches it (the script says 10.0.2.2). */
async function configUrlOf(srv: PxeServer, mac: string): Promise<string> {
  const script = (await get(`${srv.url}/ipxe?mac=${mac}`)).text;
  const m = / ignition\.config\.url=(\S+)/.exec(script) ?? / fcos\.inst\.ignition_url=(\S+)/.exec(script);
  expect(m, script).toBeTruthy();
  return m![1]!.replace('http://10.0.2.2:', 'http://127.0.0.1:');
}

describe('fcos pxe serve: per-machine config tokens', () => {
  let f: ReturnType<typeof fixture>;
  let srv: PxeServer;
  beforeAll(async () => {
    f = fixture();
    srv = await startPxeServer({ buildsDir: f.builds, ignitionDir: f.cfg, port: 0, requireToken: true, log: () => undefined });
  });
  afterAll(async () => {
    await srv?.close();
    rmSync(f.dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 by default and reports it', () => {
    expect(srv.address).toBe('127.0.0.1');
    expect(srv.listening).toBe(`127.0.0.1:${srv.port}`);
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}`);
  });

  it("the iPXE script's config URL carries the machine's token, and the server takes it (iPXE just follows it)", async () => {
    const url = await configUrlOf(srv, MAC1);
    expect(url).toMatch(new RegExp(`/ignition\\?mac=${MAC1}&token=[0-9a-f]{32}$`));
    const r = await get(url);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).storage.files[0].contents.source).toBe('data:,one');
    // The secret is a 0600 file in builds/keys; the token is its HMAC of the MAC.
    expect(srv.tokenSecretFile).toBe(join(f.builds, 'keys', 'pxe-token.key'));
    expect(statSync(srv.tokenSecretFile!).mode & 0o777).toBe(0o600);
    const secret = Buffer.from(readFileSync(srv.tokenSecretFile!, 'utf8').trim(), 'hex');
    expect(url.endsWith(`token=${machineToken(secret, MAC1)}`)).toBe(true);
    // An installer's script points its ignition_url at the same token URL.
    writeFileSync(join(f.cfg, `${MAC2}.kargs`), 'fcos.inst.install_dev=/dev/vda\n');
    const inst = await configUrlOf(srv, MAC2);
    expect(inst).toMatch(new RegExp(`/ignition\\?mac=${MAC2}&token=[0-9a-f]{32}$`));
    expect((await get(inst)).status).toBe(200);
  });

  it('a config without its token, with a wrong one, or with another machine’s token is 403', async () => {
    const mine = await configUrlOf(srv, MAC1);
    const other = await configUrlOf(srv, MAC2);
    const otherToken = new URL(other).searchParams.get('token')!;
    for (const url of [`${srv.url}/ignition?mac=${MAC1}`, `${srv.url}/ignition?mac=${MAC1}&token=${'0'.repeat(32)}`, `${srv.url}/ignition?mac=${MAC1}&token=${otherToken}`, `${srv.url}/ignition?mac=${MAC1}&token=x`, `${srv.url}/ignition`]) {
      const r = await get(url);
      expect(r.status, url).toBe(403);
      expect(r.text).toMatch(/^fcos pxe serve: this config needs the machine's token/);
      expect(r.text).not.toContain('hostname');
    }
    expect((await get(mine)).status).toBe(200);
  });

  it('the same secret gives the same tokens after a restart', async () => {
    const before = await configUrlOf(srv, MAC1);
    expect(before).toMatch(/token=[0-9a-f]{32}$/);
    const again = await startPxeServer({ buildsDir: f.builds, ignitionDir: f.cfg, port: 0, requireToken: true, log: () => undefined });
    try {
      expect(new URL((await configUrlOf(again, MAC1)).replace(`:${again.port}/`, '/')).search).toBe(new URL(before.replace(`:${srv.port}/`, '/')).search);
    } finally {
      await again.close();
    }
  });

  it('POST, PUT and DELETE are 405 with an Allow header', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      for (const p of ['/boot.ipxe', `/ipxe?mac=${MAC1}`, '/assets/fcos-1.0-live-kernel', '/ignition']) {
        const r = await get(`${srv.url}${p}`, { method });
        expect(r.status, `${method} ${p}`).toBe(405);
        expect(r.allow).toBe('GET, HEAD');
      }
    }
  });
});

describe('fcos pxe serve: off loopback, and the allow-list', () => {
  it('on 0.0.0.0 it warns and requires tokens by default', async () => {
    const f = fixture();
    const lines: string[] = [];
    const srv = await startPxeServer({ buildsDir: f.builds, ignitionDir: f.cfg, listen: '0.0.0.0', port: 0, log: (l) => lines.push(l) });
    try {
      expect(srv.address).toBe('0.0.0.0');
      expect(srv.listening).toBe(`0.0.0.0:${srv.port} (every interface)`);
      expect(srv.requireToken).toBe(true);
      expect(lines.join('\n')).toMatch(/pxe: warning: serving Ignition configs \(they may hold private keys\) on 0\.0\.0\.0:\d+ \(every interface\).*--allow CIDR/);
      expect((await get(`${srv.url}/ignition?mac=${MAC1}`)).status).toBe(403);
      expect((await get(await configUrlOf(srv, MAC1))).status).toBe(200);
    } finally {
      await srv.close();
      rmSync(f.dir, { recursive: true, force: true });
    }
  });

  it('on loopback no token is needed (QEMU user networking; the PXE e2e test fetches configs directly)', async () => {
    const f = fixture();
    const srv = await startPxeServer({ buildsDir: f.builds, ignitionDir: f.cfg, port: 0, log: () => undefined });
    try {
      expect(srv.requireToken).toBe(false);
      expect(await configUrlOf(srv, MAC1)).toBe(`${srv.url}/ignition?mac=${MAC1}`);
      expect((await get(`${srv.url}/ignition?mac=${MAC1}`)).status).toBe(200);
    } finally {
      await srv.close();
      rmSync(f.dir, { recursive: true, force: true });
    }
  });

  it('--allow: a client outside the networks gets 403 on every endpoint; inside, answers', async () => {
    const f = fixture();
    const outside = await startPxeServer({ buildsDir: f.builds, ignitionDir: f.cfg, port: 0, allow: ['192.0.2.0/24', '2001:db8::/32'], log: () => undefined });
    const inside = await startPxeServer({ buildsDir: f.builds, ignitionDir: f.cfg, port: 0, allow: ['192.0.2.0/24', '127.0.0.0/8'], log: () => undefined });
    try {
      for (const p of ['/boot.ipxe', `/ipxe?mac=${MAC1}`, `/ignition?mac=${MAC1}`, '/assets/fcos-1.0-live-kernel']) {
        expect(await get(`${outside.url}${p}`), p).toMatchObject({ status: 403, text: 'fcos pxe serve: this client address is not allowed (--allow)\n' });
        expect((await get(`${inside.url}${p}`)).status, p).toBe(200);
      }
      expect(inside.allow).toEqual(['192.0.2.0/24', '127.0.0.0/8']);
    } finally {
      await outside.close();
      await inside.close();
      rmSync(f.dir, { recursive: true, force: true });
    }
  });

  it('parses CIDRs and matches IPv4, IPv4-mapped and IPv6 clients', () => {
    const n = parseAllow(['10.0.0.0/8', '192.0.2.7', 'fd00:1::/32']);
    expect(allowed(n, '10.200.3.4')).toBe(true);
    expect(allowed(n, '::ffff:10.1.2.3')).toBe(true);
    expect(allowed(n, '11.0.0.1')).toBe(false);
    expect(allowed(n, '192.0.2.7')).toBe(true);
    expect(allowed(n, '192.0.2.8')).toBe(false);
    expect(allowed(n, 'fd00:1:abcd::5')).toBe(true);
    expect(allowed(n, 'fd00:2::5')).toBe(false);
    expect(allowed(n, undefined)).toBe(false);
    for (const bad of ['10.0.0.0/33', 'nonsense', '10.0.0.0/8/1', '::/129', '999.1.1.1/8']) expect(() => parseAllow([bad]), bad).toThrow(UserError);
  });
});

describe('fcos pxe serve: bad files give one-line errors without host paths, and the server stays up', () => {
  let f: ReturnType<typeof fixture>;
  let srv: PxeServer;
  const log: string[] = [];
  beforeAll(async () => {
    f = fixture();
    srv = await startPxeServer({ buildsDir: f.builds, ignitionDir: f.cfg, port: 0, log: (l) => log.push(l) });
  });
  afterAll(async () => {
    await srv?.close();
    rmSync(f.dir, { recursive: true, force: true });
  });

  it('a listed asset that is missing: 500, one line, no path; the next request is served', async () => {
    const r = await get(`${srv.url}/assets/fcos-1.0-live-initramfs.img`);
    expect(r.status).toBe(500);
    expect(r.text).toBe('fcos pxe serve: fcos-1.0-live-initramfs.img is listed in meta.json but missing from the build\n');
    expect((await get(`${srv.url}/assets/fcos-1.0-live-kernel`)).text).toBe('KER');
  });

  it('a listed asset that is a symlink out of the build is not followed (500, as missing); HEAD gives the length without a body', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'fcos-pxe-outside-'));
    try {
      writeFileSync(join(outside, 'shadow'), 'root:secret\n');
      symlinkSync(join(outside, 'shadow'), join(f.builds, '1.0', 'fcos-1.0-live-rootfs.squashfs'));
      const r = await get(`${srv.url}/assets/fcos-1.0-live-rootfs.squashfs`);
      expect(r.status).toBe(500);
      expect(r.text).not.toContain('secret');
      const head = await fetch(`${srv.url}/assets/fcos-1.0-live-kernel`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe('3');
      expect(head.headers.get('content-type')).toBe('application/octet-stream');
      expect(await head.text()).toBe('');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('an unexpected failure (a .kargs that is a directory): 500 without exception text or paths; details in the log only', async () => {
    const mac = '52-54-00-00-00-0d';
    mkdirSync(join(f.cfg, `${mac}.kargs`));
    const r = await get(`${srv.url}/ipxe?mac=${mac}`);
    expect(r.status).toBe(500);
    expect(r.text).toBe('fcos pxe serve: internal error (the server log has the details)\n');
    expect(r.text).not.toContain(f.dir);
    expect(log.join('\n')).toMatch(/-> 500: .*EISDIR/);
    expect((await get(`${srv.url}/ipxe?mac=${MAC1}`)).status).toBe(200);
  });

  it('a refused config names the file, not where it is on the host', async () => {
    const bad = '52-54-00-00-00-0b';
    writeFileSync(join(f.cfg, `${bad}.ign`), JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files: [{ path: 'etc/relative' }] } }));
    const r = await get(`${srv.url}/ignition?mac=${bad}`);
    expect(r.status).toBe(403);
    expect(r.text).toMatch(new RegExp(`^fcos pxe serve: ${bad}\\.ign: the config cannot be used`));
    expect(r.text).not.toContain(f.dir);
    const unreadable = '52-54-00-00-00-0c';
    writeFileSync(join(f.cfg, `${unreadable}.bu`), 'variant: fcos\nversion: 1.4.0\nstorage: [\n');
    const b = await get(`${srv.url}/ignition?mac=${unreadable}`);
    expect(b.status).toBe(403);
    expect(b.text).not.toContain(f.dir);
  });

  it('refuses a meta.json that is null or not JSON, and --ignition-dir FILE, as user errors', async () => {
    const g = fixture();
    try {
      const start = (o: Partial<Parameters<typeof startPxeServer>[0]> = {}) => startPxeServer({ buildsDir: g.builds, ignitionDir: g.cfg, port: 0, log: () => undefined, ...o });
      await expect(start({ ignitionDir: join(g.cfg, `${MAC1}.ign`) })).rejects.toThrow(UserError);
      await expect(start({ ignitionDir: join(g.cfg, `${MAC1}.ign`) })).rejects.toThrow(/--ignition-dir .* is not a directory/);
      await expect(start({ ignitionDir: undefined, ignition: g.cfg })).rejects.toThrow(/--ignition .* is a directory/);
      writeFileSync(join(g.builds, '1.0', 'meta.json'), 'null');
      await expect(start()).rejects.toMatchObject({ kind: 'user', message: `${join(g.builds, 'latest', 'meta.json')} is not a build's metadata (null)` });
      writeFileSync(join(g.builds, '1.0', 'meta.json'), '{');
      await expect(start()).rejects.toMatchObject({ kind: 'user', message: `${join(g.builds, 'latest', 'meta.json')} is not valid JSON` });
    } finally {
      rmSync(g.dir, { recursive: true, force: true });
    }
  });
});

describe('fcos pxe serve (CLI): user mistakes are user errors (exit 1, one line, a hint)', () => {
  let f: ReturnType<typeof fixture>;
  beforeAll(async () => {
    f = fixture();
    await buildCli();
  }, 300_000);
  afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

  const pxe = (args: string[]) => fcosCli(['pxe', 'serve', '--builds', f.builds, '--ignition-dir', f.cfg, ...args]);
  const userError = (r: { exitCode?: number; stderr: string }, re: RegExp) => {
    expect(r.exitCode, r.stderr).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(re);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^ {2}hint: /);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  };

  it('--port -1 and 70000', async () => {
    userError(await pxe(['--port=-1']), /^fcos: --port must be a TCP port, 0 to 65535 \(got -1\)$/);
    userError(await pxe(['--port', '70000']), /^fcos: --port must be a TCP port, 0 to 65535 \(got 70000\)$/);
  });
  it('--host 999.1.1.1', async () => {
    userError(await pxe(['--port', '0', '--host', '999.1.1.1']), /^fcos: 999\.1\.1\.1 is not a valid IPv4 address$/);
  });
  it('the old names --http-port and --listen still work, with a deprecation warning', async () => {
    const r = await pxe(['--http-port', '70000', '--listen', '127.0.0.1']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('The "--http-port" flag has been deprecated. Use "--port" instead.');
    expect(r.stderr).toContain('The "--listen" flag has been deprecated. Use "--host" instead.');
    expect(r.stderr).toMatch(/^fcos: --port must be a TCP port, 0 to 65535 \(got 70000\)$/m);
  });
  it('--tftp FILE', async () => {
    const file = join(f.dir, 'a-file');
    writeFileSync(file, 'x');
    userError(await pxe(['--port', '0', '--tftp', file]), /^fcos: --tftp .*a-file is not a directory$/);
  });
  it('--ignition-dir FILE', async () => {
    userError(await fcosCli(['pxe', 'serve', '--builds', f.builds, '--ignition-dir', join(f.cfg, `${MAC1}.ign`), '--port', '0']), /^fcos: --ignition-dir .* is not a directory$/);
  });
  it('a meta.json that is not JSON (exit 70 before)', async () => {
    const g = fixture();
    try {
      writeFileSync(join(g.builds, '1.0', 'meta.json'), '{');
      userError(await fcosCli(['pxe', 'serve', '--builds', g.builds, '--ignition-dir', g.cfg, '--port', '0']), /^fcos: \/.*\/latest\/meta\.json is not valid JSON$/);
    } finally {
      rmSync(g.dir, { recursive: true, force: true });
    }
  });
  it('prints the address it bound', async () => {
    const r = await fcosCli(['pxe', 'serve', '--builds', f.builds, '--ignition-dir', f.cfg, '--port', '0', '--json'], { untilStdout: /"listening"/ });
    const j = JSON.parse(r.stdout) as { address: string; listening: string; requireToken: boolean };
    expect(j.address).toBe('127.0.0.1');
    expect(j.requireToken).toBe(false);
  });
});
