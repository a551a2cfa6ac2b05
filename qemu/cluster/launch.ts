/**
 * `fcos cluster up|down|status`: the etcd cluster's QEMU machines (issue #8).
 *
 * - upCluster(): one detached QEMU per node that is not running yet: a throw-away qcow2 overlay on the image (kept
 *   while the cluster is up, so a node that died restarts with its disk), under a supervisor that starts a new QEMU
 *   when the guest reboots (qemu/cold-reboot.ts; its pid is the node's), the config by fw_cfg, a user-net NIC with
 *   the SSH and etcd client ports forwarded from 127.0.0.1, and a NIC on the cluster's private segment (QEMU socket
 *   multicast on 127.0.0.1: nothing leaves the host). State in run/state.json; waits until every member is healthy.
 * - downCluster(): stops the VMs, drops the overlays. statusCluster(): members and health through etcdctl, and the
 *   fleet update state under /fcos/updates/ (./updates.ts).
 * The cluster directory is made by initCluster() (./init.ts). Design notes: docs/cluster.md.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ExternalError, UserError } from '../../lib/errors.js';
import { info } from '../../lib/log.js';
import { CLIENT_PORT } from './config.js';
import { emptyReports, parseUpdatesDump, UPDATES_PREFIX, type UpdatesStatus } from './updates.js';
import { clusterPaths, etcdctl, loadCluster, pidAlive, randomGroup, readState, writeEtcdctlEnv, writeState, type ClusterFile, type ClusterState, type NodeState } from './dir.js';
import { latestBuildImage } from '../harness.js';
import type { AccelRequest } from '../kvm.js';
import { portIsFree } from '../net.js';
import { sshCommandLine } from '../ssh.js';
import { Vm } from '../vm.js';

/**
 * Console lines of a node that are not failures, each named. Only this one: etcd.service (Type=notify) that exits
 * before it is ready is logged as "Failed to start etcd.service" and restarted by its drop-in's Restart=always
 * (./config.ts), e.g. while its address or its peers are not there yet. Whether it came up is judged by
 * `etcdctl endpoint health` (up waits for it) and `systemctl --failed` (the e2e test: empty on every node). Any
 * other "Failed to start" fails `cluster up` at once.
 */
export const CLUSTER_CONSOLE_IGNORE: readonly RegExp[] = [/Failed to start etcd\.service\b/];

/* ---------- up ---------- */

export interface UpOptions {
  image?: string;
  buildsDir: string;
  memoryMiB?: number;
  cpus?: number;
  accel?: AccelRequest;
  /** Seconds to wait for SSH and for every member to be healthy. */
  timeoutSec?: number;
}

export interface UpResult {
  dir: string;
  image: string;
  started: string[];
  alreadyRunning: string[];
  nodes: { name: string; ip: string; pid: number; ssh: string; endpoint: string; console: string }[];
  etcdctlEnv: string;
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type ClusterPaths = ReturnType<typeof clusterPaths>;
type StartedVm = { node: ClusterFile['nodes'][number]; vm: Vm };

/** The image the nodes boot: --image, else the running cluster's, else the latest build's. */
function clusterImage(o: UpOptions, p: ClusterPaths, prev: ClusterState | undefined, alive: Set<string>): string {
  let image: string;
  if (o.image) {
    image = resolve(o.image);
    if (!existsSync(image)) throw new UserError(`no such image: ${image}`);
  } else if (alive.size && prev) image = prev.image;
  else image = latestBuildImage(o.buildsDir).path;
  if (alive.size && prev && prev.image !== image) throw new UserError(`the cluster runs ${prev.image}; cannot add nodes from ${image}`, `fcos cluster down ${p.dir} first`);
  return image;
}

/** One node's QEMU, detached: added to `vms` (stopped if up fails later) and recorded in the run state at once. */
async function startNode(p: ClusterPaths, n: ClusterFile['nodes'][number], o: UpOptions, state: ClusterState, prev: ClusterState | undefined, key: string | undefined, vms: StartedVm[]): Promise<void> {
  const image = state.image;
  const dir = join(p.run, n.name);
  // A node that died while the cluster is up comes back with its disk (same image, same group).
  const restart = !!prev && prev.image === image && prev.group === state.group && existsSync(join(dir, 'overlay.qcow2'));
  const ports = prev?.nodes[n.name] && restart ? prev.nodes[n.name]! : { sshPort: n.sshPort, clientPort: n.clientPort };
  for (const port of [ports.sshPort, ports.clientPort]) {
    if (!(await portIsFree(port))) throw new UserError(`port ${port} on 127.0.0.1 (node ${n.name}) is in use`, `pick new ports with: fcos cluster init --out ${p.dir} (the keys are kept)`);
  }
  const vm = await Vm.start({
    name: n.name,
    dir,
    disk: { path: image, format: image.endsWith('.qcow2') ? 'qcow2' : 'raw' },
    reuseOverlay: restart,
    ignition: join(p.nodes, `${n.name}.ign`),
    memoryMiB: o.memoryMiB ?? 1024,
    cpus: o.cpus ?? 1,
    accel: o.accel,
    ssh: { key: key ?? '/dev/null', port: ports.sshPort },
    forwards: [{ hostPort: ports.clientPort, guestPort: CLIENT_PORT }],
    extraNics: [{ kind: 'mcast', group: state.group, localaddr: '127.0.0.1', mac: n.mac }],
    detach: true,
    // A node's own reboots (fleet updates, rollbacks) start a new QEMU: warm resets slow down under TCG.
    coldReboots: true,
    ignoreConsole: [...CLUSTER_CONSOLE_IGNORE],
  });
  vms.push({ node: n, vm });
  state.nodes[n.name] = { name: n.name, pid: vm.pid, sshPort: ports.sshPort, clientPort: ports.clientPort, dir };
  writeState(p.dir, state);
  info(`${n.name}: QEMU pid ${vm.pid}${restart ? ' (restarted on its disk)' : ''}, ssh port ${ports.sshPort}, etcd client port ${ports.clientPort}`);
}

/** Wait for SSH on the new nodes (with a key), then until every member answers a health check through its own forwarded client port. */
async function waitHealthy(p: ClusterPaths, c: ClusterFile, state: ClusterState, vms: StartedVm[], key: string | undefined, deadline: number, timeoutSec: number): Promise<void> {
  const left = () => Math.max(1000, deadline - Date.now());
  if (key) for (const { vm } of vms) await vm.waitForSsh(left());
  const pending = new Set(c.nodes.map((n) => n.name));
  let last = '';
  while (pending.size) {
    for (const { vm } of vms) if (vm.failed) throw vm.failed;
    for (const name of [...pending]) {
      const r = await etcdctl(p.dir, [`https://127.0.0.1:${state.nodes[name]!.clientPort}`], ['endpoint', 'health']);
      if (r.exitCode === 0) {
        pending.delete(name);
        info(`${name}: etcd healthy`);
      } else last = `${name}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]}`;
    }
    if (!pending.size) break;
    if (Date.now() >= deadline) {
      throw new ExternalError(`etcd did not become healthy on ${[...pending].join(', ')} within ${timeoutSec} s`, 'etcdctl endpoint health', undefined, last, `consoles: ${join(p.run, '<node>', 'console.txt')}; stop with: fcos cluster down ${p.dir}`);
    }
    await sleep(3000);
  }
}

export async function upCluster(dirArg: string, o: UpOptions): Promise<UpResult> {
  const t0 = Date.now();
  const p = clusterPaths(dirArg);
  const c = loadCluster(p.dir);
  for (const n of c.nodes) if (!existsSync(join(p.nodes, `${n.name}.ign`))) throw new UserError(`missing ${join(p.nodes, `${n.name}.ign`)}`, `run fcos cluster init again with --out ${p.dir}`);
  mkdirSync(p.run, { recursive: true });
  const prev = readState(p.dir);
  const alive = new Set(prev ? Object.values(prev.nodes).filter((n) => pidAlive(n.pid, n.name)).map((n) => n.name) : []);
  const image = clusterImage(o, p, prev, alive);
  const state: ClusterState = { image, group: (alive.size && prev?.group) || randomGroup(), nodes: {} };
  for (const n of alive) state.nodes[n] = prev!.nodes[n]!;

  const vms: StartedVm[] = [];
  const key = c.sshIdentity && existsSync(c.sshIdentity) ? c.sshIdentity : undefined;
  try {
    for (const n of c.nodes) {
      if (alive.has(n.name)) continue;
      await startNode(p, n, o, state, prev, key, vms);
    }
    writeState(p.dir, state);
    writeEtcdctlEnv(p.dir, { ...c, nodes: c.nodes.map((n) => ({ ...n, ...pick(state.nodes[n.name]) })) });
    await waitHealthy(p, c, state, vms, key, t0 + (o.timeoutSec ?? 1200) * 1000, o.timeoutSec ?? 1200);
  } catch (e) {
    // Do not leave half a cluster running: stop the VMs this run started (their consoles stay in run/).
    for (const { node, vm } of vms) {
      await vm.kill().catch(() => undefined);
      delete state.nodes[node.name];
    }
    if (Object.keys(state.nodes).length) writeState(p.dir, state);
    else rmSync(p.state, { force: true });
    throw e;
  } finally {
    for (const { vm } of vms) await vm.release();
  }
  return {
    dir: p.dir,
    image,
    started: vms.map((v) => v.node.name),
    alreadyRunning: [...alive],
    nodes: c.nodes.map((n) => {
      const s = state.nodes[n.name]!;
      return {
        name: n.name,
        ip: n.ip,
        pid: s.pid,
        ssh: sshCommandLine({ key: key ?? '<your key>', port: s.sshPort }),
        endpoint: `https://127.0.0.1:${s.clientPort}`,
        console: join(s.dir, 'console.txt'),
      };
    }),
    etcdctlEnv: p.env,
    seconds: Math.round((Date.now() - t0) / 1000),
  };
}

function pick(s: NodeState | undefined): { sshPort?: number; clientPort?: number } {
  return s ? { sshPort: s.sshPort, clientPort: s.clientPort } : {};
}

/* ---------- down ---------- */

export interface DownResult {
  dir: string;
  stopped: string[];
  notRunning: string[];
}

export async function downCluster(dirArg: string): Promise<DownResult> {
  const p = clusterPaths(dirArg);
  loadCluster(p.dir);
  const st = readState(p.dir);
  const stopped: string[] = [];
  const notRunning: string[] = [];
  for (const n of Object.values(st?.nodes ?? {})) {
    if (!pidAlive(n.pid, n.name)) {
      notRunning.push(n.name);
      continue;
    }
    process.kill(n.pid, 'SIGTERM');
    for (let i = 0; i < 50 && pidAlive(n.pid, n.name); i++) await sleep(200);
    // The node's process group: its cold-reboot supervisor and QEMU (qemu/cold-reboot.ts).
    if (pidAlive(n.pid, n.name)) killGroup(n.pid);
    for (let i = 0; i < 25 && pidAlive(n.pid, n.name); i++) await sleep(200);
    stopped.push(n.name);
  }
  // The overlays are throw-away; console logs stay for a look afterwards.
  if (existsSync(p.run)) {
    for (const d of readdirSync(p.run, { withFileTypes: true })) if (d.isDirectory()) rmSync(join(p.run, d.name, 'overlay.qcow2'), { force: true });
  }
  rmSync(p.state, { force: true });
  return { dir: p.dir, stopped, notRunning };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
}

/* ---------- status ---------- */

export interface MemberInfo {
  name: string;
  id: string;
  started: boolean;
  peerURLs: string[];
  clientURLs: string[];
}
export interface StatusResult {
  dir: string;
  name: string;
  nodes: { name: string; ip: string; running: boolean; pid?: number; endpoint?: string; healthy: boolean; error?: string }[];
  members: MemberInfo[];
  /** Every node runs and is healthy, and every member started. */
  healthy: boolean;
  /** What the update agents wrote under /fcos/updates/ (./updates.ts); not part of `healthy`. */
  updates: UpdatesStatus;
}

/** `etcdctl member list -w json`: IDs are uint64, kept exact as strings. */
export function parseMemberList(json: string): MemberInfo[] {
  const fixed = json.replace(/"ID":\s*(\d+)/g, '"ID":"$1"');
  const doc = JSON.parse(fixed) as { members?: { ID: string; name?: string; peerURLs?: string[]; clientURLs?: string[] }[] };
  return (doc.members ?? []).map((m) => ({ name: m.name ?? '', id: BigInt(m.ID).toString(16), started: !!m.name, peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [] }));
}

export async function statusCluster(dirArg: string): Promise<StatusResult> {
  const p = clusterPaths(dirArg);
  const c = loadCluster(p.dir);
  const st = readState(p.dir);
  const nodes: StatusResult['nodes'] = [];
  for (const n of c.nodes) {
    const s = st?.nodes[n.name];
    const running = !!s && pidAlive(s.pid, n.name);
    if (!running || !s) {
      nodes.push({ name: n.name, ip: n.ip, running: false, healthy: false, error: 'not running' });
      continue;
    }
    const endpoint = `https://127.0.0.1:${s.clientPort}`;
    const r = await etcdctl(p.dir, [endpoint], ['endpoint', 'health']);
    nodes.push({ name: n.name, ip: n.ip, running, pid: s.pid, endpoint, healthy: r.exitCode === 0, ...(r.exitCode ? { error: (r.stderr || r.stdout).trim().split('\n').slice(-1)[0] } : {}) });
  }
  let members: MemberInfo[] = [];
  const eps = nodes.filter((n) => n.healthy).map((n) => n.endpoint!);
  if (eps.length) {
    const r = await etcdctl(p.dir, eps, ['member', 'list', '-w', 'json']);
    if (r.exitCode === 0) members = parseMemberList(r.stdout);
  }
  const names = c.nodes.map((n) => n.name);
  let updates: UpdatesStatus = { ...emptyReports(names), error: 'no healthy member to ask' };
  if (eps.length) {
    const r = await etcdctl(p.dir, eps, ['get', '--prefix', UPDATES_PREFIX, '-w', 'json']);
    updates = r.exitCode === 0 ? parseUpdatesDump(r.stdout, names) : { ...emptyReports(names), error: `etcdctl get failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]}` };
  }
  const healthy = nodes.every((n) => n.healthy) && members.length === c.nodes.length && members.every((m) => m.started);
  return { dir: p.dir, name: c.name, nodes, members, healthy, updates };
}
