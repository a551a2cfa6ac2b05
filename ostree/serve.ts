/**
 * `fcos serve`: the update server (issue #6). Plain HTTP, read-only, from a builds directory:
 *
 *   /repo/...             builds/repo (archive ostree repo: summary, config, objects, deltas, refs)
 *   /index.json           the build index (ostree/publish.ts buildIndex): versions, commits, parents, deltas
 *   /builds.json          cosa's builds.json
 *   /<version>/meta.json  a build's metadata
 *   /keys/fcos-updates.gpg the public signing key
 * Anything else (the private key in keys/gnupg, .tmp, .lock, disk images) is 404. Paths with `..` are refused.
 * It counts what it sends (bytes of delta parts, of loose objects, of everything), so tests and bench/upgrade can
 * show that an upgrade downloaded a delta and not the tree.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, normalize, resolve } from 'node:path';
import { UserError } from '../lib/errors.js';
import { buildIndex } from './publish.js';

export interface ServeOptions {
  buildsDir: string;
  /** 0: a free port. */
  port?: number;
  /** Default 0.0.0.0 (a VM on QEMU's user network reaches the host's 127.0.0.1 as 10.0.2.2). */
  host?: string;
  /** Start even when the repo does not exist yet (a test that composes into it later). */
  allowMissingRepo?: boolean;
  /**
   * Hold every loose-object response this long (a slow link, so that a test can cut the power in the middle of a
   * pull). Also settable later through UpdateServer.objectDelayMs. Default 0.
   */
  objectDelayMs?: number;
  /** Called per request (logging). */
  onRequest?: (r: { method: string; path: string; status: number; bytes: number }) => void;
}

export interface ServeStats {
  requests: number;
  bytes: number;
  /** Bytes of static delta parts and superblocks (repo/deltas/). */
  deltaBytes: number;
  /** Bytes of loose objects (repo/objects/). */
  objectBytes: number;
  deltaRequests: number;
  objectRequests: number;
}

export interface UpdateServer {
  port: number;
  host: string;
  /** The base URL for a host on this machine; a QEMU guest uses http://10.0.2.2:PORT. */
  url: string;
  /** The ostree remote URL (…/repo). */
  repoUrl: string;
  stats: ServeStats;
  /** See ServeOptions.objectDelayMs; read at each request. */
  objectDelayMs: number;
  resetStats(): void;
  close(): Promise<void>;
  server: Server;
}

const META_RE = /^\/([A-Za-z0-9._+-]+)\/meta\.json$/;

/** Map a request path to a file of the builds dir, or undefined (404). Exported for tests. */
export function resolveServedPath(buildsDir: string, urlPath: string): string | undefined {
  let p: string;
  try {
    p = decodeURIComponent(urlPath.split('?')[0] ?? '/');
  } catch {
    return undefined;
  }
  if (p.includes('\0') || p.split('/').includes('..')) return undefined;
  p = normalize(p);
  const root = resolve(buildsDir);
  if (p === '/builds.json') return join(root, 'builds.json');
  if (p === '/keys/fcos-updates.gpg') return join(root, 'keys', 'fcos-updates.gpg');
  const m = META_RE.exec(p);
  if (m && !m[1]!.startsWith('.') && m[1] !== 'repo' && m[1] !== 'keys') return join(root, m[1]!, 'meta.json');
  if (p.startsWith('/repo/')) {
    const rel = p.slice('/repo/'.length);
    if (rel === '' || rel.startsWith('tmp/') || rel === 'tmp' || rel.startsWith('.lock')) return undefined;
    return join(root, 'repo', rel);
  }
  return undefined;
}

export function emptyStats(): ServeStats {
  return { requests: 0, bytes: 0, deltaBytes: 0, objectBytes: 0, deltaRequests: 0, objectRequests: 0 };
}

export async function startUpdateServer(o: ServeOptions): Promise<UpdateServer> {
  const buildsDir = resolve(o.buildsDir);
  if (!o.allowMissingRepo && !existsSync(join(buildsDir, 'repo', 'config'))) {
    throw new UserError(`no ostree repository in ${buildsDir} (no repo/config)`, 'run fcos compose (or fcos build) with this --builds first');
  }
  const stats = emptyStats();
  const api = { objectDelayMs: o.objectDelayMs ?? 0 } as UpdateServer;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const done = (status: number, bytes: number) => o.onRequest?.({ method: req.method ?? 'GET', path, status, bytes });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return done(405, 0);
    }
    if (path === '/index.json') {
      const body = JSON.stringify(buildIndex(buildsDir), null, 2) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return done(200, Buffer.byteLength(body));
    }
    const file = resolveServedPath(buildsDir, path);
    let size = -1;
    try {
      if (file) {
        const st = statSync(file);
        if (st.isFile()) size = st.size;
      }
    } catch {
      size = -1;
    }
    if (!file || size < 0) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return done(404, 0);
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size, 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return done(200, 0);
    }
    stats.requests++;
    stats.bytes += size;
    if (path.startsWith('/repo/deltas/')) {
      stats.deltaBytes += size;
      stats.deltaRequests++;
    } else if (path.startsWith('/repo/objects/')) {
      stats.objectBytes += size;
      stats.objectRequests++;
    }
    const send = () => {
      const s = createReadStream(file);
      s.on('error', () => res.destroy());
      s.pipe(res);
      done(200, size);
    };
    const delay = path.startsWith('/repo/objects/') ? api.objectDelayMs : 0;
    if (delay > 0) setTimeout(send, delay);
    else send();
  });
  const host = o.host ?? '0.0.0.0';
  await new Promise<void>((res, rej) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      rej(e.code === 'EADDRINUSE' ? new UserError(`port ${o.port} is in use`, 'pick another --port') : e),
    );
    server.listen(o.port ?? 0, host, () => res());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${shown}:${port}`;
  Object.assign(api, {
    port,
    host,
    url,
    repoUrl: `${url}/repo`,
    stats,
    resetStats: () => Object.assign(stats, emptyStats()),
    close: () => new Promise<void>((r) => server.close(() => r())),
    server,
  });
  return api;
}
