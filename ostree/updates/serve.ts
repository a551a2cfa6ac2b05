/**
 * `fcos serve`: the update server (issue #6). Plain HTTP, read-only, from a builds directory:
 *
 *   /repo/...             builds/repo (archive ostree repo: summary, config, objects, deltas, refs)
 *   /index.json           the build index (./publish.ts buildIndex): versions, commits, parents, deltas
 *   /builds.json          cosa's builds.json
 *   /<version>/meta.json  a build's metadata
 *   /keys/fcos-updates.gpg the public signing key
 * Anything else (the private key in keys/gnupg, .tmp, .lock, disk images) is 404. Paths with `..` are refused, and
 * so is a file whose real path (symlinks resolved) leaves builds/repo (or the builds dir, for the other files).
 * A file the index cannot be made from (builds.json not JSON, a meta.json that is null) is a 500 with a one-line
 * reason; the server keeps serving. Only GET and HEAD (405 otherwise). It listens on 127.0.0.1 unless told otherwise.
 * It counts what it sends (bytes of delta parts, of loose objects, of everything), so tests and bench/upgrade can
 * show that an upgrade downloaded a delta and not the tree.
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { refuseMethod, requestPath, sendFile, sendText } from '../../lib/http-static.js';
import { DEFAULT_BIND, describeBound, listenOn, urlFor } from '../../lib/listen.js';
import { buildIndex } from './publish.js';
import { BuildFileError } from '../builds.js';

export interface ServeOptions {
  buildsDir: string;
  /** 0: a free port. */
  port?: number;
  /** Default 127.0.0.1 (a VM on QEMU's user network reaches it as 10.0.2.2); 0.0.0.0 for every interface. */
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
  /** The address asked for (--host). */
  host: string;
  /** The address really bound (a name resolved), and as text: "127.0.0.1:8080", "0.0.0.0:8080 (every interface)". */
  address: string;
  listening: string;
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
  const p = requestPath(urlPath);
  if (p === undefined) return undefined;
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
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const done = (status: number, bytes: number) => o.onRequest?.({ method: req.method ?? 'GET', path, status, bytes });
    if (refuseMethod(req, res)) return done(405, 0);
    if (path === '/index.json') {
      let body: string;
      try {
        body = JSON.stringify(buildIndex(buildsDir), null, 2) + '\n';
      } catch (e) {
        // One line, paths relative to the builds dir: never the exception's text or a host path.
        sendText(req, res, 500, `fcos serve: ${e instanceof BuildFileError ? e.message : 'cannot make the build index'}\n`);
        return done(500, 0);
      }
      sendText(req, res, 200, body, { type: 'application/json', headers: { 'cache-control': 'no-cache' } });
      return done(200, Buffer.byteLength(body));
    }
    const file = resolveServedPath(buildsDir, path);
    const isObject = path.startsWith('/repo/objects/');
    const size = file
      ? sendFile(req, res, file, {
          // The real path must stay in the tree it is served from: builds/repo for /repo/, the builds dir otherwise.
          inside: path.startsWith('/repo/') ? join(buildsDir, 'repo') : buildsDir,
          headers: { 'cache-control': 'no-cache' },
          delayMs: isObject ? api.objectDelayMs : 0,
          onSent: (bytes) => done(200, bytes),
        })
      : undefined;
    if (size === undefined) {
      sendText(req, res, 404, 'not found\n');
      return done(404, 0);
    }
    if (req.method === 'HEAD') return;
    stats.requests++;
    stats.bytes += size;
    if (path.startsWith('/repo/deltas/')) {
      stats.deltaBytes += size;
      stats.deltaRequests++;
    } else if (isObject) {
      stats.objectBytes += size;
      stats.objectRequests++;
    }
  };
  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch {
      // Whatever went wrong, this request gets a 500 and the server keeps serving.
      if (!res.headersSent) sendText(req, res, 500, 'fcos serve: internal error\n');
      else res.destroy();
    }
  });
  const host = o.host ?? DEFAULT_BIND;
  const bound = await listenOn(server, o.port ?? 0, host, { host: '--host', port: '--port' });
  const port = bound.port;
  const url = urlFor(bound);
  Object.assign(api, {
    port,
    host,
    address: bound.address,
    listening: describeBound(bound),
    url,
    repoUrl: `${url}/repo`,
    stats,
    resetStats: () => Object.assign(stats, emptyStats()),
    close: () => new Promise<void>((r) => server.close(() => r())),
    server,
  });
  return api;
}
