/**
 * The one static-file handler of fcos's HTTP servers (`fcos serve`: ostree/updates/serve.ts; `fcos pxe serve`:
 * images/pxe-serve.ts): which methods are answered, how a request path becomes a file, and how a file or a short text
 * is sent.
 *
 * - Only GET and HEAD (405 with `Allow: GET, HEAD` otherwise). HEAD gets the headers GET would (the length included),
 *   without a body.
 * - A request path names a file only when it decodes, has no NUL and no `..` segment; the file's real path (symlinks
 *   resolved) must stay inside the served directory, and it must be a regular file: anything else is the caller's 404.
 * - Files go out as `application/octet-stream` (or the type the caller names) with their length; a read error after
 *   the headers ends the connection (the client sees a short body, never a wrong one). Texts are sent with their length.
 * - Range requests are not honoured: a `Range` header gets the whole file with 200, which HTTP allows; none of fcos's
 *   clients (ostree, iPXE, curl in the PXE initramfs) asks for one.
 */
import { createReadStream, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalize, sep } from 'node:path';

export const OCTET_STREAM = 'application/octet-stream';
export const PLAIN_TEXT = 'text/plain; charset=utf-8';

/** GET and HEAD pass (false). Anything else is answered here with 405 and `Allow: GET, HEAD` (and `body`): true. */
export function refuseMethod(req: IncomingMessage, res: ServerResponse, body?: string): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  if (body === undefined) res.writeHead(405, { allow: 'GET, HEAD' }).end();
  else sendText(req, res, 405, body, { headers: { allow: 'GET, HEAD' } });
  return true;
}

/**
 * The path of a request URL ("/repo/config?x" → "/repo/config"), decoded and normalized; undefined when it cannot
 * name a file: a bad %-escape, a NUL, a `..` segment (also as %2e%2e).
 */
export function requestPath(url: string | undefined): string | undefined {
  let p: string;
  try {
    p = decodeURIComponent((url ?? '/').split('?')[0] ?? '/');
  } catch {
    return undefined;
  }
  if (p.includes('\0') || p.split('/').includes('..')) return undefined;
  return normalize(p);
}

/** Is `file`'s real path inside `dir`'s real path? (Symlinks out of the served tree are not followed.) */
export function staysInside(dir: string, file: string): boolean {
  try {
    const root = realpathSync(dir);
    const real = realpathSync(file);
    return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
  } catch {
    return false;
  }
}

/** A short body (a message, a script, a JSON document) with its length; HEAD gets the headers only. */
export function sendText(req: IncomingMessage, res: ServerResponse, status: number, body: string, o: { type?: string; headers?: Record<string, string> } = {}): void {
  res.writeHead(status, { 'content-type': o.type ?? PLAIN_TEXT, 'content-length': Buffer.byteLength(body), ...o.headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export interface SendFileOptions {
  /** The file's real path must stay inside this directory. */
  inside?: string;
  /** Default application/octet-stream. */
  type?: string;
  headers?: Record<string, string>;
  /** Hold the body back this long (a slow link, for tests that cut power in the middle of a pull). */
  delayMs?: number;
  /** Called when the body has been handed to the connection (GET) or the headers sent (HEAD). */
  onSent?: (bytes: number) => void;
}

/**
 * Send a regular file: 200 with its type and length, the body for GET. Returns the size, or undefined when there is
 * no regular file there (or its real path leaves `inside`): nothing has been sent then, the caller answers.
 */
export function sendFile(req: IncomingMessage, res: ServerResponse, file: string, o: SendFileOptions = {}): number | undefined {
  let size: number;
  try {
    if (o.inside !== undefined && !staysInside(o.inside, file)) return undefined;
    const st = statSync(file);
    if (!st.isFile()) return undefined;
    size = st.size;
  } catch {
    return undefined;
  }
  res.writeHead(200, { 'content-type': o.type ?? OCTET_STREAM, 'content-length': size, ...o.headers });
  if (req.method === 'HEAD') {
    res.end();
    o.onSent?.(0);
    return size;
  }
  const send = () => {
    const s = createReadStream(file);
    s.on('error', () => res.destroy());
    s.pipe(res);
    o.onSent?.(size);
  };
  if (o.delayMs && o.delayMs > 0) setTimeout(send, o.delayMs);
  else send();
  return size;
}
