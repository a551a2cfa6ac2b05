/**
 * Host-side tools of the fleet-update checks of the cluster e2e file (issue #18): etcd's JSON gateway (v3 API over
 * https with the cluster's client certificate: no etcdctl process per sample), a watcher that samples every member
 * about once a second, and a writer that keeps committing with retries.
 */
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseUpdatesDump, type UpdatesStatus } from '../../qemu/cluster/updates.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Tls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function clusterTls(dir: string): Tls {
  return { ca: readFileSync(join(dir, 'pki', 'ca.crt')), cert: readFileSync(join(dir, 'pki', 'client.crt')), key: readFileSync(join(dir, 'pki', 'client.key')) };
}

/** One https request to a member's forwarded client port; rejects on any error, a non-200 answer or the time-out. */
export function etcdHttp(tls: Tls, port: number, path: string, body: unknown, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { host: '127.0.0.1', port, path, method: data ? 'POST' : 'GET', ca: tls.ca, cert: tls.cert, key: tls.key, servername: 'localhost', timeout: timeoutMs, headers: data ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let out = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (out += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(out) : reject(new Error(`HTTP ${res.statusCode}: ${out.slice(0, 200)}`))));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
/** The range end of a prefix (etcd's convention: the prefix with its last byte + 1). */
function prefixEnd(p: string): string {
  const b = Buffer.from(p);
  b[b.length - 1]! += 1;
  return b.toString('base64');
}

/** A member answers at all (its process and VM are up): GET /version within 4 s (a loaded TCG guest is slow). */
export async function memberUp(tls: Tls, port: number): Promise<boolean> {
  return etcdHttp(tls, port, '/version', undefined, 4000).then(
    (v) => v.includes('etcdserver'),
    () => false,
  );
}

/** /fcos/updates/ through one member (a linearizable range: quorum needed), parsed like `fcos cluster status`. */
export async function updatesVia(tls: Tls, port: number, nodes: string[], timeoutMs = 3000): Promise<UpdatesStatus> {
  const out = await etcdHttp(tls, port, '/v3/kv/range', { key: b64('/fcos/updates/'), range_end: prefixEnd('/fcos/updates/') }, timeoutMs);
  return parseUpdatesDump(out, nodes);
}

/** /fcos/updates/ through the first member that answers; undefined when none does. */
export async function updates(tls: Tls, ports: number[], nodes: string[]): Promise<UpdatesStatus | undefined> {
  for (const p of ports) {
    const u = await updatesVia(tls, p, nodes).catch(() => undefined);
    if (u && !u.error) return u;
  }
  return undefined;
}

export interface Sample {
  t: number;
  down: string[];
  holders: string[];
}

/**
 * Samples every member (up or down) and the semaphore's holders about once a second until stop(). Holders are read
 * through a member that is up (when none answers, the sample has no holders and says so in `noQuorum`).
 */
export class Watcher {
  readonly samples: Sample[] = [];
  noQuorum = 0;
  private running = true;
  private done: Promise<void>;

  constructor(
    private readonly tls: Tls,
    private readonly members: { name: string; port: number }[],
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const t0 = Date.now();
      const up = await Promise.all(this.members.map((m) => memberUp(this.tls, m.port)));
      const down = this.members.filter((_, i) => !up[i]).map((m) => m.name);
      const u = await updates(
        this.tls,
        this.members.filter((_, i) => up[i]).map((m) => m.port),
        [],
      );
      if (!u) this.noQuorum++;
      this.samples.push({ t: t0, down, holders: (u?.locks ?? []).map((l) => `${l.group}/${l.slot}:${l.node}`) });
      await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /**
   * The most members down at once in `k` samples in a row (the same members in each), with the first sample of
   * that run. A member that misses one sample under load is not a reboot; a reboot keeps it down for a minute.
   */
  maxDown(k = 3): { n: number; at?: Sample } {
    let best: { n: number; at?: Sample } = { n: 0 };
    for (let i = 0; i + k <= this.samples.length; i++) {
      const both = this.samples[i]!.down.filter((m) => this.samples.slice(i + 1, i + k).every((x) => x.down.includes(m)));
      if (both.length > best.n) best = { n: both.length, at: this.samples[i] };
    }
    return best;
  }

  maxHolders(): { n: number; at?: Sample } {
    let best: { n: number; at?: Sample } = { n: 0 };
    for (const s of this.samples) if (s.holders.length > best.n) best = { n: s.holders.length, at: s };
    return best;
  }

  /** Every member seen down at least once (each rebooted). */
  seenDown(): Set<string> {
    return new Set(this.samples.flatMap((s) => s.down));
  }
}

/**
 * Puts fleet/w/<n> (n = 0, 1, …) one after the other until stop(), each through the first member that takes it
 * (3 s per try), retrying the same n until one acknowledges it. `acked` holds every acknowledged n.
 */
export class Writer {
  readonly acked: number[] = [];
  failures = 0;
  private running = true;
  private done: Promise<void>;

  constructor(
    private readonly tls: Tls,
    private readonly ports: number[],
    private readonly prefix = 'fleet/w/',
  ) {
    this.done = this.loop();
  }

  key(n: number): string {
    return `${this.prefix}${String(n).padStart(6, '0')}`;
  }

  private async loop(): Promise<void> {
    let n = 0;
    let next = 0;
    while (this.running) {
      const port = this.ports[next % this.ports.length]!;
      const ok = await etcdHttp(this.tls, port, '/v3/kv/put', { key: b64(this.key(n)), value: b64(String(n)) }, 3000).then(
        (r) => r.includes('"header"'),
        () => false,
      );
      if (ok) {
        this.acked.push(n);
        n++;
        // About one write a second: enough to see a lost one, little load on the TCG members.
        await sleep(1000);
      } else {
        this.failures++;
        next++;
        await sleep(300);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Poll until check() returns a value (not undefined) or the time is up; the last error or state in the throw. */
export async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, everyMs = 2000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s${last ? ` (last: ${last})` : ''}`);
}
