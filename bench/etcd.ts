/**
 * bench/etcd (run by the bench/etcd wrapper): a fixed number of puts against the fcos cluster and against one local etcd process on this host (same
 * run, same TLS settings: https with client-cert auth, the cluster's CA and certificates), and the ratio.
 * The load: N puts of 256-byte values through etcd's JSON gateway (POST /v3/kv/put) over keep-alive https
 * connections with C in flight, so no process start per request is measured. Recorded, not a gate: under TCG the
 * cluster is expected to be far slower.
 *
 * Usage: bench/etcd [--dir DIR] [--puts N] [--concurrency C] [--builds D] [--json]
 *   --dir: a cluster that is up (fcos cluster up DIR). Without it a 3-node cluster is made in tmp/fcos-bench-etcd,
 *   brought up from the latest build, measured, and brought down again.
 */
import { Agent, request } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { buildsDir } from '../lib/paths.js';
import { spawnProcess } from '../lib/run.js';
import { clusterPaths, etcdctl, loadCluster, readState } from '../qemu/cluster/dir.js';
import { initCluster } from '../qemu/cluster/init.js';
import { downCluster, upCluster } from '../qemu/cluster/launch.js';
import { freePort } from '../qemu/net.js';
import { CheckError, UserError } from '../lib/errors.js';
import { benchMain } from './main.js';

interface Tls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function put(agent: Agent, endpoint: string, key: string, value: string): Promise<void> {
  const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') });
  const u = new URL('/v3/kv/put', endpoint);
  return new Promise((resolveP, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolveP() : reject(new CheckError(`put ${key}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`))));
    });
    req.setTimeout(60_000, () => req.destroy(new CheckError(`put ${key}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function load(endpoint: string, tls: Tls, puts: number, concurrency: number, prefix: string): Promise<{ seconds: number; putsPerSec: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: tls.ca, cert: tls.cert, key: tls.key });
  const value = 'v'.repeat(256);
  // Warm-up: connections and the first request.
  await put(agent, endpoint, `${prefix}/warmup`, value);
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < puts) {
        const i = next++;
        await put(agent, endpoint, `${prefix}/${i}`, value);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  return { seconds, putsPerSec: puts / seconds };
}

async function main(): Promise<string> {
  const { values } = parseArgs({
    options: { dir: { type: 'string' }, puts: { type: 'string', default: '500' }, concurrency: { type: 'string', default: '8' }, builds: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const puts = Number(values.puts);
  const concurrency = Number(values.concurrency);
  let dir = values.dir ? resolve(values.dir) : undefined;
  const own = !dir;
  if (!dir) {
    dir = resolve('tmp', 'fcos-bench-etcd');
    if (readState(dir)) await downCluster(dir).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await initCluster({ nodes: 3, name: 'bench-etcd', out: dir });
    process.stderr.write('bench/etcd: booting a 3-node cluster (TCG: several minutes)\n');
    await upCluster(dir, { buildsDir: buildsDir(values.builds), timeoutSec: 1500 });
  }
  const p = clusterPaths(dir);
  const c = loadCluster(dir);
  const st = readState(dir);
  if (!st) throw new UserError(`the cluster in ${dir} is not up`, `fcos cluster up ${dir}`);
  const endpoints = c.nodes.map((n) => `https://127.0.0.1:${st.nodes[n.name]!.clientPort}`);
  const tls: Tls = { ca: readFileSync(join(p.pki, 'ca.crt')), cert: readFileSync(join(p.pki, 'client.crt')), key: readFileSync(join(p.pki, 'client.key')) };

  // The leader takes the writes (a follower would forward them).
  let endpoint = endpoints[0]!;
  const s = await etcdctl(dir, endpoints, ['endpoint', 'status', '-w', 'json']);
  if (s.exitCode === 0) {
    const rows = JSON.parse(s.stdout.replace(/"(leader|member_id)":\s*(\d+)/g, '"$1":"$2"')) as { Endpoint: string; Status: { leader: string; header: { member_id: string } } }[];
    endpoint = rows.find((r) => r.Status.leader === r.Status.header.member_id)?.Endpoint ?? endpoint;
  }

  // One local etcd on this host with the same TLS settings (node 1's certificate has 127.0.0.1 in its SANs).
  const data = mkdtempSync(join(tmpdir(), 'fcos-bench-etcd-'));
  const [cport, pport] = [await freePort(), await freePort()];
  const node1 = c.nodes[0]!.name;
  const local = await spawnProcess('etcd', [
    '--name', 'local', '--data-dir', data,
    '--listen-client-urls', `https://127.0.0.1:${cport}`, '--advertise-client-urls', `https://127.0.0.1:${cport}`,
    '--listen-peer-urls', `http://127.0.0.1:${pport}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${pport}`,
    '--initial-cluster', `local=http://127.0.0.1:${pport}`,
    '--cert-file', join(p.pki, `${node1}.crt`), '--key-file', join(p.pki, `${node1}.key`), '--trusted-ca-file', join(p.pki, 'ca.crt'), '--client-cert-auth',
  ], { purpose: 'local etcd for the bench' });
  try {
    const localEp = `https://127.0.0.1:${cport}`;
    for (let i = 0; ; i++) {
      if ((await etcdctl(dir, [localEp], ['endpoint', 'health'])).exitCode === 0) break;
      if (local.exit || i > 60) throw local.exitError('local etcd did not come up');
      await new Promise((r) => setTimeout(r, 500));
    }
    const cluster = await load(endpoint, tls, puts, concurrency, 'bench/cluster');
    const single = await load(localEp, tls, puts, concurrency, 'bench/local');
    const result = {
      puts,
      concurrency,
      valueBytes: 256,
      cluster: { nodes: c.nodes.length, endpoint, seconds: round(cluster.seconds), putsPerSec: round(cluster.putsPerSec) },
      local: { seconds: round(single.seconds), putsPerSec: round(single.putsPerSec) },
      ratio: round(cluster.putsPerSec / single.putsPerSec, 4),
    };
    if (values.json) return JSON.stringify(result, null, 2);
    return [
      `bench/etcd: ${puts} puts of 256 B, ${concurrency} in flight, https with client certificates`,
      `  cluster (${c.nodes.length} fcos VMs, TCG): ${result.cluster.putsPerSec} puts/s (${result.cluster.seconds} s)`,
      `  local etcd (one process, this host): ${result.local.putsPerSec} puts/s (${result.local.seconds} s)`,
      `  ratio cluster/local: ${result.ratio}`,
      '',
    ].join('\n');
  } finally {
    await local.stop(3000);
    rmSync(data, { recursive: true, force: true });
    if (own) await downCluster(dir);
  }
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

benchMain('bench/etcd', import.meta.url, main);
