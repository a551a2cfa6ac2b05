/**
 * `fcos cluster init`: the cluster directory made or brought up to date: cluster.json (the plan), pki/ (CA, per-node
 * server/peer certs, the etcdctl client cert; keys 0600, never replaced silently), nodes/<node>.bu and .ign
 * (validated, from ./config.ts), etcdctl.env, ssh/ (a generated login key when the user gave none).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import { BugError, UserError } from '../../lib/errors.js';
import { info } from '../../lib/log.js';
import { issueLeaf, makeCa } from '../../lib/pki.js';
import { run } from '../../lib/run.js';
import { checkSubnet, nodeConfig, planNodes, type ClusterPlan } from './config.js';
import { clusterPaths, clusterUpdates, loadCluster, runningNodes, writeEtcdctlEnv, type ClusterFile } from './dir.js';
import { resolveUpdates, type ClusterUpdates, type UpdateOptions } from './updates.js';
import { freePort, portIsFree } from '../net.js';

export const DEFAULT_NAME = 'fcos-etcd';
export const DEFAULT_SUBNET = '10.88.0.0/24';
/** Raft timings for TCG guests (etcd's defaults, 100 ms / 1000 ms, cause leader flapping on a loaded TCG host). */
export const TCG_HEARTBEAT_MS = 500;
export const TCG_ELECTION_MS = 5000;

export interface InitOptions extends UpdateOptions {
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
  updates: ClusterUpdates;
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

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
  const c = peekCluster(p);
  return c?.version === 1 && typeof c.name === 'string' && Array.isArray(c.nodes);
}

/** cluster.json as it is, or undefined (read before the directory is claimed; nothing is trusted yet). */
function peekCluster(p: ReturnType<typeof clusterPaths>): Partial<ClusterFile> | undefined {
  try {
    return JSON.parse(readFileSync(p.file, 'utf8')) as Partial<ClusterFile>;
  } catch {
    return undefined;
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

export async function initCluster(o: InitOptions): Promise<InitResult> {
  const name = o.name ?? DEFAULT_NAME;
  const subnet = o.subnet ?? DEFAULT_SUBNET;
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 9) throw new UserError(`--nodes must be 1 to 9 (got ${o.nodes})`, 'etcd clusters have an odd size: 3 or 5');
  if (!NAME_RE.test(name)) throw new UserError(`bad cluster name ${JSON.stringify(name)}`, 'lower-case letters, digits and dashes, at most 40 characters');
  const subnetErr = checkSubnet(subnet, o.nodes);
  if (subnetErr) throw new UserError(`--subnet: ${subnetErr}`);
  const p = clusterPaths(o.out ?? name);
  if (existsSync(p.dir) && !statSync(p.dir).isDirectory()) throw new UserError(`${p.dir} exists and is not a directory`);
  const running = existsSync(p.state) ? runningNodes(p.dir) : [];
  if (running.length) throw new UserError(`the cluster in ${p.dir} is up (${running.join(', ')})`, `stop it first: fcos cluster down ${p.dir}`);
  userSshKeys(o);
  // The update flags over the previous run's settings (--force: over the defaults); checked before a file is touched.
  const peek = o.force ? undefined : peekCluster(p);
  const updates = resolveUpdates(o, Array.from({ length: o.nodes }, (_, i) => `${name}-${i + 1}`), peek ? clusterUpdates(peek) : undefined);
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
  const plan: ClusterPlan = { name, subnet, token, nodes, sshKeys: ssh.keys, heartbeatMs: TCG_HEARTBEAT_MS, electionMs: TCG_ELECTION_MS, updates };

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

  const file: ClusterFile = { version: 1, name, subnet, token, macPrefix, heartbeatMs: plan.heartbeatMs, electionMs: plan.electionMs, nodes: filePorts, sshKeys: ssh.keys, sshIdentity: ssh.identity, updates };
  writeFileSync(p.file, JSON.stringify(file, null, 2) + '\n');
  writeEtcdctlEnv(p.dir, file);
  tightenModes(p);
  return { dir: p.dir, name, subnet, nodes: out, ca: { ...ca, reused: caReused }, client, etcdctlEnv: p.env, newKeys, keptKeys, movedAside, sshIdentity: ssh.identity, updates };
}
