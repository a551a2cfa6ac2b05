/**
 * `fcos pxe serve`: an HTTP server for a build's PXE artifacts, per-machine iPXE scripts and Ignition configs
 * (matchbox-like: the machine's MAC picks a config, with a default), and a TFTP directory that chains to it.
 *
 * Endpoints:
 *   /boot.ipxe                 chains to /ipxe?mac=${mac:hexhyp} (point DHCP's iPXE filename here)
 *   /ipxe?mac=52-54-00-…       the machine's script: live (kernel + initramfs, rootfs URL + sha256, config URL) or,
 *                              when its kernel arguments have fcos.inst.install_dev, install
 *   /ignition?mac=…            the machine's config: <mac>.ign|.bu in --ignition-dir, else default.ign|.bu, else
 *                              --ignition. It is validated (and translated/down-levelled) on every request, as
 *                              `fcos build` does; a config that fails is answered with 403 and the reasons as text,
 *                              which the PXE initramfs prints on the console.
 *   /assets/<file>             the build's files listed in meta.json images (nothing else).
 * Per-machine kernel arguments: <mac>.kargs or default.kargs in --ignition-dir (one line), plus --kargs.
 *
 * Who gets the configs (they may hold private keys): the server listens on 127.0.0.1 by default (QEMU guests on user
 * networking reach it as 10.0.2.2). On any other address it warns, and the configs need a per-machine token: the
 * iPXE script of MAC m points at /ignition?mac=m&token=HMAC-SHA256(secret, m), the secret being a 0600 file
 * (builds/keys/pxe-token.key by default); a request without the right token gets 403. The token only keeps configs
 * from those who do not fetch the machine's iPXE script first, so --allow CIDR (repeatable) limits every endpoint
 * to the provisioning network's addresses; that, or a network only the machines reach, is what keeps configs private.
 * Only GET and HEAD are answered (405 otherwise). Errors are one line, without host paths or exception text.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { FcosError, UserError } from '../lib/errors.js';
import { refuseMethod, sendFile, sendText } from '../lib/http-static.js';
import { DEFAULT_BIND, describeBound, isLoopback, listenOn, urlFor } from '../lib/listen.js';
import { info } from '../lib/log.js';
import { readMeta, type ImageEntry } from '../ostree/builds.js';
import { prepareConfig } from './config.js';
import { ipxeScript, PXE_FILES } from './pxe.js';

export interface PxeServeOptions {
  buildsDir: string;
  /** A build id; default: builds/latest. */
  build?: string;
  ignition?: string;
  ignitionDir?: string;
  /** Default 127.0.0.1. */
  listen?: string;
  port?: number;
  /**
   * Configs need the per-machine token of the iPXE script (/ignition?mac=m&token=…). Default: on when the server is
   * bound to a non-loopback address.
   */
  requireToken?: boolean;
  /** The token secret (created 0600 when missing). Default: <buildsDir>/keys/pxe-token.key. */
  tokenSecretFile?: string;
  /** Only these client networks (CIDR, or a single address) get answers; others get 403. Default: everyone. */
  allow?: string[];
  /** Extra kernel arguments for every machine. */
  kargs?: string[];
  /** Every machine without its own kargs installs to this device. */
  installDev?: string;
  /** Write boot.ipxe (chaining to advertiseUrl) into this directory, for a TFTP server (QEMU user-net tftp=). */
  tftpDir?: string;
  /** The URL machines reach this server at (default http://10.0.2.2:PORT, QEMU user-mode networking's host). */
  advertiseUrl?: string;
  log?: (line: string) => void;
}

export interface PxeServer {
  port: number;
  url: string;
  /** The address bound, and as text ("127.0.0.1:8080", "0.0.0.0:8080 (every interface)"). */
  address: string;
  listening: string;
  /** Configs need the iPXE script's token; where its secret is. */
  requireToken: boolean;
  tokenSecretFile?: string;
  allow: string[];
  advertiseUrl: string;
  buildDir: string;
  close(): Promise<void>;
}

/** A MAC address in iPXE's ${mac:hexhyp} form (52-54-00-12-34-56), lower case; undefined if it is not one. */
export function normalizeMac(mac: string | null | undefined): string | undefined {
  if (!mac) return undefined;
  const m = mac.trim().toLowerCase().replace(/[:.]/g, '-');
  return /^([0-9a-f]{2}-){5}[0-9a-f]{2}$/.test(m) ? m : undefined;
}

/** Files for a machine in a config directory: <mac>.<ext>, then default.<ext>. */
export function machineFile(dir: string | undefined, mac: string | undefined, exts: readonly string[]): string | undefined {
  if (!dir) return undefined;
  for (const base of [mac, 'default']) {
    if (!base) continue;
    for (const e of exts) {
      const p = join(dir, `${base}.${e}`);
      if (existsSync(p)) return p;
    }
  }
  return undefined;
}

export function resolveBuild(buildsDir: string, build?: string): { dir: string; meta: Record<string, unknown>; images: Record<string, ImageEntry> } {
  const dir = join(resolve(buildsDir), build ?? 'latest');
  const metaPath = join(dir, 'meta.json');
  if (!existsSync(metaPath)) throw new UserError(`no build at ${dir} (no meta.json)`, 'run fcos build --format pxe first');
  // An error at start-up, for the operator: the whole path.
  const shown = metaPath;
  const hint = 'rebuild it (fcos build --format pxe), or pick another with --build';
  const m = readMeta(dir, { shown, hint });
  const images = m.images ?? {};
  const missing = ['live-kernel', 'live-initramfs', 'live-rootfs'].filter((k) => !images[k]);
  if (missing.length) throw new UserError(`build ${dir} has no PXE artifacts (${missing.join(', ')} missing in meta.json)`, 'build them with: fcos build --format pxe');
  for (const k of ['live-kernel', 'live-initramfs', 'live-rootfs', 'metal-zst']) {
    const i = images[k];
    if (k === 'metal-zst' && i === undefined) continue;
    if (!i || i.path.includes('/')) {
      throw new UserError(`${shown}: images.${k} is not a file of the build (path, sha256)`, hint);
    }
  }
  return { dir, meta: m as Record<string, unknown>, images };
}

/** The per-machine token: HMAC-SHA256 of the MAC (hexhyp, or '' for a request without one), 32 hex digits. */
export function machineToken(secret: Buffer, mac: string | undefined): string {
  return createHmac('sha256', secret).update(`fcos-pxe-config\0${mac ?? ''}`).digest('hex').slice(0, 32);
}

/** Read the token secret, or make one (32 random bytes, hex, mode 0600, in a 0700 directory when it makes it). */
export function loadTokenSecret(file: string): Buffer {
  try {
    if (!existsSync(file)) {
      const d = dirname(file);
      if (!existsSync(d)) mkdirSync(d, { recursive: true, mode: 0o700 });
      // 'wx': never over a file that appeared meanwhile.
      writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    }
    const st = statSync(file);
    if (!st.isFile()) throw new UserError(`the PXE token secret ${file} is not a file`);
    if (st.mode & 0o077) chmodSync(file, 0o600);
    const text = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(text)) throw new UserError(`the PXE token secret ${file} is not 64 hex digits`, 'remove it: a new one is made (and the old tokens stop working)');
    return Buffer.from(text, 'hex');
  } catch (e) {
    if (e instanceof FcosError) throw e;
    throw new UserError(`cannot make or read the PXE token secret ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, 'give another place with --token-secret FILE');
  }
}

interface Net {
  text: string;
  v: 4 | 6;
  bits: bigint;
  prefix: number;
}

function addrBits(a: string): { v: 4 | 6; bits: bigint } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  const v = isIP(a);
  if (v === 4) return { v: 4, bits: a.split('.').reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n) };
  if (v === 6) {
    const [head, tail] = a.toLowerCase().split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail ? tail.split(':') : [];
    // An embedded IPv4 tail (::ffff:1.2.3.4 handled above; others are rare): two groups.
    const expand = (g: string[]) => g.flatMap((x) => (x.includes('.') ? (() => { const b = addrBits(x)!.bits; return [(b >> 16n).toString(16), (b & 0xffffn).toString(16)]; })() : [x]));
    const hh = expand(h);
    const tt = expand(t);
    const groups = tail !== undefined ? [...hh, ...Array(8 - hh.length - tt.length).fill('0'), ...tt] : hh;
    return { v: 6, bits: groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n) };
  }
  return undefined;
}

/** Parse --allow values: CIDR (192.0.2.0/24, fd00::/64) or a single address. */
export function parseAllow(values: readonly string[]): Net[] {
  return values.map((text) => {
    const [a, p, extra] = text.trim().split('/');
    const b = a ? addrBits(a) : undefined;
    const max = b?.v === 4 ? 32 : 128;
    const prefix = p === undefined ? max : /^\d+$/.test(p) ? Number(p) : NaN;
    if (!b || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
      throw new UserError(`--allow ${text}: not an address or a network (CIDR)`, 'e.g. --allow 192.0.2.0/24 --allow 10.0.2.15');
    }
    return { text, v: b.v, bits: b.bits, prefix };
  });
}

/** Is this client address in one of the networks? */
export function allowed(nets: readonly Net[], address: string | undefined): boolean {
  const b = address ? addrBits(address) : undefined;
  if (!b) return false;
  return nets.some((n) => {
    if (n.v !== b.v) return false;
    const shift = BigInt((n.v === 4 ? 32 : 128) - n.prefix);
    return b.bits >> shift === n.bits >> shift;
  });
}

/** Is it there, and a directory (or a file)? UserError naming the flag otherwise. */
function checkPath(p: string | undefined, flag: string, want: 'file' | 'dir', mayBeMissing = false): void {
  if (p === undefined) return;
  let st;
  try {
    st = statSync(p);
  } catch {
    if (mayBeMissing) return;
    throw new UserError(want === 'dir' ? `no such directory: ${p}` : `no such config file: ${p}`, `check ${flag}`);
  }
  if (want === 'dir' && !st.isDirectory()) throw new UserError(`${flag} ${p} is not a directory`, `${flag} takes a directory${flag === '--ignition-dir' ? ' of <mac>.ign|.bu and default.ign|.bu files; for one config for every machine use --ignition FILE' : ''}`);
  if (want === 'file' && st.isDirectory()) throw new UserError(`${flag} ${p} is a directory`, flag === '--ignition' ? 'per-machine configs in a directory: --ignition-dir DIR' : `${flag} takes a file`);
}

/** What the handler answers from. `advertise` and `secret` are set once the server is bound, and `ready` then. */
interface PxeContext {
  o: PxeServeOptions;
  build: ReturnType<typeof resolveBuild>;
  allow: Net[];
  log: (line: string) => void;
  /** Nothing is answered before (fail closed). */
  ready: boolean;
  advertise: string;
  secret?: Buffer;
}

const INSTALL_DEV_RE = /^(fcos|coreos)\.inst\.install_dev=/;

/** A machine's kernel arguments: --kargs, then its <mac>.kargs or default.kargs, then --install-dev. */
function machineKargs(o: PxeServeOptions, mac?: string): string[] {
  const f = machineFile(o.ignitionDir, mac, ['kargs']);
  const own = f ? readFileSync(f, 'utf8').split(/\s+/).filter(Boolean) : [];
  const all = [...(o.kargs ?? []), ...own];
  if (o.installDev && !all.some((a) => INSTALL_DEV_RE.test(a))) all.push(`fcos.inst.install_dev=${o.installDev}`);
  return all;
}

/** Host paths never go to clients: a message about a config names the file (52-54-00-12-34-56.ign), not where it is. */
function scrub(msg: string, file: string): string {
  return [resolve(file), file].sort((x, y) => y.length - x.length).reduce((m, p) => m.split(p).join(basename(file)), msg);
}

type Reply = { code: number; body: string; type?: string };

/** /ipxe?mac=…: the machine's live or install script, its config URL carrying the machine's token. */
function ipxeReply(cx: PxeContext, mac: string | undefined): Reply {
  const images = cx.build.images;
  const base = `${cx.advertise}/assets`;
  const t = cx.secret ? machineToken(cx.secret, mac) : undefined;
  const query = [mac ? `mac=${mac}` : '', t ? `token=${t}` : ''].filter(Boolean).join('&');
  const cfgUrl = `${cx.advertise}/ignition${query ? `?${query}` : ''}`;
  const kargs = machineKargs(cx.o, mac);
  const dev = kargs.find((a) => INSTALL_DEV_RE.test(a))?.split('=')[1];
  const zst = images['metal-zst'];
  if (dev && !zst) return { code: 500, body: '#!ipxe\necho fcos pxe serve: this build has no metal-zst image to install\nshell\n' };
  const script = ipxeScript({
    base,
    files: { kernel: images['live-kernel']!.path, initramfs: images['live-initramfs']!.path, rootfs: images['live-rootfs']!.path },
    rootfsSha256: images['live-rootfs']!.sha256,
    configUrl: cfgUrl,
    extraArgs: kargs.filter((a) => !INSTALL_DEV_RE.test(a)),
    install: dev ? { dev, imageUrl: `${base}/${zst!.path}`, imageSha256: zst!.sha256, ignitionUrl: cfgUrl } : undefined,
  });
  return { code: 200, body: script };
}

/** /ignition?mac=…&token=…: the machine's config, validated (and translated) now; refusals with their reasons. */
async function configReply(cx: PxeContext, mac: string | undefined, token: string | null): Promise<Reply> {
  const want = cx.secret ? machineToken(cx.secret, mac) : undefined;
  if (want) {
    const got = Buffer.from(token ?? '');
    if (got.length !== want.length || !timingSafeEqual(got, Buffer.from(want))) {
      return { code: 403, body: "fcos pxe serve: this config needs the machine's token (the config URL of its iPXE script, /ipxe?mac=…)\n" };
    }
  }
  const f = machineFile(cx.o.ignitionDir, mac, ['ign', 'bu']) ?? cx.o.ignition;
  if (!f) return { code: 404, body: `fcos pxe serve: no config for ${mac ?? 'this machine'} and no default\n` };
  try {
    const cfg = await prepareConfig(f);
    return { code: 200, body: cfg.text, type: 'application/json' };
  } catch (e) {
    // A config the user can fix (it fails validation, Butane refuses it, it cannot be read): 403 and the reasons,
    // which the machine's initramfs prints. Anything else is ours: 500, one line; the details go to our log.
    if (e instanceof FcosError && e.kind === 'user') return { code: 403, body: `fcos pxe serve: ${scrub(e.message.trim(), f)}\n` };
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { code: 403, body: `fcos pxe serve: cannot read the config ${basename(f)} (${code})\n` };
    throw e;
  }
}

/** The request handler: every answer logged (without tokens); files through the shared static handler. */
function pxeHandler(cx: PxeContext): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const assetNames = new Set(Object.values(cx.build.images).map((i) => i?.path));
  return async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const mac = normalizeMac(u.searchParams.get('mac'));
    // The log never shows a token.
    const shownUrl = (req.url ?? '/').replace(/([?&]token=)[^&]*/, '$1…');
    const logged = (code: number) => cx.log(`pxe: ${req.method} ${shownUrl} -> ${code}${mac ? ` (${mac})` : ''}`);
    const send = (r: Reply) => {
      sendText(req, res, r.code, r.body, { type: r.type });
      logged(r.code);
    };
    const notFound = { code: 404, body: 'not found\n' };
    if (!cx.ready) return send({ code: 503, body: 'fcos pxe serve: starting\n' });
    if (refuseMethod(req, res, 'fcos pxe serve: only GET and HEAD\n')) return logged(405);
    if (cx.allow.length && !allowed(cx.allow, req.socket.remoteAddress)) return send({ code: 403, body: 'fcos pxe serve: this client address is not allowed (--allow)\n' });
    if (u.pathname === '/boot.ipxe') return send({ code: 200, body: `#!ipxe\nchain ${cx.advertise}/ipxe?mac=\${mac:hexhyp}\n` });
    if (u.pathname === '/ipxe') return send(ipxeReply(cx, mac));
    if (u.pathname === '/ignition') return send(await configReply(cx, mac, u.searchParams.get('token')));
    if (!u.pathname.startsWith('/assets/')) return send(notFound);
    let name: string;
    try {
      name = decodeURIComponent(u.pathname.slice('/assets/'.length));
    } catch {
      return send(notFound);
    }
    if (!assetNames.has(name) || name.includes('/')) return send(notFound);
    // Only the build's own files: a listed name whose real path leaves the build is as missing as an absent one.
    const size = sendFile(req, res, join(cx.build.dir, name), { inside: cx.build.dir });
    if (size === undefined) return send({ code: 500, body: `fcos pxe serve: ${name} is listed in meta.json but missing from the build\n` });
    if (req.method !== 'HEAD') res.on('finish', () => cx.log(`pxe: GET ${u.pathname} -> 200 (${size} bytes)${mac ? ` (${mac})` : ''}`));
  };
}

/** Once bound: the token secret, the advertised URL and boot.ipxe for TFTP. */
function afterBind(cx: PxeContext, port: number, tokenSecretFile: string | undefined): void {
  const o = cx.o;
  if (tokenSecretFile) cx.secret = loadTokenSecret(tokenSecretFile);
  cx.advertise = (o.advertiseUrl ?? `http://10.0.2.2:${port}`).replace(/\/$/, '');
  if (!o.tftpDir) return;
  try {
    mkdirSync(o.tftpDir, { recursive: true });
    writeFileSync(join(o.tftpDir, 'boot.ipxe'), `#!ipxe\n# fcos pxe serve: chain to the HTTP server\nchain ${cx.advertise}/ipxe?mac=\${mac:hexhyp}\n`);
  } catch (e) {
    throw new UserError(`cannot write boot.ipxe into --tftp ${o.tftpDir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, '--tftp takes a directory that fcos can write (the TFTP root)');
  }
}

/** Off loopback: say who can fetch the configs, and how to limit it. */
function warnOffLoopback(cx: PxeContext, listening: string, requireToken: boolean): void {
  const { allow } = cx;
  const who = allow.length ? `clients in ${allow.map((n) => n.text).join(', ')}` : 'anyone who reaches it';
  cx.log(
    `pxe: warning: serving Ignition configs (they may hold private keys) on ${listening}: ${who} can fetch them` +
      (requireToken
        ? ` with the token of the machine's iPXE script (which the same clients can fetch);${allow.length ? '' : ' limit clients with --allow CIDR, or'} keep this port on a network only the machines reach`
        : ` without a token (--no-require-token);${allow.length ? '' : ' limit clients with --allow CIDR, or'} keep this port on a network only the machines reach`),
  );
}

export async function startPxeServer(o: PxeServeOptions): Promise<PxeServer> {
  const log = o.log ?? ((l: string) => info(l));
  const build = resolveBuild(o.buildsDir, o.build);
  checkPath(o.ignition, '--ignition', 'file');
  checkPath(o.ignitionDir, '--ignition-dir', 'dir');
  checkPath(o.tftpDir, '--tftp', 'dir', true);
  if (!o.ignition && !o.ignitionDir) throw new UserError('nothing to serve to machines: give --ignition FILE or --ignition-dir DIR');
  const cx: PxeContext = { o, build, allow: parseAllow(o.allow ?? []), log, ready: false, advertise: '' };
  const handler = pxeHandler(cx);
  const server: Server = createServer((req, res) => {
    handler(req, res).catch((e: unknown) => {
      // One line to the client, without host paths or exception text; the whole error in the server's log.
      log(`pxe: ${req.method} ${(req.url ?? '/').replace(/([?&]token=)[^&]*/, '$1…')} -> 500: ${e instanceof Error ? e.message : String(e)}`);
      if (res.headersSent) return void res.destroy();
      sendText(req, res, 500, 'fcos pxe serve: internal error (the server log has the details)\n');
    });
  });
  const bound = await listenOn(server, o.port ?? 0, o.listen ?? DEFAULT_BIND, { host: '--host', port: '--port' });
  const close = () => new Promise<void>((ok) => server.close(() => ok()));
  const loopback = isLoopback(bound.address);
  const requireToken = o.requireToken ?? !loopback;
  const tokenSecretFile = requireToken ? resolve(o.tokenSecretFile ?? join(o.buildsDir, 'keys', 'pxe-token.key')) : undefined;
  try {
    afterBind(cx, bound.port, tokenSecretFile);
  } catch (e) {
    await close();
    throw e;
  }
  cx.ready = true;
  if (!loopback) warnOffLoopback(cx, describeBound(bound), requireToken);
  // Check what is there now (a machine with a bad config still gets its refusal at boot).
  for (const f of new Set([o.ignition, ...(o.ignitionDir ? ['default.ign', 'default.bu'].map((x) => join(o.ignitionDir!, x)) : [])])) {
    if (f && existsSync(f)) await prepareConfig(f).catch((e: Error) => log(`pxe: warning: ${e.message}`));
  }
  return {
    port: bound.port,
    url: urlFor(bound),
    address: bound.address,
    listening: describeBound(bound),
    requireToken,
    tokenSecretFile,
    allow: cx.allow.map((n) => n.text),
    advertiseUrl: cx.advertise,
    buildDir: build.dir,
    close,
  };
}

export { PXE_FILES };
