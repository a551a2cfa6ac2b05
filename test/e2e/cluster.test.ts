/**
 * Scenario `etcd-cluster` (issue #8) and fleet updates (issue #18), through the real CLI: `fcos cluster init --nodes 3
 * --update-url …` (STRATEGY etcd-lock), `cluster up` (three TCG VMs on a private multicast segment, booted from the
 * default image), then etcdctl over https with the client certificate from the host, through each node's forwarded
 * client port:
 *   1. member list: 3 started members with https peer URLs; put on node 1 / get on node 3; a watch on node 2 sees a
 *      put on node 1; del;
 *   2. plain http and https without a client certificate are refused (next to the same request with the certificate);
 *   3. every node: settled with no failed unit (`systemctl --failed` over SSH), after `up` and again at the end, and a
 *      console with no failure but the one `cluster up` itself tolerates (qemu/cluster/launch.ts CLUSTER_CONSOLE_IGNORE);
 *   4. fleet v2 (the test adds LOCK_POLL_SEC=3, BOOT_TRIES=2, HEALTH_TIMEOUT=60, LOCK_TTL=110 to update.conf and
 *      triggers `fcos-update auto` on every node at once), published by `fcos serve`: the first holder stages and
 *      reboots; the second is power-cut (QEMU stopped without a guest shutdown) in its reboot, once its new boot's etcd
 *      answers.
 *      Node loss: its endpoint fails, writes go on with 2 of 3. Its slot comes back only by the lease TTL; the third
 *      node takes it, stages v2 and holds its reboot (`fcos-update status`: no quorum, the cut node down). `cluster up`
 *      restarts the cut node on its own disk (a new boot with the marker written before), it serves the missed write
 *      from its own copy; then the third node reboots, and all end on v2, healthy, semaphore empty. Throughout, a
 *      watcher (each member's /version and the holders, about every second) sees never two members down (3 samples
 *      in a row) nor two holders, each node down once; a writer (one put a second, retried on the next member) loses
 *      no acknowledged write (each node's own copy has them all);
 *   5. fleet v3 with a failing health check (BOOT_TRIES=1, LOCK_TTL=600): the first holder falls back to v2 and marks
 *      v3 failed; the other two halt on the marker, never stage v3 (no deployment, not in last-upgrade, at most its
 *      commit object); `cluster status` lists v3 failed.
 * Each fleet case records its nodes' in-guest reboots (their journals' boot lists) for tmp/test-report.json.
 * Boots: 3 first boots (in parallel) + 1 restart (the cut node); in-guest reboots: 2 (v2) + 2 (v3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BOOT_BUILDS, buildDefaultImage, FCOS, ROOT } from './fcos-cli.js';
import { clusterTls, memberUp, until, updates, Watcher, Writer, type Tls } from './fleet.js';
import { forkBuildsDir, type BuildMeta } from '../../ostree/builds.js';
import { derivedManifest } from '../../ostree/manifest.js';
import { freePort } from '../../qemu/net.js';
import { CLUSTER_CONSOLE_IGNORE } from '../../qemu/cluster/launch.js';
import { ConsoleScanner, describeFailure } from '../../qemu/console.js';
import { sshExec } from '../../qemu/ssh.js';
import { recordReboot } from '../../qemu/vm-spec.js';
import { parseStatus } from '../scenarios/upgrade-run.js';

const B = BOOT_BUILDS;
const DIR = join(ROOT, 'tmp', 'fcos-e2e-cluster', 'etcd');
const NAME = 'e2e-etcd';
/**
 * Fleet updates (issue #18): U1 serves B's latest only (what the nodes see until the test publishes), U2 gets v2, U3
 * (a fork of U2 at v2, so that the server of U2 never shows it early) gets v3.
 */
const FLEET = join(ROOT, 'tmp', 'fcos-e2e-cluster', 'fleet');
const U1 = join(FLEET, 'builds-v1');
const U2 = join(FLEET, 'builds');
const U3 = join(FLEET, 'builds-v3');
/**
 * The lease TTL of a slot in the v2 case (appended to update.conf there): longer than a node's reboot up to the
 * health service's first renewal under TCG, so that a living holder keeps its slot (with cold reboots, from the
 * reboot's start to etcd in the new boot 53-60 s, to the end of the health checks 75-85 s, measured 2026-12-05; warm
 * reboots took 96-129 s); the slot of the power-cut holder comes back after it. Were it shorter, the quorum guard
 * would still keep the next holder from rebooting while the first is down. v3 goes back to the default (600 s): a trial boot, its failed checks and the
 * fallback boot take longer, and the marker must be written before anyone else holds the slot.
 */
const LOCK_TTL = 110;
const MIN = 60_000;

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


/* ---------- fleet updates (issue #18) ---------- */

let v1: BuildMeta;
let updPort = 0;
let serve: ResultPromise | undefined;
let composingV2: Promise<Composed>;
let composingV3: Promise<Composed>;
const composed: Record<string, Composed> = {};
type Composed = { version: string; commit: string; parent?: string; changed: boolean };

/** `fcos serve` of a builds dir on updPort (the nodes' URL http://10.0.2.2:updPort/repo). */
function serveUpdates(builds: string): ResultPromise {
  const p = execa(FCOS, ['serve', '--builds', builds, '--port', String(updPort), '--host', '127.0.0.1'], { reject: false, all: true, buffer: true });
  p.catch(() => undefined);
  return p;
}
async function waitServing(): Promise<void> {
  await until('fcos serve answers', 60_000, async () => ((await fetch(`http://127.0.0.1:${updPort}/index.json`).then((r) => r.ok, () => false)) ? true : undefined), 300);
}

/** A layered compose into a builds dir: the default manifest plus /usr/share/fcos-fleet/version (and v3's broken check). */
async function composeVersion(name: 'v2' | 'v3', builds: string): Promise<Composed> {
  const files: Record<string, string | { text: string; mode: number }> = { 'usr/share/fcos-fleet/version': `${name}\n` };
  // v3's required health check fails: the first node that boots it falls back and marks v3 failed in etcd.
  if (name === 'v3') files['usr/lib/fcos/health.d/50-fleet-broken'] = { text: '#!/bin/sh\necho "fleet e2e: v3 is broken on purpose" >&2\nexit 1\n', mode: 0o755 };
  const manifest = derivedManifest(join(FLEET, `manifest-${name}`), { files });
  const r = await execa(FCOS, ['compose', '--manifest', manifest, '--builds', builds, '--json'], {
    reject: false,
    env: { SOURCE_DATE_EPOCH: String(v1['source-date-epoch']), FCOS_APT_MAX_AGE: String(30 * 24 * 3600) },
  });
  if (r.exitCode !== 0) throw new Error(`fcos compose ${name} failed (${r.exitCode}):\n${String(r.stderr).slice(-3000)}`);
  const c = JSON.parse(String(r.stdout)) as Composed;
  expect(c.changed, `${name} is a new commit`).toBe(true);
  composed[name] = c;
  return c;
}

const NODES = [1, 2, 3].map((i) => `${NAME}-${i}`);
const nodePorts = () => [1, 2, 3].map((i) => ({ name: `${NAME}-${i}`, port: state()[`${NAME}-${i}`]!.clientPort }));
const clientPorts = () => nodePorts().map((m) => m.port);
let tls: Tls;

/** Every node: fcos-update auto now (what its timer does), after forgetting when it last checked. */
async function triggerAll(nodes = [1, 2, 3]): Promise<void> {
  for (const i of nodes) await onNodeOk(i, 'sudo rm -f /var/lib/fcos-update/last-check && sudo systemctl start --no-block fcos-update.service');
}

/** fcos-update status of node i as KEY: value lines. */
async function updateStatus(i: number): Promise<Record<string, string>> {
  return parseStatus(await onNodeOk(i, 'sudo fcos-update status'));
}

/** Each node's boots so far (its persistent journal's boot list), for the in-guest reboots of a case. */
async function bootCounts(nodes = [1, 2, 3]): Promise<Map<number, number>> {
  const m = new Map<number, number>();
  for (const i of nodes) m.set(i, Number((await onNodeOk(i, 'sudo journalctl --list-boots -q --no-pager | wc -l')).trim()));
  return m;
}
/** Record the nodes' in-guest reboots since `before` in $FCOS_BOOT_LOG (tmp/test-report.json counts them per test). */
async function recordReboots(before: Map<number, number>, extra: string[] = []): Promise<number> {
  const after = await bootCounts([...before.keys()]);
  let n = 0;
  const test = expect.getState().currentTestName;
  for (const [i, b] of before) for (let k = 0; k < after.get(i)! - b; k++, n++) recordReboot(`${NAME}-${i}`, { test });
  for (const vm of extra) recordReboot(vm, { test }), n++;
  return n;
}

/** Until every node reports `version` booted and healthy in etcd, with the semaphore empty. */
async function allOn(version: string, timeoutMs: number, nodes = NODES): Promise<void> {
  await until(`every node (${nodes.join(', ')}) on ${version}, healthy, semaphore empty`, timeoutMs, async () => {
    const u = await updates(tls, clientPorts(), NODES);
    if (!u) throw new Error('no member answers');
    const bad = nodes.filter((n) => {
      const r = u.nodes.find((x) => x.node === n);
      return !r || r.booted !== version || !r.health.startsWith('healthy');
    });
    if (bad.length || u.locks.length) throw new Error(`not yet: ${JSON.stringify({ nodes: u.nodes.map((x) => [x.node, x.booted, x.staged, x.health.slice(0, 40)]), locks: u.locks })}`);
    return true;
  });
}

describe('etcd-cluster: 3 fcos nodes, etcd over TLS (TCG)', () => {
  beforeAll(async () => {
    mkdirSync(B, { recursive: true });
    v1 = await buildDefaultImage(B);
    // A fresh image build leaves gigabytes of dirty pages: written back while three TCG VMs boot on two cores, it
    // stalled one guest for seconds at a time (2026-12-04: a 7 s clocksource readout, 80 s of guest time with no
    // progress, systemd-networkd's start timed out on node 3). Write it back first.
    await execa('sync');
    if (existsSync(join(DIR, 'run', 'state.json'))) await fcos(['cluster', 'down', DIR]);
    rmSync(DIR, { recursive: true, force: true });
    // The update server the nodes know from the start, with v1 only: their first timer runs find nothing to do. v2
    // is composed meanwhile into U2 (a fork of the same build, so a layered child of v1 signed with the key it trusts).
    rmSync(FLEET, { recursive: true, force: true });
    await forkBuildsDir(B, U1);
    await forkBuildsDir(B, U2);
    updPort = await freePort();
    serve = serveUpdates(U1);
    composingV2 = composeVersion('v2', U2);
    composingV2.catch(() => undefined);
    const init = await fcos(['cluster', 'init', '--nodes', '3', '--name', NAME, '--out', DIR, '--json', '--update-url', `http://10.0.2.2:${updPort}/repo`]);
    expect(init.exitCode, init.stderr).toBe(0);
    const up = await fcos(['cluster', 'up', DIR, '--builds', B, '--json', '--timeout', '1500'], 27 * 60_000);
    if (up.exitCode !== 0) throw new Error(`fcos cluster up failed (exit ${up.exitCode}):\n${up.stderr.slice(-4000)}`);
    const r = JSON.parse(up.stdout) as { started: string[]; nodes: { endpoint: string }[] };
    expect(r.started).toEqual([`${NAME}-1`, `${NAME}-2`, `${NAME}-3`]);
    ports = [1, 2, 3].map((i) => state()[`${NAME}-${i}`]!.clientPort);
    expect(r.nodes.map((n) => n.endpoint)).toEqual([1, 2, 3].map(ep));
  });

  afterAll(async () => {
    serve?.kill('SIGTERM');
    await serve?.catch(() => undefined);
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
    await Promise.all(
      [1, 2, 3].map(async (i) => {
        await expectNoFailedUnits(i);
        expect(consoleFailures(i), `console of node ${i}`).toEqual([]);
      }),
    );
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
    // The four at once (curl and etcdctl likewise).
    const [plain, noCert, httpCtl, noCertCtl] = await Promise.all([
      execa('curl', ['-sS', '--max-time', '8', '-w', '\n%{http_code}', `http://127.0.0.1:${port}/version`], { reject: false }),
      execa('curl', ['-sS', '--max-time', '8', '--cacert', ca, `https://127.0.0.1:${port}/version`], { reject: false }),
      etcdctl(1, ['get', 'x'], { endpoint: `http://127.0.0.1:${port}`, tls: [], commandTimeout: '8s' }),
      etcdctl(1, ['get', 'x'], { tls: ['--cacert', ca], commandTimeout: '8s' }),
    ]);
    expect(plain.stdout).not.toContain('etcdserver');
    expect(plain.exitCode !== 0 || /\n400$/.test(plain.stdout), `plain http: exit ${plain.exitCode} ${plain.stdout}`).toBe(true);
    expect(noCert.exitCode).not.toBe(0);
    expect(noCert.stdout).not.toContain('etcdserver');
    expect(httpCtl.exitCode).not.toBe(0);
    expect(noCertCtl.exitCode).not.toBe(0);
  });

  it('fleet v2, one node at a time: the second holder is power-cut mid-reboot and comes back on its own disk; its slot returns by the lease TTL, the next holder waits for the quorum; never two members down nor two holders, no acknowledged write lost; all on v2, healthy', async () => {
    tls = clusterTls(DIR);
    const v2 = await composingV2;
    expect(v2.parent).toBe(v1['ostree-commit']);
    // v3 is composed meanwhile into U3 (a fork of U2 at v2): the server of U2 never shows it.
    await forkBuildsDir(U2, U3);
    composingV3 = composeVersion('v3', U3);
    composingV3.catch(() => undefined);
    // Publish v2: the server now serves U2.
    serve?.kill('SIGTERM');
    await serve?.catch(() => undefined);
    serve = serveUpdates(U2);
    await waitServing();
    // BOOT_TRIES=2: the cut comes after GRUB counted the trial boot down; the restart is the second try.
    for (const i of [1, 2, 3]) await onNodeOk(i, `printf 'LOCK_POLL_SEC=3\\nBOOT_TRIES=2\\nHEALTH_TIMEOUT=60\\nLOCK_TTL=${LOCK_TTL}\\n' | sudo tee -a /etc/fcos/update.conf >/dev/null`);
    // A marker on every node's disk (its overlay), synced: the node restarted after the cut must boot its own disk.
    const bootIds = new Map<number, string>();
    for (const i of [1, 2, 3]) {
      bootIds.set(i, (await onNodeOk(i, 'cat /proc/sys/kernel/random/boot_id > ~/fcos-e2e-marker && sync && cat ~/fcos-e2e-marker')).trim());
      expect(bootIds.get(i)).toMatch(/^[0-9a-f-]{36}$/);
    }
    const boots0 = await bootCounts();
    const watcher = new Watcher(tls, nodePorts());
    const writer = new Writer(tls, clientPorts());
    let cut = '';
    try {
      await triggerAll();
      const holder = async () => (await updates(tls, clientPorts(), NODES))?.locks[0];
      const first = await until('a first holder', 10 * MIN, holder, 1000);
      // The second holder: power-cut in the middle of its reboot, once its new boot's etcd answers (the update
      // health service renews the slot's lease only later in that boot): its lease then runs out by the TTL it got
      // before the reboot.
      const second = await until('a second holder', 15 * MIN, async () => {
        const h = await holder();
        return h && h.node !== first.node ? h : undefined;
      }, 1000);
      cut = second.node;
      const ci = NODES.indexOf(cut) + 1;
      const consoleOf = () => readFileSync(join(state()[cut]!.dir, 'console.txt'), 'latin1');
      const kernels = (t: string) => t.match(/Linux version /g)?.length ?? 0;
      const before = kernels(consoleOf());
      await until(`${cut} rebooting into v2`, 10 * MIN, async () => (kernels(consoleOf()) > before ? true : undefined), 500);
      await until(`${cut}'s etcd answering in its new boot`, 10 * MIN, async () => ((await memberUp(tls, state()[cut]!.clientPort)) ? true : undefined), 500);
      const { pid } = state()[cut]!;
      // QEMU stops without a guest shutdown (power loss for the guest; QEMU itself flushes the overlay).
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await sleep(100);
      expect(existsSync(`/proc/${pid}`)).toBe(false);
      const cutAt = Date.now();
      const tailAtCut = consoleOf().slice(-3000).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
      process.stderr.write(`fleet v2: ${first.node} went first; ${cut} power-cut holding ${second.group}/${second.slot} (lease ${second.lease}) as its new boot's etcd answered; console at the cut: …${JSON.stringify(tailAtCut.slice(-200))}\n`);

      // Node loss: its endpoint fails while it is down, writes go on with 2 of 3.
      const live = [1, 2, 3].filter((i) => i !== ci);
      const st = await fcos(['cluster', 'status', DIR, '--json']);
      expect(st.exitCode).toBe(1);
      expect((JSON.parse(st.stdout) as { nodes: { name: string; running: boolean }[] }).nodes.find((n) => n.name === cut)!.running).toBe(false);
      const dead = await etcdctl(ci, ['endpoint', 'health']);
      expect(dead.exitCode, `etcdctl endpoint health on ${cut} while it is down: ${dead.stdout}${dead.stderr}`).not.toBe(0);
      expect(`${dead.stdout}${dead.stderr}`).toMatch(/unhealthy|connection refused|deadline exceeded|connection reset|EOF/i);
      await ok(live[0]!, ['put', 'fcos/while-down', 'written-with-2-of-3']);
      expect((await ok(live[1]!, ['get', 'fcos/while-down', '--print-value-only'])).trim()).toBe('written-with-2-of-3');

      // The slot stays the dead holder's until its lease runs out (TTL from its keep-alive before the reboot); then
      // the third node takes it, stages v2, and holds its reboot: with the cut node down, a second member down would
      // stop etcd.
      const next = await until('another node takes the slot', (LOCK_TTL + 10 * 60) * 1000, async () => {
        const h = await holder();
        return h && h.node !== cut ? h : undefined;
      }, 2000);
      const waited = (Date.now() - cutAt) / 1000;
      process.stderr.write(`fleet v2: ${next.node} took the slot ${waited.toFixed(0)} s after the cut (TTL ${LOCK_TTL} s)\n`);
      expect(next.node).not.toBe(first.node);
      expect(next.lease).not.toBe(second.lease);
      expect(waited, 'the slot came back only through the lease').toBeLessThanOrEqual(LOCK_TTL + 60);
      const ni = NODES.indexOf(next.node) + 1;
      const held = await until(`${next.node} holds its reboot while ${cut} is down`, 10 * MIN, async () => {
        const x = await updateStatus(ni);
        return /not rebooting into \S+ yet: a reboot now would leave etcd without its quorum/.test(x.Lock ?? '') ? x : undefined;
      }, 3000);
      expect(held.Lock).toContain(`1 of 2 other member(s) healthy, 2 needed (down: ${cut})`);
      expect(held.Staged).toBe(v2.version);
      expect(held.Booted).toBe(v1['ostree-version']);

      // The cut node comes back on its own disk (a new boot that still has its marker) and catches up.
      const up = await fcos(['cluster', 'up', DIR, '--builds', B, '--json', '--timeout', '1200'], 22 * MIN);
      if (up.exitCode !== 0) throw new Error(`fcos cluster up (restart) failed (exit ${up.exitCode}):\n${up.stderr.slice(-4000)}`);
      const r = JSON.parse(up.stdout) as { started: string[]; alreadyRunning: string[] };
      expect(r.started).toEqual([cut]);
      expect(r.alreadyRunning.sort()).toEqual(NODES.filter((n) => n !== cut));
      // Serializable read: the restarted node answers from its own copy, so the missed write reached it.
      let got = '';
      for (let i = 0; i < 30 && got !== 'written-with-2-of-3'; i++) {
        got = (await etcdctl(ci, ['get', 'fcos/while-down', '--print-value-only', '--consistency=s'])).stdout.trim();
        if (got !== 'written-with-2-of-3') await sleep(2000);
      }
      expect(got).toBe('written-with-2-of-3');
      expect((await members(ci)).filter((x) => x.name).length).toBe(3);
      const bootAfter = (await onNodeOk(ci, 'cat /proc/sys/kernel/random/boot_id')).trim();
      expect(bootAfter).not.toBe(bootIds.get(ci));
      expect((await onNodeOk(ci, 'cat ~/fcos-e2e-marker')).trim()).toBe(bootIds.get(ci));

      await allOn(v2.version, 30 * MIN);
    } finally {
      await writer.stop();
      await watcher.stop();
    }
    const down = watcher.maxDown();
    const holders = watcher.maxHolders();
    process.stderr.write(`fleet v2: ${watcher.samples.length} samples, max down ${down.n} (in one sample: ${watcher.maxDown(1).n}), max holders ${holders.n}, ${watcher.noQuorum} samples without an answer, ${writer.acked.length} writes acknowledged, ${writer.failures} refused tries\n`);
    expect(down.n, `two members down at once: ${JSON.stringify(down.at)}`).toBeLessThanOrEqual(1);
    expect(holders.n, `two holders at once: ${JSON.stringify(holders.at)}`).toBeLessThanOrEqual(1);
    // Each node went down (two rebooted, one was cut), and held the slot at some point.
    expect([...watcher.seenDown()].sort()).toEqual(NODES);
    expect(new Set(watcher.samples.flatMap((x) => x.holders.map((h) => h.split(':')[1]))).size).toBe(3);
    // Every acknowledged write is on every node (serializable reads: each node's own copy).
    expect(writer.acked.length).toBeGreaterThan(20);
    for (const i of [1, 2, 3]) {
      const keys = new Set((await ok(i, ['get', '--prefix', 'fleet/w/', '--keys-only', '--consistency=s'])).split('\n').filter(Boolean));
      const missing = writer.acked.map((n) => writer.key(n)).filter((k) => !keys.has(k));
      expect(missing, `acknowledged writes missing on node ${i}`).toEqual([]);
    }
    await Promise.all([1, 2, 3].map(async (i) => {
      const st = await updateStatus(i);
      expect(st.Booted, `node ${i}`).toBe(v2.version);
      // (status prints each record after its time stamp)
      expect(st['Last health check'], `node ${i}`).toMatch(new RegExp(`(^|\\s)healthy: ${v2.version.replace(/\./g, '\\.')}`));
      expect(st.Lock, `node ${i}`).toMatch(/^none held/);
      expect((await onNodeOk(i, 'cat /usr/share/fcos-fleet/version')).trim()).toBe('v2');
      await expectNoFailedUnits(i);
      expect(consoleFailures(i), `console of node ${i}`).toEqual([]);
    }));
    // In-guest reboots (the journals' boot lists) of the two nodes that were not cut, for tmp/test-report.json; the
    // cut node's next boot is a QEMU launch (`cluster up`), counted as a boot.
    boots0.delete(NODES.indexOf(cut) + 1);
    expect(await recordReboots(boots0)).toBe(2);
  }, 60 * MIN);

    it('fleet v3 (a failing health check): the first node to take the slot rolls back to v2 and marks v3 failed; the others never stage v3; cluster status shows it', async () => {
      const v3 = await composingV3;
      expect(v3.parent).toBe(composed.v2!.commit);
      serve?.kill('SIGTERM');
      await serve?.catch(() => undefined);
      serve = serveUpdates(U3);
      await waitServing();
      // One trial boot (then GRUB falls back), and the default lease again (the later lines win).
      for (const i of [1, 2, 3]) await onNodeOk(i, "printf 'BOOT_TRIES=1\\nLOCK_TTL=600\\n' | sudo tee -a /etc/fcos/update.conf >/dev/null");
      const boots0 = await bootCounts();
      await triggerAll();
      // The marker, then everything back on v2 with the semaphore empty.
      const marker = await until('v3 marked failed in etcd', 30 * MIN, async () => (await updates(tls, clientPorts(), NODES))?.failed.find((f) => f.checksum === v3.commit));
      expect(marker.version).toBe(v3.version);
      await allOn(composed.v2!.version, 20 * MIN);
      const first = NODES.indexOf(marker.node) + 1;
      expect(first, `the marker's node ${marker.node}`).toBeGreaterThan(0);
      const st = await updateStatus(first);
      expect(st.Booted).toBe(composed.v2!.version);
      expect(st['Last fallback']).toContain(`fell back from ${v3.version}`);
      // The others: halted on the marker (they asked, once they held the slot, and gave it back), nothing of v3 staged.
      for (const i of [1, 2, 3].filter((x) => x !== first)) {
        const o = await until(`node ${i} halted on v3`, 10 * MIN, async () => {
          const x = await updateStatus(i);
          return x.Halted ? x : undefined;
        });
        expect(o.Halted).toContain(`${v3.version} (${v3.commit.slice(0, 12)}) is marked failed in etcd by ${marker.node}`);
        expect(o.Staged).toBeUndefined();
        expect(o.Booted).toBe(composed.v2!.version);
        expect(await onNodeOk(i, 'sudo ostree admin status')).not.toContain(v3.commit);
        expect(await onNodeOk(i, 'sudo cat /var/lib/fcos-update/last-upgrade')).not.toContain(v3.version);
        // `check` fetched v3's commit object (metadata only): at most that, never its tree.
        const c = v3.commit;
        expect((await onNode(i, `test ! -e /ostree/repo/objects/${c.slice(0, 2)}/${c.slice(2)}.commit || test -e /ostree/repo/state/${c}.commitpartial`)).exitCode, `v3 fully in node ${i}'s repo`).toBe(0);
      }
      const cs = await fcos(['cluster', 'status', DIR, '--json']);
      expect(cs.exitCode, cs.stderr).toBe(0);
      const j = JSON.parse(cs.stdout) as { updates: { failed: { version: string; node: string }[]; locks: unknown[]; nodes: { node: string; booted: string }[] } };
      expect(j.updates.failed).toEqual([expect.objectContaining({ version: v3.version, node: marker.node })]);
      expect(j.updates.locks).toEqual([]);
      expect(j.updates.nodes.map((n) => n.booted)).toEqual([composed.v2!.version, composed.v2!.version, composed.v2!.version]);
      const text = await fcos(['cluster', 'status', DIR]);
      expect(text.stdout).toContain(v3.version);
      await Promise.all([1, 2, 3].map(expectNoFailedUnits));
      // The first holder booted v3 once (BOOT_TRIES=1), then fell back to v2: two reboots; the others none.
      const after = await bootCounts();
      for (const i of [1, 2, 3]) expect(after.get(i)! - boots0.get(i)!, `node ${i}'s reboots`).toBe(i === first ? 2 : 0);
      expect(await recordReboots(boots0)).toBe(2);
    }, 50 * MIN);
});
