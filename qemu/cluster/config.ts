/**
 * Per-node configs of an etcd cluster (`fcos cluster init`): pure, no I/O. The caller brings the cluster plan and the
 * PEM texts; this module returns one Butane document (variant fcos 1.4.0) per node and its translation to Ignition
 * 3.3.0 (Debian's Ignition 2.14), validated with the project's validator.
 *
 * Each node gets: its hostname; a systemd-networkd .network file giving the private NIC (matched by MAC) its static
 * IP; the CA, its server/peer certificate and key under /etc/etcd/pki (root, keys 0600, handed to the etcd user with
 * systemd's LoadCredential); an environment file with the ETCD_* settings; a drop-in for etcd.service that reads it;
 * etcd enabled; the user core with the SSH key; and /etc/fcos/update.conf for the update agent (./updates.ts).
 */
import yaml from 'js-yaml';
import { translateAndValidate } from '../../ignition/butane/index.js';
import { formatFinding, hasErrors } from '../../ignition/report.js';
import { BugError } from '../../lib/errors.js';
import { UPDATE_CONF_PATH, updateConfText, type ClusterUpdates } from './updates.js';

export interface ClusterNode {
  /** Member name and hostname, e.g. fcos-etcd-1. */
  name: string;
  /** Static IP on the private network. */
  ip: string;
  /** MAC of the private NIC (the .network file matches it). */
  mac: string;
}

export interface ClusterPlan {
  name: string;
  /** e.g. 10.88.0.0/24 */
  subnet: string;
  token: string;
  nodes: ClusterNode[];
  sshKeys: string[];
  /** Raft timings in ms; TCG guests need them raised (etcd defaults: 100 / 1000). */
  heartbeatMs: number;
  electionMs: number;
  /** Fleet updates (./updates.ts): each node gets /etc/fcos/update.conf; none: no update.conf is written. */
  updates?: ClusterUpdates;
}

export interface NodePki {
  ca: string;
  cert: string;
  key: string;
}

export const ETCD_PKI_DIR = '/etc/etcd/pki';
export const ETCD_ENV_FILE = '/etc/etcd/fcos-cluster.env';
/** etcd's unauthenticated /health listener (loopback only). */
export const METRICS_PORT = 2381;
/**
 * The boot health check for a cluster node, in /etc/fcos/health.d (it overrides the image's 20-etcd by name): the
 * image's check asks plain http://127.0.0.1:2379, which a TLS member with client-certificate auth refuses, so every
 * node would boot "unhealthy" and fcos-update-health.service would fail.
 */
export const ETCD_HEALTH_CHECK_PATH = '/etc/fcos/health.d/20-etcd';
export const ETCD_HEALTH_CHECK = `#!/bin/sh
# fcos cluster: etcd answers on its loopback metrics listener (ETCD_LISTEN_METRICS_URLS); retried until the check's
# time-out (a member is healthy once the cluster has a leader).
systemctl -q is-enabled etcd.service 2>/dev/null || exit 0
while :; do
  curl -fsS --max-time 5 http://127.0.0.1:${METRICS_PORT}/health 2>/dev/null | grep -q '"health":"true"' && exit 0
  sleep 2
done
`;
export const ETCD_DROPIN = '10-fcos-cluster.conf';
export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;
/** etcd reads its files from systemd's credential directory (readable by the etcd user only). */
const CRED_DIR = '/run/credentials/etcd.service';

export function prefixLength(subnet: string): number {
  return Number(subnet.split('/')[1]);
}

/** `--initial-cluster`: name=https://ip:2380,... */
export function initialCluster(plan: ClusterPlan): string {
  return plan.nodes.map((n) => `${n.name}=https://${n.ip}:${PEER_PORT}`).join(',');
}

/** Every node's client URL on the private network (the update agents' LOCK_ENDPOINTS). */
export function clientUrls(plan: ClusterPlan): string[] {
  return plan.nodes.map((n) => `https://${n.ip}:${CLIENT_PORT}`);
}

/** The ETCD_* environment of one node (etcd reads ETCD_<FLAG> for every flag). */
export function etcdEnv(plan: ClusterPlan, node: ClusterNode): Record<string, string> {
  return {
    ETCD_NAME: node.name,
    ETCD_DATA_DIR: '/var/lib/etcd/default',
    ETCD_INITIAL_CLUSTER: initialCluster(plan),
    ETCD_INITIAL_CLUSTER_TOKEN: plan.token,
    ETCD_INITIAL_CLUSTER_STATE: 'new',
    ETCD_INITIAL_ADVERTISE_PEER_URLS: `https://${node.ip}:${PEER_PORT}`,
    ETCD_LISTEN_PEER_URLS: `https://0.0.0.0:${PEER_PORT}`,
    ETCD_LISTEN_CLIENT_URLS: `https://0.0.0.0:${CLIENT_PORT}`,
    ETCD_ADVERTISE_CLIENT_URLS: `https://${node.ip}:${CLIENT_PORT}`,
    ETCD_TRUSTED_CA_FILE: `${CRED_DIR}/ca.crt`,
    ETCD_CERT_FILE: `${CRED_DIR}/node.crt`,
    ETCD_KEY_FILE: `${CRED_DIR}/node.key`,
    ETCD_CLIENT_CERT_AUTH: 'true',
    ETCD_PEER_TRUSTED_CA_FILE: `${CRED_DIR}/ca.crt`,
    ETCD_PEER_CERT_FILE: `${CRED_DIR}/node.crt`,
    ETCD_PEER_KEY_FILE: `${CRED_DIR}/node.key`,
    ETCD_PEER_CLIENT_CERT_AUTH: 'true',
    // /health and /metrics without client certificates, on loopback only (as kubeadm's etcd liveness probe): the
    // image's health check (ETCD_HEALTH_CHECK) asks there, 2379 takes TLS clients with certificates only.
    ETCD_LISTEN_METRICS_URLS: `http://127.0.0.1:${METRICS_PORT}`,
    ETCD_HEARTBEAT_INTERVAL: String(plan.heartbeatMs),
    ETCD_ELECTION_TIMEOUT: String(plan.electionMs),
  };
}

export function envFileText(env: Record<string, string>): string {
  return '# fcos cluster: etcd settings of this node (written by fcos cluster init)\n' + Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join('');
}

export const ETCD_DROPIN_TEXT = `# fcos cluster: TLS material as systemd credentials (root-owned 0600 files, readable by the etcd user only
# through ${CRED_DIR}), the node's ETCD_* settings, and no start time-out: the first member waits for its peers.
# After network-online.target: etcd binds its peer and client URLs to the private NIC's static address, which
# networkd may not have set yet when network.target is reached (Debian's unit orders after network.target only);
# etcd then exits before it is ready ("Failed to start etcd.service") and Restart= brings it back 5 s later.
[Unit]
Wants=network-online.target
After=network-online.target

[Service]
EnvironmentFile=${ETCD_ENV_FILE}
LoadCredential=ca.crt:${ETCD_PKI_DIR}/ca.crt
LoadCredential=node.crt:${ETCD_PKI_DIR}/node.crt
LoadCredential=node.key:${ETCD_PKI_DIR}/node.key
TimeoutStartSec=infinity
Restart=always
RestartSec=5s
`;

/**
 * Three TCG guests on a small, busy host boot slowly (coldplug of the disks took more than systemd's 90 s device
 * time-out in a loaded run, and /boot then failed into emergency mode): wait longer for devices.
 */
export const SYSTEM_CONF_TEXT = `# fcos cluster: TCG guests on a busy host find their devices late
[Manager]
DefaultDeviceTimeoutSec=600s
`;

export function networkFileText(plan: ClusterPlan, node: ClusterNode): string {
  return `# fcos cluster ${plan.name}: the private NIC, static
[Match]
MACAddress=${node.mac}

[Link]
RequiredForOnline=no

[Network]
Address=${node.ip}/${prefixLength(plan.subnet)}
DHCP=no
LinkLocalAddressing=no
IPv6AcceptRA=no
`;
}

/** The Butane document (variant fcos, version 1.4.0 → Ignition 3.3.0) of one node. */
export function nodeButane(plan: ClusterPlan, node: ClusterNode, pki: NodePki): string {
  const file = (path: string, mode: number, inline: string) => ({ path, mode, overwrite: true, contents: { inline } });
  const doc = {
    variant: 'fcos',
    version: '1.4.0',
    passwd: { users: [{ name: 'core', groups: ['sudo'], ssh_authorized_keys: plan.sshKeys }] },
    storage: {
      directories: [{ path: ETCD_PKI_DIR, mode: 0o700 }],
      files: [
        file('/etc/hostname', 0o644, node.name + '\n'),
        file(`/etc/systemd/network/10-fcos-cluster.network`, 0o644, networkFileText(plan, node)),
        file(`${ETCD_PKI_DIR}/ca.crt`, 0o644, pki.ca),
        file(`${ETCD_PKI_DIR}/node.crt`, 0o644, pki.cert),
        file(`${ETCD_PKI_DIR}/node.key`, 0o600, pki.key),
        file(ETCD_ENV_FILE, 0o644, envFileText(etcdEnv(plan, node))),
        file('/etc/systemd/system.conf.d/10-fcos-cluster.conf', 0o644, SYSTEM_CONF_TEXT),
        file(ETCD_HEALTH_CHECK_PATH, 0o755, ETCD_HEALTH_CHECK),
        ...(plan.updates ? [file(UPDATE_CONF_PATH, 0o644, updateConfText(plan.name, plan.updates, node.name, clientUrls(plan)))] : []),
      ],
    },
    systemd: {
      units: [{ name: 'etcd.service', enabled: true, dropins: [{ name: ETCD_DROPIN, contents: ETCD_DROPIN_TEXT }] }],
    },
  };
  const header = `# fcos cluster ${plan.name}: node ${node.name} (${node.ip}). Written by fcos cluster init; holds a private key.\n`;
  return header + yaml.dump(doc, { lineWidth: -1, noRefs: true });
}

export interface NodeConfig {
  butane: string;
  /** Ignition 3.3.0 JSON text. */
  ignition: string;
}

/** Butane and its Ignition translation, validated; throws Error with the findings when either is invalid (a bug). */
export function nodeConfig(plan: ClusterPlan, node: ClusterNode, pki: NodePki): NodeConfig {
  const butane = nodeButane(plan, node, pki);
  const r = translateAndValidate(butane, { pretty: true });
  if (!r.json || hasErrors(r.findings)) {
    throw new BugError(`the generated config of ${node.name} is invalid:\n${r.findings.map((f) => formatFinding(f)).join('\n')}`);
  }
  return { butane, ignition: r.json.endsWith('\n') ? r.json : r.json + '\n' };
}

/** Node i (1-based) of a plan: name, .10+i address, a MAC from the cluster's id. */
export function planNodes(name: string, subnet: string, count: number, macPrefix: string): ClusterNode[] {
  const base = subnetBase(subnet);
  const nodes: ClusterNode[] = [];
  for (let i = 1; i <= count; i++) {
    nodes.push({ name: `${name}-${i}`, ip: ipFromInt(base + 10 + i), mac: `${macPrefix}:${i.toString(16).padStart(2, '0')}` });
  }
  return nodes;
}

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!;
}

export function ipFromInt(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Checks a CIDR for `count` nodes at .11, .12, ...; returns an error message or undefined. */
export function checkSubnet(subnet: string, count: number): string | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(subnet);
  const base = m ? parseIPv4(m[1]!) : undefined;
  if (!m || base === undefined) return `not an IPv4 CIDR: ${subnet} (example: 10.88.0.0/24)`;
  const len = Number(m[2]);
  if (len < 8 || len > 28) return `prefix length /${len} is out of range (8 to 28)`;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  if ((base & mask) >>> 0 !== base) return `${subnet} has host bits set (did you mean ${ipFromInt((base & mask) >>> 0)}/${len}?)`;
  const size = 2 ** (32 - len);
  if (10 + count + 1 >= size) return `${subnet} is too small for ${count} nodes at .11 to .${10 + count}`;
  if (base >>> 24 === 10 && ((base >>> 16) & 255) === 0 && ((base >>> 8) & 255) === 2) return `${subnet} collides with QEMU's user network (10.0.2.0/24)`;
  return undefined;
}

function subnetBase(subnet: string): number {
  return parseIPv4(subnet.split('/')[0]!)!;
}
