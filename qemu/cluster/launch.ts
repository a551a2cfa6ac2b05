/**
 * `fcos cluster`: an etcd cluster over TLS on fcos hosts under QEMU (issue #8).
 *
 * - initCluster(): the cluster directory: cluster.json (the plan), pki/ (CA, per-node server/peer certs, the etcdctl
 *   client cert; keys 0600, never replaced silently), nodes/<node>.bu and .ign (validated), etcdctl.env, ssh/ (a
 *   generated login key when the user gave none).
 * - upCluster(): one detached QEMU per node that is not running yet: a throw-away qcow2 overlay on the image (kept
 *   while the cluster is up, so a node that died restarts with its disk), the config by fw_cfg, a user-net NIC with
 *   the SSH and etcd client ports forwarded from 127.0.0.1, and a NIC on the cluster's private segment (QEMU socket
 *   multicast on 127.0.0.1: nothing leaves the host). State in run/state.json; waits until every member is healthy.
 * - downCluster(): stops the VMs, drops the overlays. statusCluster(): members and health through etcdctl.
 * Design notes: docs/cluster.md.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import { BugError, ExternalError, UserError } from '../lib/errors.js';
import { info } from '../lib/log.js';
import { issueLeaf, makeCa } from '../lib/pki.js';
import { run } from '../lib/run.js';
import { checkSubnet, nodeConfig, planNodes, CLIENT_PORT, type ClusterNode, type ClusterPlan } from '../ignition/cluster.js';
import { latestBuildImage } from './harness.js';
import type { AccelRequest } from './kvm.js';
import { freePort, portIsFree } from './net.js';
import { sshCommandLine } from './ssh.js';
import { Vm } from './vm.js';

export const DEFAULT_NAME = 'fcos-etcd';
export const DEFAULT_SUBNET = '10.88.0.0/24';
/** Raft timings for TCG guests (etcd's defaults, 100 ms / 1000 ms, cause leader flapping on a loaded TCG host). */
export const TCG_HEARTBEAT_MS = 500;
export const TCG_ELECTION_MS = 5000;

/**
 * Console lines of a node that are not failures, each named. Only this one: etcd.service (Type=notify) that exits
 * before it is ready is logged as "Failed to start etcd.service" and restarted by its drop-in's Restart=always
 * (ignition/cluster.ts), e.g. while its address or its peers are not there yet. Whether it came up is judged by
 * `etcdctl endpoint health` (up waits for it) and `systemctl --failed` (the e2e test: empty on every node). Any
 * other "Failed to start" fails `cluster up` at once.
 */
export const CLUSTER_CONSOLE_IGNORE: readonly RegExp[] = [/Failed to start etcd\.service\b/];

/** cluster.json */
export interface ClusterFile {
  version: 1;
  name: string;
  subnet: string;
  token: string;
  macPrefix: string;
  heartbeatMs: number;
  electionMs: number;
  nodes: (ClusterNode & { sshPort: number; clientPort: number })[];
  sshKeys: string[];
  /** Private key matching sshKeys (generated, or the user's key file without .pub), for `up` and the ssh lines. */
  sshIdentity?: string;
}

export interface InitOptions {
  nodes: number;
  name?: string;
  subnet?: string;
  out?: string;
  sshKey?: string;
  sshKeyFile?: string;
  force?: boolean;
}

export interface InitResult {
  dir: string;
  name: string;
  subnet: string;
  nodes: { name: string; ip: string; butane: string; ignition: string; cert: string; key: string }[];
  ca: { cert: string; key: string; reused: boolean };
  client: { cert: string; key: string };
  etcdctlEnv: string;
  /** Keys made in this run and keys that were kept as they were. */
  newKeys: string[];
  keptKeys: string[];
  /** --force: where the previous pki/ went. */
  movedAside?: string;
  sshIdentity?: string;
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

export function clusterPaths(dir: string) {
  const d = resolve(dir);
  return {
    dir: d,
    file: join(d, 'cluster.json'),
    pki: join(d, 'pki'),
    nodes: join(d, 'nodes'),
    env: join(d, 'etcdctl.env'),
    ssh: join(d, 'ssh'),
    run: join(d, 'run'),
    state: join(d, 'run', 'state.json'),
  };
}

export function loadCluster(dir: string): ClusterFile {
  const p = clusterPaths(dir);
  if (!existsSync(p.file)) throw new UserError(`${p.dir} is not a cluster directory (no cluster.json)`, 'make one with: fcos cluster init --nodes 3 --out DIR');
  try {
    return JSON.parse(readFileSync(p.file, 'utf8')) as ClusterFile;
  } catch (e) {
    throw new UserError(`cannot read ${p.file}: ${(e as Error).message}`);
  }
}

function isPublicKey(s: string): boolean {
  return /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/.test(s.trim());
}

/** The user's keys from --ssh-key / --ssh-key-file (checked before anything is written), or undefined. */
function userSshKeys(o: InitOptions): { keys: string[]; identity?: string } | undefined {
  if (o.sshKey !== undefined) {
    if (!isPublicKey(o.sshKey)) throw new UserError(`--ssh-key is not an SSH public key: ${o.sshKey.slice(0, 40)}`, 'pass the one line of an id_*.pub file, or use --ssh-key-file');
    return { keys: [o.sshKey.trim()] };
  }
  if (o.sshKeyFile !== undefined) {
    const f = resolve(o.sshKeyFile);
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read --ssh-key-file ${f}: ${(e as Error).message}`);
    }
    if (/PRIVATE KEY/.test(text)) throw new UserError(`${f} is a private key`, `pass the public key: --ssh-key-file ${f}.pub`);
    const keys = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const bad = keys.find((k) => !isPublicKey(k));
    if (!keys.length || bad) throw new UserError(`${f} holds no SSH public key${bad ? ` (bad line: ${bad.slice(0, 40)})` : ''}`);
    const priv = f.endsWith('.pub') ? f.slice(0, -4) : undefined;
    return { keys, identity: priv && existsSync(priv) ? priv : undefined };
  }
  return undefined;
}

async function resolveSshKeys(o: InitOptions, p: ReturnType<typeof clusterPaths>, prev?: ClusterFile): Promise<{ keys: string[]; identity?: string }> {
  const user = userSshKeys(o);
  if (user) return user;
  const key = join(p.ssh, 'id_ed25519');
  if (!o.force && prev?.sshIdentity === key && existsSync(key) && existsSync(key + '.pub')) return { keys: prev.sshKeys, identity: key };
  if (existsSync(key) && !o.force) {
    return { keys: [readFileSync(key + '.pub', 'utf8').trim()], identity: key };
  }
  mkdirSync(p.ssh, { recursive: true, mode: 0o700 });
  if (existsSync(key)) throw new BugError('unreachable: --force moves ssh/ aside first');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `fcos-cluster`, '-f', key], { purpose: 'make the cluster SSH key' });
  return { keys: [readFileSync(key + '.pub', 'utf8').trim()], identity: key };
}

/** The file that says "fcos cluster init made this directory" (its pki/, ssh/ and nodes/ are fcos's to move aside). */
export const CLUSTER_MARKER = '.fcos-cluster';

/**
 * Make the cluster directory (0700, with the marker), or check that an existing one is fcos's: empty, or with the
 * marker, or (made before the marker) with a cluster.json of version 1. Anything else is refused before a file is
 * touched: `--out /etc --force` would otherwise move the host's /etc/ssh and /etc/pki aside.
 */
export function claimClusterDir(p: ReturnType<typeof clusterPaths>): void {
  const marker = join(p.dir, CLUSTER_MARKER);
  if (existsSync(p.dir)) {
    if (!existsSync(marker) && readdirSync(p.dir).length > 0 && !isOldClusterDir(p)) {
      throw new UserError(
        `${p.dir} is not empty and was not made by fcos cluster init (no ${CLUSTER_MARKER} in it)`,
        'give --out a new or empty directory; fcos moves only its own pki/, ssh/ and nodes/ aside',
      );
    }
  } else {
    mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  }
  if (!existsSync(marker)) writeFileSync(marker, 'made by fcos cluster init: pki/, ssh/, nodes/ and run/ here are fcos\'s\n', { mode: 0o644 });
}

function isOldClusterDir(p: ReturnType<typeof clusterPaths>): boolean {
  try {
    const c = JSON.parse(readFileSync(p.file, 'utf8')) as Partial<ClusterFile>;
    return c.version === 1 && typeof c.name === 'string' && Array.isArray(c.nodes);
  } catch {
    return false;
  }
}

/** Secrets stay private on every run (an older run, umask or a copy may have left them open): dirs 0700, keys and configs 0600. */
function tightenModes(p: ReturnType<typeof clusterPaths>): void {
  chmodSync(p.dir, 0o700);
  for (const d of [p.pki, p.nodes, p.ssh]) {
    if (!existsSync(d) || !statSync(d).isDirectory()) continue;
    chmodSync(d, 0o700);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isFile()) continue;
      // Certificates and public keys may be read by anyone; private keys and the configs that embed them may not.
      const secret = d === p.nodes || e.name.endsWith('.key') || (d === p.ssh && !e.name.endsWith('.pub'));
      if (secret) chmodSync(join(d, e.name), 0o600);
    }
  }
}

function clusterUp(dir: string): string[] {
  const st = readState(dir);
  return st ? Object.entries(st.nodes).filter(([, n]) => pidAlive(n.pid, n.name)).map(([k]) => k) : [];
}

export async function initCluster(o: InitOptions): Promise<InitResult> {
  const name = o.name ?? DEFAULT_NAME;
  const subnet = o.subnet ?? DEFAULT_SUBNET;
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 9) throw new UserError(`--nodes must be 1 to 9 (got ${o.nodes})`, 'etcd clusters have an odd size: 3 or 5');
  if (!NAME_RE.test(name)) throw new UserError(`bad cluster name ${JSON.stringify(name)}`, 'lower-case letters, digits and dashes, at most 40 characters');
  const subnetErr = checkSubnet(subnet, o.nodes);
  if (subnetErr) throw new UserError(`--subnet: ${subnetErr}`);
  const p = clusterPaths(o.out ?? name);
  if (existsSync(p.dir) && !statSync(p.dir).isDirectory()) throw new UserError(`${p.dir} exists and is not a directory`);
  const running = existsSync(p.state) ? clusterUp(p.dir) : [];
  if (running.length) throw new UserError(`the cluster in ${p.dir} is up (${running.join(', ')})`, `stop it first: fcos cluster down ${p.dir}`);
  userSshKeys(o);
  claimClusterDir(p);
  let prev: ClusterFile | undefined;
  if (existsSync(p.file)) prev = loadCluster(p.dir);

  let movedAside: string | undefined;
  if (o.force && (existsSync(p.pki) || existsSync(p.ssh))) {
    movedAside = join(p.dir, `old-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    mkdirSync(movedAside, { mode: 0o700 });
    for (const d of [p.pki, p.ssh, p.nodes]) if (existsSync(d)) renameSync(d, join(movedAside, basename(d)));
    info(`--force: the previous keys and configs were moved to ${movedAside}`);
  }
  mkdirSync(p.pki, { recursive: true, mode: 0o700 });
  mkdirSync(p.nodes, { recursive: true, mode: 0o700 });
  tightenModes(p);

  const ssh = await resolveSshKeys(o, p, o.force ? undefined : prev);
  const newKeys: string[] = [];
  const keptKeys: string[] = [];
  const ca = { cert: join(p.pki, 'ca.crt'), key: join(p.pki, 'ca.key') };
  let caReused = false;
  if (existsSync(ca.key) && existsSync(ca.cert)) {
    caReused = true;
    keptKeys.push(ca.key);
  } else if (existsSync(ca.key) || existsSync(ca.cert)) {
    throw new UserError(`${p.pki} has only one of ca.crt and ca.key`, 'restore the missing file, or start over with --force (the old pki/ is moved aside)');
  } else {
    await makeCa(ca.key, ca.cert, `${name} etcd CA`);
    newKeys.push(ca.key);
  }

  const macPrefix = (!o.force && prev?.macPrefix) || `52:54:00:${randomBytes(2).toString('hex').replace(/(..)(..)/, '$1:$2')}`;
  const token = (!o.force && prev?.name === name && prev.token) || `${name}-${randomBytes(6).toString('hex')}`;
  const nodes = planNodes(name, subnet, o.nodes, macPrefix);
  const plan: ClusterPlan = { name, subnet, token, nodes, sshKeys: ssh.keys, heartbeatMs: TCG_HEARTBEAT_MS, electionMs: TCG_ELECTION_MS };

  const out: InitResult['nodes'] = [];
  const filePorts: ClusterFile['nodes'] = [];
  const taken = new Set<number>();
  const pickPort = async (prevPort?: number) => {
    if (prevPort && !taken.has(prevPort) && (await portIsFree(prevPort))) {
      taken.add(prevPort);
      return prevPort;
    }
    for (;;) {
      const x = await freePort();
      if (!taken.has(x)) {
        taken.add(x);
        return x;
      }
    }
  };
  for (const n of nodes) {
    const cert = join(p.pki, `${n.name}.crt`);
    const key = join(p.pki, `${n.name}.key`);
    const r = await issueLeaf(ca, key, cert, { cn: n.name, dns: [n.name, 'localhost'], ips: [n.ip, '127.0.0.1'], usage: ['serverAuth', 'clientAuth'] });
    (r.newKey ? newKeys : keptKeys).push(key);
    const cfg = nodeConfig(plan, n, { ca: readFileSync(ca.cert, 'utf8'), cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') });
    const bu = join(p.nodes, `${n.name}.bu`);
    const ign = join(p.nodes, `${n.name}.ign`);
    // They hold the node's private key.
    writeFileSync(bu, cfg.butane, { mode: 0o600 });
    writeFileSync(ign, cfg.ignition, { mode: 0o600 });
    const old = prev?.nodes.find((x) => x.name === n.name);
    filePorts.push({ ...n, sshPort: await pickPort(old?.sshPort), clientPort: await pickPort(old?.clientPort) });
    out.push({ name: n.name, ip: n.ip, butane: bu, ignition: ign, cert, key });
  }
  const client = { cert: join(p.pki, 'client.crt'), key: join(p.pki, 'client.key') };
  const cr = await issueLeaf(ca, client.key, client.cert, { cn: 'etcdctl', usage: ['clientAuth'] });
  (cr.newKey ? newKeys : keptKeys).push(client.key);

  const file: ClusterFile = { version: 1, name, subnet, token, macPrefix, heartbeatMs: plan.heartbeatMs, electionMs: plan.electionMs, nodes: filePorts, sshKeys: ssh.keys, sshIdentity: ssh.identity };
  writeFileSync(p.file, JSON.stringify(file, null, 2) + '\n');
  writeEtcdctlEnv(p.dir, file);
  tightenModes(p);
  return { dir: p.dir, name, subnet, nodes: out, ca: { ...ca, reused: caReused }, client, etcdctlEnv: p.env, newKeys, keptKeys, movedAside, sshIdentity: ssh.identity };
}

/** KEY=value lines (sh `set -a; . etcdctl.env` or systemd EnvironmentFile). */
export function etcdctlEnvText(dir: string, c: Pick<ClusterFile, 'nodes'>): string {
  const p = clusterPaths(dir);
  return [
    '# etcdctl against the fcos cluster from this host: set -a; . ./etcdctl.env; set +a; etcdctl member list',
    'ETCDCTL_API=3',
    `ETCDCTL_ENDPOINTS=${c.nodes.map((n) => `https://127.0.0.1:${n.clientPort}`).join(',')}`,
    `ETCDCTL_CACERT=${join(p.pki, 'ca.crt')}`,
    `ETCDCTL_CERT=${join(p.pki, 'client.crt')}`,
    `ETCDCTL_KEY=${join(p.pki, 'client.key')}`,
    '',
  ].join('\n');
}

function writeEtcdctlEnv(dir: string, c: ClusterFile): void {
  writeFileSync(clusterPaths(dir).env, etcdctlEnvText(dir, c));
}

/* ---------- run state ---------- */

export interface NodeState {
  name: string;
  pid: number;
  sshPort: number;
  clientPort: number;
  dir: string;
}
export interface ClusterState {
  image: string;
  /** The private segment: QEMU socket multicast group:port on 127.0.0.1. */
  group: string;
  nodes: Record<string, NodeState>;
}

export function readState(dir: string): ClusterState | undefined {
  const f = clusterPaths(dir).state;
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

function writeState(dir: string, s: ClusterState): void {
  const f = clusterPaths(dir).state;
  writeFileSync(f + '.tmp', JSON.stringify(s, null, 2) + '\n');
  renameSync(f + '.tmp', f);
}

/** Is this pid a QEMU of that node (not a recycled pid)? */
export function pidAlive(pid: number, node: string): boolean {
  if (!pid) return false;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd.some((a) => a.includes('qemu-system')) && cmd.includes(`fcos-${node}`);
  } catch {
    return false;
  }
}

export function randomGroup(): string {
  const b = randomBytes(4);
  // 239.0.0.0/8: administratively scoped; on 127.0.0.1 only.
  return `239.${b[0]}.${b[1]}.${1 + (b[2]! % 254)}:${20000 + (b.readUInt16BE(2) % 40000)}`;
}

/* ---------- etcdctl ---------- */

export function etcdctlArgs(dir: string, endpoints: string[], args: string[]): string[] {
  const p = clusterPaths(dir);
  return ['--endpoints', endpoints.join(','), '--cacert', join(p.pki, 'ca.crt'), '--cert', join(p.pki, 'client.crt'), '--key', join(p.pki, 'client.key'), '--dial-timeout', '5s', '--command-timeout', '20s', ...args];
}

// Flags win; ETCDCTL_* from the caller's environment would conflict with them.
const CLEAN_ENV: Record<string, string | undefined> = { ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: undefined, ETCDCTL_CACERT: undefined, ETCDCTL_CERT: undefined, ETCDCTL_KEY: undefined };

export async function etcdctl(dir: string, endpoints: string[], args: string[], timeoutMs = 30_000) {
  return run('etcdctl', etcdctlArgs(dir, endpoints, args), { allowFailure: true, timeoutMs, env: CLEAN_ENV, purpose: `etcdctl ${args[0]}` }).catch((e: unknown) => {
    if (e instanceof ExternalError && /timed out/.test(e.message)) return { exitCode: 124, stdout: '', stderr: e.message, command: '' };
    throw e;
  });
}

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

export async function upCluster(dirArg: string, o: UpOptions): Promise<UpResult> {
  const t0 = Date.now();
  const p = clusterPaths(dirArg);
  const c = loadCluster(p.dir);
  for (const n of c.nodes) if (!existsSync(join(p.nodes, `${n.name}.ign`))) throw new UserError(`missing ${join(p.nodes, `${n.name}.ign`)}`, `run fcos cluster init again with --out ${p.dir}`);
  mkdirSync(p.run, { recursive: true });
  const prev = readState(p.dir);
  const alive = new Set(prev ? Object.values(prev.nodes).filter((n) => pidAlive(n.pid, n.name)).map((n) => n.name) : []);
  let image: string;
  if (o.image) {
    image = resolve(o.image);
    if (!existsSync(image)) throw new UserError(`no such image: ${image}`);
  } else if (alive.size && prev) image = prev.image;
  else image = latestBuildImage(o.buildsDir).path;
  if (alive.size && prev && prev.image !== image) throw new UserError(`the cluster runs ${prev.image}; cannot add nodes from ${image}`, `fcos cluster down ${p.dir} first`);
  const state: ClusterState = { image, group: (alive.size && prev?.group) || randomGroup(), nodes: {} };
  for (const n of alive) state.nodes[n] = prev!.nodes[n]!;

  const vms: { node: ClusterFile['nodes'][number]; vm: Vm }[] = [];
  const key = c.sshIdentity && existsSync(c.sshIdentity) ? c.sshIdentity : undefined;
  try {
    for (const n of c.nodes) {
      if (alive.has(n.name)) continue;
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
        ignoreConsole: [...CLUSTER_CONSOLE_IGNORE],
      });
      vms.push({ node: n, vm });
      state.nodes[n.name] = { name: n.name, pid: vm.pid, sshPort: ports.sshPort, clientPort: ports.clientPort, dir };
      writeState(p.dir, state);
      info(`${n.name}: QEMU pid ${vm.pid}${restart ? ' (restarted on its disk)' : ''}, ssh port ${ports.sshPort}, etcd client port ${ports.clientPort}`);
    }
    writeState(p.dir, state);
    writeEtcdctlEnv(p.dir, { ...c, nodes: c.nodes.map((n) => ({ ...n, ...pick(state.nodes[n.name]) })) });

    const deadline = t0 + (o.timeoutSec ?? 1200) * 1000;
    const left = () => Math.max(1000, deadline - Date.now());
    if (key) for (const { vm } of vms) await vm.waitForSsh(left());
    // Every member answers a health check through its own forwarded client port.
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
        throw new ExternalError(`etcd did not become healthy on ${[...pending].join(', ')} within ${o.timeoutSec ?? 1200} s`, 'etcdctl endpoint health', undefined, last, `consoles: ${join(p.run, '<node>', 'console.txt')}; stop with: fcos cluster down ${p.dir}`);
      }
      await sleep(3000);
    }
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
    if (pidAlive(n.pid, n.name)) process.kill(n.pid, 'SIGKILL');
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
  const healthy = nodes.every((n) => n.healthy) && members.length === c.nodes.length && members.every((m) => m.started);
  return { dir: p.dir, name: c.name, nodes, members, healthy };
}
