/**
 * The cluster directory of `fcos cluster` (issue #8), as init writes it and up/down/status read it: its paths,
 * cluster.json (the plan), etcdctl.env, the run state (run/state.json: which QEMU runs which node) and etcdctl
 * against the cluster with its client certificate.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { ExternalError, UserError } from '../../lib/errors.js';
import { run } from '../../lib/run.js';
import type { ClusterNode } from './config.js';
import { defaultUpdates, type ClusterUpdates } from './updates.js';

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
  /** Fleet update settings (issue #18); absent in older files: clusterUpdates() gives the defaults. */
  updates?: ClusterUpdates;
}

/** The update settings of a cluster.json, the defaults filled in for what an older file lacks. */
export function clusterUpdates(c: Pick<ClusterFile, 'updates'>): ClusterUpdates {
  const d = defaultUpdates();
  return { ...d, ...(c.updates ?? {}), groups: { ...(c.updates?.groups ?? {}) } };
}

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

export function writeEtcdctlEnv(dir: string, c: ClusterFile): void {
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

export function writeState(dir: string, s: ClusterState): void {
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

/** The nodes whose QEMU runs. */
export function runningNodes(dir: string): string[] {
  const st = readState(dir);
  return st ? Object.entries(st.nodes).filter(([, n]) => pidAlive(n.pid, n.name)).map(([k]) => k) : [];
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
