/**
 * Passed on a quiet 2-core host in 7.7 min (its image build included) on 2026-11-27; under load ≈ 15 from other VMs the restart of
 * the killed node once missed the 20-minute `up` time-out.
 *
 * Scenario `etcd-cluster` (issue #8), through the real CLI: `fcos cluster init --nodes 3`, `cluster up` (three TCG VMs
 * on a private multicast segment, booted from the default image), then etcdctl over https with the client certificate
 * from the host, through each node's forwarded client port:
 *   1. member list: 3 started members with https peer URLs; put on node 1 / get on node 3; a watch on node 2 sees a
 *      put on node 1; del;
 *   2. plain http and https without a client certificate are refused (next to the same request with the certificate);
 *   3. node 3 is killed (QEMU stopped without a guest shutdown) after a marker file was written on it: its endpoint
 *      fails while it is down, writes go on through nodes 1 and 2; `cluster up` restarts it on its own disk (a new
 *      boot that still has the marker), it serves the missed write from its own copy, and member list shows 3 started;
 *   4. every node: settled with no failed unit (`systemctl --failed` over SSH), after `up` and again at the end, and a
 *      console with no failure but the one `cluster up` itself tolerates (qemu/cluster/launch.ts CLUSTER_CONSOLE_IGNORE).
 * Boots: 3 first boots (in parallel) + 1 restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BOOT_BUILDS, buildDefaultImage, FCOS, ROOT } from './fcos-cli.js';
import { CLUSTER_CONSOLE_IGNORE } from '../../qemu/cluster/launch.js';
import { ConsoleScanner, describeFailure } from '../../qemu/console.js';
import { sshExec } from '../../qemu/ssh.js';

const B = BOOT_BUILDS;
const DIR = join(ROOT, 'tmp', 'fcos-e2e-cluster', 'etcd');
const NAME = 'e2e-etcd';

interface NodeState {
  pid: number;
  clientPort: number;
  sshPort: number;
  dir: string;
}
let ports: number[] = [];

async function fcos(args: string[], timeoutMs = 10 * 60_000) {
  return execa(FCOS, args, { reject: false, timeout: timeoutMs });
}

function state(): Record<string, NodeState> {
  return (JSON.parse(readFileSync(join(DIR, 'run', 'state.json'), 'utf8')) as { nodes: Record<string, NodeState> }).nodes;
}

function ep(i: number): string {
  return `https://127.0.0.1:${ports[i - 1]}`;
}

const TLS = () => ['--cacert', join(DIR, 'pki', 'ca.crt'), '--cert', join(DIR, 'pki', 'client.crt'), '--key', join(DIR, 'pki', 'client.key')];

/** etcdctl against node i (1-based) with the client certificate; throws unless it exits 0. */
async function etcdctl(i: number, args: string[], extra: { tls?: string[]; endpoint?: string; commandTimeout?: string } = {}) {
  const r = await execa('etcdctl', ['--endpoints', extra.endpoint ?? ep(i), ...(extra.tls ?? TLS()), '--dial-timeout', '10s', '--command-timeout', extra.commandTimeout ?? '30s', ...args], {
    reject: false,
    timeout: 90_000,
    env: { ETCDCTL_API: '3' },
  });
  return r;
}
async function ok(i: number, args: string[]): Promise<string> {
  const r = await etcdctl(i, args);
  if (r.exitCode !== 0) throw new Error(`etcdctl ${args.join(' ')} on node ${i} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

interface Member {
  name?: string;
  peerURLs?: string[];
}
async function members(i: number): Promise<Member[]> {
  return (JSON.parse((await ok(i, ['member', 'list', '-w', 'json'])).replace(/"ID":\s*(\d+)/g, '"ID":"$1"')) as { members: Member[] }).members;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A command on node i over SSH (the login key `cluster init` made); ssh's own failure (exit 255) throws. */
async function onNode(i: number, cmd: string, timeoutMs = 120_000) {
  const r = await sshExec({ key: join(DIR, 'ssh', 'id_ed25519'), port: state()[`${NAME}-${i}`]!.sshPort }, cmd, { timeoutMs });
  if (r.exitCode === 255) throw new Error(`ssh to node ${i} failed running ${cmd}: ${r.stderr}`);
  return r;
}
async function onNodeOk(i: number, cmd: string, timeoutMs?: number): Promise<string> {
  const r = await onNode(i, cmd, timeoutMs);
  if (r.exitCode !== 0) throw new Error(`${cmd} on node ${i} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/** Node i has settled and has no failed unit (systemctl --failed lists none). */
async function expectNoFailedUnits(i: number): Promise<void> {
  await onNode(i, 'timeout 300 systemctl is-system-running --wait', 320_000);
  expect((await onNodeOk(i, 'systemctl --failed --no-legend --plain --no-pager')).trim(), `failed units on node ${i}`).toBe('');
}

/** Node i's whole console (all its boots) through the suite's failure patterns, minus what `cluster up` tolerates. */
function consoleFailures(i: number): string[] {
  const s = new ConsoleScanner({ ignore: CLUSTER_CONSOLE_IGNORE });
  s.feed(readFileSync(join(state()[`${NAME}-${i}`]!.dir, 'console.txt'), 'utf8'));
  s.flush();
  return s.failures.map(describeFailure);
}

describe('etcd-cluster: 3 fcos nodes, etcd over TLS (TCG)', () => {
  beforeAll(async () => {
    mkdirSync(B, { recursive: true });
    await buildDefaultImage(B);
    if (existsSync(join(DIR, 'run', 'state.json'))) await fcos(['cluster', 'down', DIR]);
    rmSync(DIR, { recursive: true, force: true });
    const init = await fcos(['cluster', 'init', '--nodes', '3', '--name', NAME, '--out', DIR, '--json']);
    expect(init.exitCode, init.stderr).toBe(0);
    const up = await fcos(['cluster', 'up', DIR, '--builds', B, '--json', '--timeout', '1500'], 27 * 60_000);
    if (up.exitCode !== 0) throw new Error(`fcos cluster up failed (exit ${up.exitCode}):\n${up.stderr.slice(-4000)}`);
    const r = JSON.parse(up.stdout) as { started: string[]; nodes: { endpoint: string }[] };
    expect(r.started).toEqual([`${NAME}-1`, `${NAME}-2`, `${NAME}-3`]);
    ports = [1, 2, 3].map((i) => state()[`${NAME}-${i}`]!.clientPort);
    expect(r.nodes.map((n) => n.endpoint)).toEqual([1, 2, 3].map(ep));
  });

  afterAll(async () => {
    // FCOS_E2E_KEEP_CLUSTER=1 leaves the VMs running to look at a failure (stop them with fcos cluster down DIR).
    if (existsSync(DIR) && !process.env.FCOS_E2E_KEEP_CLUSTER) {
      const d = await fcos(['cluster', 'down', DIR, '--json']);
      expect(d.exitCode, d.stderr).toBe(0);
      for (const n of Object.values(JSON.parse(d.stdout).stopped as string[])) expect(n).toMatch(new RegExp(`^${NAME}-`));
    }
  });

  it('cluster status --json and member list: 3 started members with https peer URLs', async () => {
    const s = await fcos(['cluster', 'status', DIR, '--json']);
    expect(s.exitCode, s.stderr).toBe(0);
    const st = JSON.parse(s.stdout) as { healthy: boolean; nodes: { healthy: boolean }[]; members: { started: boolean }[] };
    expect(st.healthy).toBe(true);
    expect(st.nodes.map((n) => n.healthy)).toEqual([true, true, true]);
    const m = await members(2);
    expect(m.map((x) => x.name).sort()).toEqual([`${NAME}-1`, `${NAME}-2`, `${NAME}-3`]);
    for (const x of m) expect(x.peerURLs).toEqual([expect.stringMatching(/^https:\/\/10\.88\.0\.1[123]:2380$/)]);
  });

  it('every node: settled, no failed unit, a console without failures', async () => {
    for (const i of [1, 2, 3]) {
      await expectNoFailedUnits(i);
      expect(consoleFailures(i), `console of node ${i}`).toEqual([]);
    }
  });

  it('put on node 1, get on node 3', async () => {
    await ok(1, ['put', 'fcos/greeting', 'hello-from-node-1']);
    expect((await ok(3, ['get', 'fcos/greeting', '--print-value-only'])).trim()).toBe('hello-from-node-1');
  });

  it('a watch on node 2 sees a put made on node 1', async () => {
    const w: ResultPromise = execa('etcdctl', ['--endpoints', ep(2), ...TLS(), 'watch', 'fcos/watched'], { reject: false, env: { ETCDCTL_API: '3' }, timeout: 180_000 });
    let out = '';
    w.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      // The watch may need a moment to be established: put again until it reports (each put has its own value).
      let seen = '';
      for (let i = 1; i <= 20 && !seen; i++) {
        await ok(1, ['put', 'fcos/watched', `v${i}`]);
        await sleep(2000);
        seen = /^PUT\nfcos\/watched\n(v\d+)$/m.exec(out)?.[1] ?? '';
      }
      expect(out).toMatch(/^PUT\nfcos\/watched\nv\d+$/m);
    } finally {
      w.kill();
      await w;
    }
  });

  it('del works', async () => {
    expect((await ok(1, ['del', 'fcos/greeting'])).trim()).toBe('1');
    // (The host's etcdctl 3.4 has no --count-only: an absent key prints nothing.)
    expect((await ok(3, ['get', 'fcos/greeting'])).trim()).toBe('');
  });

  it('security: plain http and https without a client certificate are refused', async () => {
    const port = ports[0]!;
    const ca = join(DIR, 'pki', 'ca.crt');
    // Control: with the client certificate the same request works.
    const good = await execa('curl', ['-sS', '--max-time', '30', '--cacert', ca, '--cert', join(DIR, 'pki', 'client.crt'), '--key', join(DIR, 'pki', 'client.key'), `https://127.0.0.1:${port}/version`], { reject: false });
    expect(good.exitCode, good.stderr).toBe(0);
    expect(good.stdout).toContain('etcdserver');
    // Refused requests wait out their timeouts (etcd's TLS port holds a plain request open): 8 s each is plenty on a
    // port that answered the control request at once.
    const plain = await execa('curl', ['-sS', '--max-time', '8', '-w', '\n%{http_code}', `http://127.0.0.1:${port}/version`], { reject: false });
    expect(plain.stdout).not.toContain('etcdserver');
    expect(plain.exitCode !== 0 || /\n400$/.test(plain.stdout), `plain http: exit ${plain.exitCode} ${plain.stdout}`).toBe(true);
    const noCert = await execa('curl', ['-sS', '--max-time', '8', '--cacert', ca, `https://127.0.0.1:${port}/version`], { reject: false });
    expect(noCert.exitCode).not.toBe(0);
    expect(noCert.stdout).not.toContain('etcdserver');
    // etcdctl likewise.
    const httpCtl = await etcdctl(1, ['get', 'x'], { endpoint: `http://127.0.0.1:${port}`, tls: [], commandTimeout: '8s' });
    expect(httpCtl.exitCode).not.toBe(0);
    const noCertCtl = await etcdctl(1, ['get', 'x'], { tls: ['--cacert', ca], commandTimeout: '8s' });
    expect(noCertCtl.exitCode).not.toBe(0);
  });

  it('node loss: node 3 down fails its endpoint, writes go on with 2 of 3; restarted on its own disk, it catches up; 3 started members again', async () => {
    const victim = `${NAME}-3`;
    const { pid } = state()[victim]!;
    // A marker on node 3's disk (its overlay), synced: the restart must boot the same disk, not a fresh overlay.
    const bootBefore = (await onNodeOk(3, 'cat /proc/sys/kernel/random/boot_id')).trim();
    expect(bootBefore).toMatch(/^[0-9a-f-]{36}$/);
    await onNodeOk(3, 'cat /proc/sys/kernel/random/boot_id > ~/fcos-e2e-marker && sync');
    expect((await etcdctl(3, ['endpoint', 'health'])).exitCode, 'node 3 healthy before the kill').toBe(0);
    // QEMU stops without a guest shutdown (power loss for the guest; QEMU itself flushes the overlay).
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await sleep(200);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    const down = await fcos(['cluster', 'status', DIR, '--json']);
    expect(down.exitCode).toBe(1);
    expect((JSON.parse(down.stdout) as { nodes: { name: string; running: boolean }[] }).nodes.find((n) => n.name === victim)!.running).toBe(false);
    // Its endpoint fails while it is down (nothing listens on its forwarded port), next to node 1's that answers.
    const dead = await etcdctl(3, ['endpoint', 'health']);
    expect(dead.exitCode, `etcdctl endpoint health on node 3 while it is down: ${dead.stdout}${dead.stderr}`).not.toBe(0);
    expect(`${dead.stdout}${dead.stderr}`).toMatch(/unhealthy|connection refused|deadline exceeded|connection reset|EOF/i);
    expect((await etcdctl(1, ['endpoint', 'health'])).exitCode, 'node 1 healthy while node 3 is down').toBe(0);

    await ok(1, ['put', 'fcos/while-down', 'written-with-2-of-3']);
    expect((await ok(2, ['get', 'fcos/while-down', '--print-value-only'])).trim()).toBe('written-with-2-of-3');

    const up = await fcos(['cluster', 'up', DIR, '--builds', B, '--json', '--timeout', '1200'], 22 * 60_000);
    if (up.exitCode !== 0) throw new Error(`fcos cluster up (restart) failed (exit ${up.exitCode}):\n${up.stderr.slice(-4000)}`);
    const r = JSON.parse(up.stdout) as { started: string[]; alreadyRunning: string[] };
    expect(r.started).toEqual([victim]);
    expect(r.alreadyRunning.sort()).toEqual([`${NAME}-1`, `${NAME}-2`]);
    // Serializable read: node 3 answers from its own copy, so the missed write reached it.
    let got = '';
    for (let i = 0; i < 30 && got !== 'written-with-2-of-3'; i++) {
      got = (await etcdctl(3, ['get', 'fcos/while-down', '--print-value-only', '--consistency=s'])).stdout.trim();
      if (got !== 'written-with-2-of-3') await sleep(2000);
    }
    expect(got).toBe('written-with-2-of-3');
    const m = await members(3);
    expect(m.filter((x) => x.name).length).toBe(3);
    const s = await fcos(['cluster', 'status', DIR, '--json']);
    expect(s.exitCode, s.stdout).toBe(0);
    expect(JSON.parse(s.stdout).healthy).toBe(true);
    // The same disk: a new boot that still has the marker written before the kill.
    const bootAfter = (await onNodeOk(3, 'cat /proc/sys/kernel/random/boot_id')).trim();
    expect(bootAfter).not.toBe(bootBefore);
    expect((await onNodeOk(3, 'cat ~/fcos-e2e-marker')).trim()).toBe(bootBefore);
    // And at the end: no failed unit, no console failure on any node (node 3's console has both boots).
    for (const i of [1, 2, 3]) {
      await expectNoFailedUnits(i);
      expect(consoleFailures(i), `console of node ${i}`).toEqual([]);
    }
  });
});
