/**
 * `fcos cluster init` (issue #8): the per-node configs (pure) and the cluster directory made with the real openssl.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { checkSubnet, ETCD_HEALTH_CHECK, etcdEnv, nodeConfig, planNodes, type ClusterPlan } from '../../qemu/cluster/config.js';
import { spawnSync } from 'node:child_process';
import { validateConfig } from '../../ignition/validate.js';
import { etcdctlArgs, randomGroup } from '../../qemu/cluster/dir.js';
import { initCluster } from '../../qemu/cluster/init.js';
import { CLUSTER_CONSOLE_IGNORE, parseMemberList } from '../../qemu/cluster/launch.js';
import { matchFailure } from '../../qemu/console.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBfcosExampleKeyReplaceMeWithYourOwnKey00000 user@example';

function plan(): ClusterPlan {
  return { name: 'c', subnet: '10.88.0.0/24', token: 'tok-1', nodes: planNodes('c', '10.88.0.0/24', 3, '52:54:00:aa:bb'), sshKeys: [KEY], heartbeatMs: 500, electionMs: 5000 };
}

interface Ign {
  ignition: { version: string };
  passwd: { users: { name: string; sshAuthorizedKeys: string[] }[] };
  storage: { files: { path: string; mode: number; contents: { source: string; compression?: string } }[] };
  systemd: { units: { name: string; enabled?: boolean; dropins?: { name: string; contents: string }[] }[] };
}

function fileText(ign: Ign, path: string): string {
  const f = ign.storage.files.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path}`);
  const src = f.contents.source;
  const m = /^data:([^,]*),(.*)$/s.exec(src)!;
  const raw = m[1]!.endsWith(';base64') ? Buffer.from(m[2]!, 'base64') : Buffer.from(decodeURIComponent(m[2]!), 'utf8');
  return (f.contents.compression === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
}

describe('cluster configs (pure)', () => {
  it('plans nodes at .11, .12, ... with distinct MACs', () => {
    const p = plan();
    expect(p.nodes.map((n) => [n.name, n.ip, n.mac])).toEqual([
      ['c-1', '10.88.0.11', '52:54:00:aa:bb:01'],
      ['c-2', '10.88.0.12', '52:54:00:aa:bb:02'],
      ['c-3', '10.88.0.13', '52:54:00:aa:bb:03'],
    ]);
  });

  it('etcd env: https peer and client URLs, initial cluster, token, state new, client cert auth on both sides', () => {
    const p = plan();
    const e = etcdEnv(p, p.nodes[1]!);
    expect(e.ETCD_NAME).toBe('c-2');
    expect(e.ETCD_INITIAL_CLUSTER).toBe('c-1=https://10.88.0.11:2380,c-2=https://10.88.0.12:2380,c-3=https://10.88.0.13:2380');
    expect(e.ETCD_INITIAL_CLUSTER_STATE).toBe('new');
    expect(e.ETCD_INITIAL_CLUSTER_TOKEN).toBe('tok-1');
    expect(e.ETCD_ADVERTISE_CLIENT_URLS).toBe('https://10.88.0.12:2379');
    expect(e.ETCD_INITIAL_ADVERTISE_PEER_URLS).toBe('https://10.88.0.12:2380');
    expect(e.ETCD_LISTEN_CLIENT_URLS).toMatch(/^https:/);
    expect(e.ETCD_LISTEN_PEER_URLS).toMatch(/^https:/);
    expect(e.ETCD_CLIENT_CERT_AUTH).toBe('true');
    expect(e.ETCD_PEER_CLIENT_CERT_AUTH).toBe('true');
    expect(e.ETCD_ELECTION_TIMEOUT).toBe('5000');
  });

  it('one node config: valid Ignition 3.3.0 with hostname, static IP by MAC, certs, env, etcd enabled, SSH key', () => {
    const p = plan();
    const n = p.nodes[2]!;
    const cfg = nodeConfig(p, n, { ca: 'CA PEM\n', cert: 'CERT PEM\n', key: 'KEY PEM\n' });
    expect(cfg.butane).toMatch(/^variant: fcos$/m);
    const v = validateConfig(cfg.ignition);
    expect(v.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const ign = JSON.parse(cfg.ignition) as Ign;
    expect(ign.ignition.version).toBe('3.3.0');
    expect(fileText(ign, '/etc/hostname')).toBe('c-3\n');
    const net = fileText(ign, '/etc/systemd/network/10-fcos-cluster.network');
    expect(net).toContain(`MACAddress=${n.mac}`);
    expect(net).toContain('Address=10.88.0.13/24');
    expect(fileText(ign, '/etc/etcd/pki/node.key')).toBe('KEY PEM\n');
    expect(ign.storage.files.find((f) => f.path === '/etc/etcd/pki/node.key')!.mode).toBe(0o600);
    expect(fileText(ign, '/etc/etcd/fcos-cluster.env')).toContain('ETCD_NAME=c-3\n');
    const etcd = ign.systemd.units.find((u) => u.name === 'etcd.service')!;
    expect(etcd.enabled).toBe(true);
    expect(etcd.dropins![0]!.contents).toContain('EnvironmentFile=/etc/etcd/fcos-cluster.env');
    expect(etcd.dropins![0]!.contents).toContain('LoadCredential=node.key:/etc/etcd/pki/node.key');
    // etcd binds to the static address: it starts once the network is online, not at network.target.
    expect(etcd.dropins![0]!.contents).toMatch(/^\[Unit\]\nWants=network-online\.target\nAfter=network-online\.target\n/m);
    expect(ign.passwd.users[0]!.sshAuthorizedKeys).toEqual([KEY]);
    expect(fileText(ign, '/etc/systemd/system.conf.d/10-fcos-cluster.conf')).toMatch(/^DefaultDeviceTimeoutSec=600s$/m);
    // The boot health check asks etcd where a TLS member answers without a client certificate: its loopback
    // metrics listener. It overrides the image's 20-etcd (plain http on 2379, refused by this member) by name.
    expect(fileText(ign, '/etc/etcd/fcos-cluster.env')).toContain('ETCD_LISTEN_METRICS_URLS=http://127.0.0.1:2381\n');
    const check = ign.storage.files.find((f) => f.path === '/etc/fcos/health.d/20-etcd')!;
    expect(check.mode).toBe(0o755);
    expect(fileText(ign, '/etc/fcos/health.d/20-etcd')).toContain('http://127.0.0.1:2381/health');
    expect(existsSync(join(__dirname, '..', '..', 'ostree', 'guest', 'overlay', 'usr', 'lib', 'fcos', 'health.d', '20-etcd'))).toBe(true);
  });

  it("the cluster's etcd health check passes on etcd's healthy answer and keeps asking otherwise", () => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-etcdcheck-'));
    const stub = (name: string, body: string) => writeFileSync(join(d, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    stub('systemctl', 'exit 0');
    stub('sleep', 'exit 0');
    writeFileSync(join(d, 'check'), ETCD_HEALTH_CHECK, { mode: 0o755 });
    const runCheck = (answer: string) =>
      spawnSync('timeout', ['3', join(d, 'check')], { env: { ...process.env, PATH: `${d}:${process.env.PATH}` }, encoding: 'utf8' }).status;
    stub('curl', `case "$*" in *127.0.0.1:2381/health*) echo '{"health":"true","reason":""}';; *) exit 7;; esac`);
    expect(runCheck('true')).toBe(0);
    stub('curl', `echo '{"health":"false","reason":"RAFT NO LEADER"}'`);
    expect(runCheck('false')).toBe(124); // still waiting when the time-out ends it (update-health's time-out judges)
  });

  it('cluster nodes: only etcd.service start failures (restarted by Restart=always) are not console failures', () => {
    const m = (l: string) => matchFailure(l, undefined, CLUSTER_CONSOLE_IGNORE);
    expect(m('[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39metcd.service\x1b[0m - etcd - highly-available key value store.')).toBeUndefined();
    expect(m('[FAILED] Failed to start systemd-networkd.service - Network Configuration.')).toBe('failed unit');
    expect(m('[FAILED] Failed to start systemd-networkd-wait-online.service - Wait for Network to be Configured.')).toBe('failed unit');
    expect(m('[FAILED] Failed to start etcd-backup.service - x.')).toBe('failed unit');
    expect(m('Kernel panic - not syncing: Attempted to kill init!')).toBe('kernel panic');
  });

  it('subnet checks', () => {
    expect(checkSubnet('10.88.0.0/24', 3)).toBeUndefined();
    expect(checkSubnet('10.88.0.1/24', 3)).toMatch(/host bits/);
    expect(checkSubnet('10.88.0.0/28', 6)).toMatch(/too small/);
    expect(checkSubnet('10.88.0.0/29', 3)).toMatch(/out of range/);
    expect(checkSubnet('10.0.2.0/24', 3)).toMatch(/QEMU/);
    expect(checkSubnet('banana', 3)).toMatch(/not an IPv4 CIDR/);
    expect(checkSubnet('10.300.0.0/16', 3)).toMatch(/not an IPv4 CIDR/);
  });

  it('member list JSON: uint64 IDs kept exact, unstarted members have no name', () => {
    const j = '{"header":{"cluster_id":1},"members":[{"ID":17216236873543398667,"name":"a","peerURLs":["https://10.88.0.11:2380"],"clientURLs":["https://10.88.0.11:2379"]},{"ID":12,"peerURLs":["https://10.88.0.12:2380"]}]}';
    const m = parseMemberList(j);
    expect(m[0]).toEqual({ name: 'a', id: BigInt('17216236873543398667').toString(16), started: true, peerURLs: ['https://10.88.0.11:2380'], clientURLs: ['https://10.88.0.11:2379'] });
    expect(m[1]!.started).toBe(false);
  });

  it('a random multicast group on 239/8 with a port', () => {
    expect(randomGroup()).toMatch(/^239\.\d+\.\d+\.\d+:\d+$/);
  });
});

describe('fcos cluster init (real openssl)', () => {
  const openssl = (args: string[]) => execa('openssl', args).then((r) => r.stdout);

  it('CA, node certs with IP and name SANs, client cert, keys 0600, configs, env; re-run reuses; --force moves aside', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'fcos-cluster-')), 'c');
    const r = await initCluster({ nodes: 3, name: 'demo', out, sshKey: KEY });
    expect(r.ca.reused).toBe(false);
    expect(r.newKeys).toHaveLength(5);
    for (const k of r.newKeys) expect(statSync(k).mode & 0o777).toBe(0o600);
    const text = await openssl(['x509', '-in', r.nodes[1]!.cert, '-noout', '-text']);
    expect(text).toContain('DNS:demo-2');
    expect(text).toContain('IP Address:10.88.0.12');
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    await openssl(['verify', '-CAfile', r.ca.cert, r.nodes[0]!.cert, r.client.cert]);
    // The node's key in its Ignition config is the key of its certificate.
    const ign = JSON.parse(readFileSync(r.nodes[0]!.ignition, 'utf8')) as Ign;
    expect(fileText(ign, '/etc/etcd/pki/node.key')).toBe(readFileSync(r.nodes[0]!.key, 'utf8'));
    expect(statSync(r.nodes[0]!.ignition).mode & 0o777).toBe(0o600);
    expect(validateConfig(readFileSync(r.nodes[0]!.ignition)).findings.filter((f) => f.severity === 'error')).toEqual([]);
    const env = readFileSync(r.etcdctlEnv, 'utf8');
    expect(env).toContain(`ETCDCTL_CERT=${r.client.cert}`);
    expect(env).toMatch(/^ETCDCTL_ENDPOINTS=https:\/\/127\.0\.0\.1:\d+,https:\/\/127\.0\.0\.1:\d+,https:\/\/127\.0\.0\.1:\d+$/m);

    const caBefore = readFileSync(r.ca.cert, 'utf8');
    const keyBefore = readFileSync(r.nodes[0]!.key, 'utf8');
    const again = await initCluster({ nodes: 3, name: 'demo', out, sshKey: KEY, subnet: '10.99.0.0/24' });
    expect(again.ca.reused).toBe(true);
    expect(again.newKeys).toEqual([]);
    expect(readFileSync(r.ca.cert, 'utf8')).toBe(caBefore);
    expect(readFileSync(r.nodes[0]!.key, 'utf8')).toBe(keyBefore);
    // The kept key got a new certificate for the new address.
    expect(await openssl(['x509', '-in', r.nodes[0]!.cert, '-noout', '-ext', 'subjectAltName'])).toContain('10.99.0.11');

    const forced = await initCluster({ nodes: 3, name: 'demo', out, sshKey: KEY, force: true });
    expect(forced.ca.reused).toBe(false);
    expect(forced.movedAside).toBeDefined();
    expect(readFileSync(join(forced.movedAside!, 'pki', 'ca.crt'), 'utf8')).toBe(caBefore);
    expect(readFileSync(join(forced.movedAside!, 'pki', 'demo-1.key'), 'utf8')).toBe(keyBefore);
    expect(readFileSync(r.ca.cert, 'utf8')).not.toBe(caBefore);
  });

  it('generates an SSH key when none is given; refuses a private key file and a bad key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcos-cluster-'));
    const r = await initCluster({ nodes: 1, out: join(dir, 'a') });
    expect(r.sshIdentity).toBe(join(dir, 'a', 'ssh', 'id_ed25519'));
    expect(existsSync(r.sshIdentity!)).toBe(true);
    const priv = join(dir, 'priv');
    writeFileSync(priv, '-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n-----END OPENSSH PRIVATE KEY-----\n');
    await expect(initCluster({ nodes: 1, out: join(dir, 'b'), sshKeyFile: priv })).rejects.toThrow(/private key/);
    await expect(initCluster({ nodes: 1, out: join(dir, 'c'), sshKey: 'hello' })).rejects.toThrow(/not an SSH public key/);
    await expect(initCluster({ nodes: 0, out: join(dir, 'd') })).rejects.toThrow(/--nodes/);
    await expect(initCluster({ nodes: 3, out: join(dir, 'e'), subnet: '10.0.2.0/24' })).rejects.toThrow(/QEMU/);
    expect(existsSync(join(dir, 'd'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['a', 'priv']);
  });

  it('etcdctl arguments carry the CA, the client cert and the endpoints', () => {
    const a = etcdctlArgs('/x', ['https://127.0.0.1:1'], ['member', 'list']);
    expect(a.slice(0, 8)).toEqual(['--endpoints', 'https://127.0.0.1:1', '--cacert', '/x/pki/ca.crt', '--cert', '/x/pki/client.crt', '--key', '/x/pki/client.key']);
    expect(a.slice(-2)).toEqual(['member', 'list']);
  });
});
