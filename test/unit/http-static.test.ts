/**
 * lib/http-static.ts, the static-file handler under `fcos serve` and `fcos pxe serve` (issue 17 item 4): request
 * paths that cannot name a file, symlinks out of the served directory, directories, GET/HEAD/other methods, a Range
 * header (the whole file, 200), content types and lengths. The servers' own hostile-input tests
 * (serve-hostile.test.ts, pxe-serve-hostile.test.ts) go through the same functions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refuseMethod, requestPath, sendFile, sendText, staysInside } from '../../lib/http-static.js';

describe('requestPath: what may name a file', () => {
  it('decodes and drops the query', () => {
    expect(requestPath('/repo/objects/ab/c%64.filez?x=1')).toBe('/repo/objects/ab/cd.filez');
    expect(requestPath(undefined)).toBe('/');
    expect(requestPath('/a//b/./c')).toBe('/a/b/c');
  });
  it('refuses .. (plain or %-encoded), NUL and bad escapes', () => {
    for (const bad of ['/../etc/passwd', '/repo/../../x', '/repo/%2e%2e/%2e%2e/etc/passwd', '/a%2F..%2Fb', '/x%00y', '/%E0%A4%A', '/%']) {
      expect(requestPath(bad), bad).toBeUndefined();
    }
  });
});

describe('sendFile, sendText, refuseMethod over HTTP', () => {
  let root: string;
  let outside: string;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'fcos-http-static-'));
    outside = mkdtempSync(join(tmpdir(), 'fcos-http-static-out-'));
    writeFileSync(join(root, 'file.bin'), '0123456789');
    writeFileSync(join(outside, 'secret'), 'secret\n');
    mkdirSync(join(root, 'dir'));
    symlinkSync(join(outside, 'secret'), join(root, 'out-link'));
    symlinkSync('file.bin', join(root, 'in-link'));
    server = createServer((req, res) => {
      if (refuseMethod(req, res, req.url === '/with-body' ? 'only GET and HEAD\n' : undefined)) return;
      const p = requestPath(req.url);
      if (p === '/text') return sendText(req, res, 200, 'héllo\n');
      if (p === '/json') return sendText(req, res, 201, '{}\n', { type: 'application/json', headers: { 'cache-control': 'no-cache' } });
      const size = p === undefined ? undefined : sendFile(req, res, join(root, p), { inside: root, type: p.endsWith('.txt') ? 'text/plain' : undefined });
      if (size === undefined) sendText(req, res, 404, 'not found\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  const get = async (p: string, init?: RequestInit) => {
    const r = await fetch(base + p, init);
    return { status: r.status, text: await r.text(), type: r.headers.get('content-type'), length: r.headers.get('content-length'), allow: r.headers.get('allow') };
  };

  it('GET of a file: 200, octet-stream, its length and bytes', async () => {
    expect(await get('/file.bin')).toMatchObject({ status: 200, text: '0123456789', type: 'application/octet-stream', length: '10' });
  });
  it('HEAD: the same headers, no body', async () => {
    expect(await get('/file.bin', { method: 'HEAD' })).toMatchObject({ status: 200, text: '', type: 'application/octet-stream', length: '10' });
    expect(await get('/text', { method: 'HEAD' })).toMatchObject({ status: 200, text: '', length: String(Buffer.byteLength('héllo\n')) });
  });
  it('a Range header gets the whole file with 200', async () => {
    expect(await get('/file.bin', { headers: { range: 'bytes=2-4' } })).toMatchObject({ status: 200, text: '0123456789', length: '10' });
  });
  it('a symlink out of the served directory, a directory, a missing file, a traversal: not served', async () => {
    for (const p of ['/out-link', '/dir', '/missing', '/%2e%2e/' + outside.split('/').pop() + '/secret', '/..%2Fsecret']) {
      const r = await get(p);
      expect(r.status, p).toBe(404);
      expect(r.text, p).toBe('not found\n');
    }
    expect(staysInside(root, join(root, 'out-link'))).toBe(false);
    expect((await get('/in-link')).text).toBe('0123456789');
  });
  it('texts carry their type and length (UTF-8 bytes)', async () => {
    expect(await get('/text')).toMatchObject({ status: 200, text: 'héllo\n', type: 'text/plain; charset=utf-8', length: '7' });
    expect(await get('/json')).toMatchObject({ status: 201, text: '{}\n', type: 'application/json' });
  });
  it('other methods: 405 with Allow: GET, HEAD, with or without a body', async () => {
    expect(await get('/file.bin', { method: 'POST' })).toMatchObject({ status: 405, text: '', allow: 'GET, HEAD' });
    expect(await get('/with-body', { method: 'DELETE' })).toMatchObject({ status: 405, text: 'only GET and HEAD\n', allow: 'GET, HEAD' });
  });
});
