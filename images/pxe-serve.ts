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
 */
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { UserError } from '../lib/errors.js';
import { info } from '../lib/log.js';
import { prepareConfig, ConfigRefusedError } from './config.js';
import { ipxeScript, PXE_FILES } from './pxe.js';

export interface PxeServeOptions {
  buildsDir: string;
  /** A build id; default: builds/latest. */
  build?: string;
  ignition?: string;
  ignitionDir?: string;
  listen?: string;
  port?: number;
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
  advertiseUrl: string;
  buildDir: string;
  close(): Promise<void>;
}

interface ImageEntry {
  path: string;
  sha256: string;
  size: number;
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
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, unknown>;
  const images = (meta.images ?? {}) as Record<string, ImageEntry>;
  const missing = ['live-kernel', 'live-initramfs', 'live-rootfs'].filter((k) => !images[k]);
  if (missing.length) throw new UserError(`build ${dir} has no PXE artifacts (${missing.join(', ')} missing in meta.json)`, 'build them with: fcos build --format pxe');
  return { dir, meta, images };
}

export async function startPxeServer(o: PxeServeOptions): Promise<PxeServer> {
  const log = o.log ?? ((l: string) => info(l));
  const b = resolveBuild(o.buildsDir, o.build);
  if (o.ignition && !existsSync(o.ignition)) throw new UserError(`no such config file: ${o.ignition}`);
  if (o.ignitionDir && !existsSync(o.ignitionDir)) throw new UserError(`no such directory: ${o.ignitionDir}`);
  if (!o.ignition && !o.ignitionDir) throw new UserError('nothing to serve to machines: give --ignition FILE or --ignition-dir DIR');
  const images = b.images;
  const assetNames = new Set(Object.values(images).map((i) => i.path));

  const configFile = (mac?: string) => machineFile(o.ignitionDir, mac, ['ign', 'bu']) ?? o.ignition;
  const machineKargs = (mac?: string): string[] => {
    const f = machineFile(o.ignitionDir, mac, ['kargs']);
    const own = f ? readFileSync(f, 'utf8').split(/\s+/).filter(Boolean) : [];
    const all = [...(o.kargs ?? []), ...own];
    if (o.installDev && !all.some((a) => /^(fcos|coreos)\.inst\.install_dev=/.test(a))) all.push(`fcos.inst.install_dev=${o.installDev}`);
    return all;
  };

  let advertise = '';
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const mac = normalizeMac(u.searchParams.get('mac'));
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      log(`pxe: ${req.method} ${req.url} -> ${code}${mac ? ` (${mac})` : ''}`);
    };
    if (u.pathname === '/boot.ipxe') return send(200, `#!ipxe\nchain ${advertise}/ipxe?mac=\${mac:hexhyp}\n`);
    if (u.pathname === '/ipxe') {
      const base = `${advertise}/assets`;
      const cfgUrl = `${advertise}/ignition${mac ? `?mac=${mac}` : ''}`;
      const kargs = machineKargs(mac);
      const dev = kargs.find((a) => /^(fcos|coreos)\.inst\.install_dev=/.test(a))?.split('=')[1];
      const zst = images['metal-zst'];
      if (dev && !zst) return send(500, '#!ipxe\necho fcos pxe serve: this build has no metal-zst image to install\nshell\n');
      const script = ipxeScript({
        base,
        files: { kernel: images['live-kernel']!.path, initramfs: images['live-initramfs']!.path, rootfs: images['live-rootfs']!.path },
        rootfsSha256: images['live-rootfs']!.sha256,
        configUrl: cfgUrl,
        extraArgs: kargs.filter((a) => !/^(fcos|coreos)\.inst\.install_dev=/.test(a)),
        install: dev ? { dev, imageUrl: `${base}/${zst!.path}`, imageSha256: zst!.sha256, ignitionUrl: cfgUrl } : undefined,
      });
      return send(200, script);
    }
    if (u.pathname === '/ignition') {
      const f = configFile(mac);
      if (!f) return send(404, `fcos pxe serve: no config for ${mac ?? 'this machine'} and no default\n`);
      try {
        const cfg = await prepareConfig(f);
        return send(200, cfg.text, 'application/json');
      } catch (e) {
        const msg = e instanceof ConfigRefusedError ? e.message : e instanceof Error ? e.message : String(e);
        return send(403, `fcos pxe serve: ${msg.trim()}\n`);
      }
    }
    if (u.pathname.startsWith('/assets/')) {
      const name = decodeURIComponent(u.pathname.slice('/assets/'.length));
      if (!assetNames.has(name) || name.includes('/')) return send(404, 'not found\n');
      const p = join(b.dir, name);
      const size = statSync(p).size;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      if (req.method === 'HEAD') return res.end();
      const s = createReadStream(p);
      s.pipe(res);
      s.on('error', () => res.destroy());
      res.on('finish', () => log(`pxe: GET ${u.pathname} -> 200 (${size} bytes)${mac ? ` (${mac})` : ''}`));
      return;
    }
    return send(404, 'not found\n');
  };
  const server: Server = createServer((req, res) => {
    handler(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((ok, bad) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      bad(e.code === 'EADDRINUSE' ? new UserError(`port ${o.port} is in use`, 'pick another --http-port') : e),
    );
    server.listen(o.port ?? 0, o.listen ?? '0.0.0.0', () => ok());
  });
  const port = (server.address() as { port: number }).port;
  advertise = (o.advertiseUrl ?? `http://10.0.2.2:${port}`).replace(/\/$/, '');
  if (o.tftpDir) {
    mkdirSync(o.tftpDir, { recursive: true });
    writeFileSync(join(o.tftpDir, 'boot.ipxe'), `#!ipxe\n# fcos pxe serve: chain to the HTTP server\nchain ${advertise}/ipxe?mac=\${mac:hexhyp}\n`);
  }
  // Check what is there now (a machine with a bad config still gets its refusal at boot).
  for (const f of new Set([o.ignition, ...(o.ignitionDir ? ['default.ign', 'default.bu'].map((x) => join(o.ignitionDir!, x)) : [])])) {
    if (f && existsSync(f)) await prepareConfig(f).catch((e: Error) => log(`pxe: warning: ${e.message}`));
  }
  return {
    port,
    url: `http://${o.listen && o.listen !== '0.0.0.0' ? o.listen : '127.0.0.1'}:${port}`,
    advertiseUrl: advertise,
    buildDir: b.dir,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

export { PXE_FILES };
