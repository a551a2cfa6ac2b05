/**
 * Listening with an HTTP server (`fcos serve`, `fcos pxe serve`): the mistakes a user can make with a host or a port
 * (a name that does not resolve, an address that is not this machine's, a port in use or out of range) are
 * UserErrors, and the address that was really bound is reported.
 */
import type { Server } from 'node:http';
import { isIP } from 'node:net';
import { UserError } from './errors.js';

export interface Bound {
  /** The address the socket is bound to (0.0.0.0 or :: for every interface). */
  address: string;
  port: number;
  family: string;
}

/** The default bind address of fcos's servers: the host itself (a QEMU guest on user networking reaches it as 10.0.2.2). */
export const DEFAULT_BIND = '127.0.0.1';

/** Is this port number usable for listen()? (0: a free port.) */
export function checkPort(port: number | undefined, flag: string): void {
  if (port === undefined) return;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UserError(`${flag} must be a TCP port, 0 to 65535 (got ${port})`, `0 picks a free port; e.g. ${flag} 8080`);
  }
}

/** Listen on host:port; user mistakes become UserErrors naming the flag. */
export async function listenOn(server: Server, port: number, host: string, flags: { host: string; port: string }): Promise<Bound> {
  checkPort(port, flags.port);
  if (!host.trim()) throw new UserError(`${flags.host} is empty`, `e.g. ${flags.host} ${DEFAULT_BIND}`);
  await new Promise<void>((ok, bad) => {
    // Kept after listen() succeeded: a later server error (an accept() that fails with EMFILE) must not end the
    // process; the promise is settled by then, so it is ignored.
    server.on('error', (e: NodeJS.ErrnoException) => bad(listenError(e, port, host, flags)));
    try {
      server.listen(port, host, () => ok());
    } catch (e) {
      bad(listenError(e as NodeJS.ErrnoException, port, host, flags));
    }
  });
  const a = server.address();
  if (!a || typeof a !== 'object') return { address: host, port, family: 'IPv4' };
  return { address: a.address, port: a.port, family: a.family };
}

function listenError(e: NodeJS.ErrnoException, port: number, host: string, flags: { host: string; port: string }): Error {
  switch (e.code) {
    case 'EADDRINUSE':
      return new UserError(`port ${port} is in use on ${host}`, `pick another ${flags.port} (0: a free one)`);
    case 'EACCES':
      return new UserError(`no permission to listen on port ${port}`, `ports below 1024 need root; pick another ${flags.port}`);
    case 'EADDRNOTAVAIL':
      return new UserError(`${host} is not an address of this machine`, `${flags.host} takes one of this machine's addresses, 127.0.0.1 (the default) or 0.0.0.0 (every interface)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return new UserError(
        isIP(host) ? `${host} is not a valid address` : looksLikeIPv4(host) ? `${host} is not a valid IPv4 address` : `cannot resolve ${host}`,
        `${flags.host} takes an IP address of this machine (127.0.0.1, the default, or 0.0.0.0 for every interface) or a name that resolves to one`,
      );
    case 'ERR_SOCKET_BAD_PORT':
      return new UserError(`${flags.port} must be a TCP port, 0 to 65535 (got ${port})`, `0 picks a free port`);
    case 'EINVAL':
      return new UserError(`cannot listen on ${host} port ${port}`, `check ${flags.host} and ${flags.port}`);
  }
  return e;
}

function looksLikeIPv4(h: string): boolean {
  return /^\d+(\.\d+){1,3}$/.test(h);
}

/** Loopback addresses: 127.0.0.0/8, ::1 and IPv4-mapped 127/8. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  if (a === '::1' || a === 'localhost') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** A URL for a bound address: a wildcard bind is reached at 127.0.0.1 from this host. */
export function urlFor(b: Bound): string {
  const host = b.address === '0.0.0.0' || b.address === '::' ? '127.0.0.1' : b.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${b.port}`;
}

/** "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080 (every interface)". */
export function describeBound(b: Bound): string {
  const hp = `${b.address.includes(':') ? `[${b.address}]` : b.address}:${b.port}`;
  return b.address === '0.0.0.0' || b.address === '::' ? `${hp} (every interface)` : hp;
}
