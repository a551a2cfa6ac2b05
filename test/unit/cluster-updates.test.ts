/**
 * Fleet updates of `fcos cluster` (issue #18): the init flags (checked, kept in cluster.json, old files read with
 * defaults), each node's /etc/fcos/update.conf, and the parsing of `etcdctl get --prefix /fcos/updates/ -w json`
 * for `fcos cluster status` (hand-written fixtures in etcd's JSON: keys and values base64, int64 leases).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../../lib/errors.js';
import { validateConfig } from '../../ignition/validate.js';
import { nodeConfig, planNodes, type ClusterPlan } from '../../qemu/cluster/config.js';
import { clusterUpdates, type ClusterFile } from '../../qemu/cluster/dir.js';
import { initCluster } from '../../qemu/cluster/init.js';
import { defaultUpdates, describeUpdates, formatUpdates, parseUpdatesDump, resolveUpdates, updateConfText, type ClusterUpdates } from '../../qemu/cluster/updates.js';
import { buildCli, fcosCli } from './cli-helpers.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBfcosExampleKeyReplaceMeWithYourOwnKey00000 user@example';
const NODES = ['c-1', 'c-2', 'c-3'];
const EPS = ['https://10.88.0.11:2379', 'https://10.88.0.12:2379', 'https://10.88.0.13:2379'];

/** The update.conf sourced by bash, as fcos-update's load_conf does: the variables it sets. */
function sourced(text: string, vars: string[]): Record<string, string> {
  const d = mkdtempSync(join(tmpdir(), 'fcos-upconf-'));
  writeFileSync(join(d, 'update.conf'), text);
  const r = spawnSync('bash', ['-c', `set -eu; . "$1"; shift; for v in "$@"; do printf '%s=%s\\n' "$v" "\${!v-<unset>}"; done`, 'x', join(d, 'update.conf'), ...vars], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return Object.fromEntries(r.stdout.trimEnd().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

function userError(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).message).not.toContain('\n');
    return e as UserError;
  }
  throw new UserError('no error thrown');
}

describe('cluster update settings (pure)', () => {
  it('defaults: etcd-lock, group default, 1 slot, ttl 600, no URL', () => {
    expect(resolveUpdates({}, NODES)).toEqual({ strategy: 'etcd-lock', lockSlots: 1, lockTtl: 600, lockGroup: 'default', groups: {} });
  });

  it('flags over the previous settings; a flag not given keeps the previous value; "" removes the URL', () => {
    const prev: ClusterUpdates = { ...defaultUpdates(), url: 'http://10.0.2.2:8080/repo', lockSlots: 2, groups: { 'c-1': 'a', 'c-9': 'gone' } };
    const r = resolveUpdates({ lockTtl: 900 }, NODES, prev);
    expect(r).toEqual({ strategy: 'etcd-lock', url: 'http://10.0.2.2:8080/repo', lockSlots: 2, lockTtl: 900, lockGroup: 'default', groups: { 'c-1': 'a' } });
    expect(resolveUpdates({ updateUrl: '' }, NODES, prev).url).toBeUndefined();
    expect(resolveUpdates({ updateUrl: 'https://u.example/repo/' }, NODES).url).toBe('https://u.example/repo');
  });

  it('--groups: GROUP=NODE,NODE;...; the others in --lock-group', () => {
    const r = resolveUpdates({ groups: 'a=c-1,c-2; b=c-3', lockGroup: 'rest' }, NODES);
    expect(r.groups).toEqual({ 'c-1': 'a', 'c-2': 'a', 'c-3': 'b' });
    expect(r.lockGroup).toBe('rest');
  });

  it('periodic needs a window; the window is parsed and checked', () => {
    const r = resolveUpdates({ updateStrategy: 'periodic', updateWindow: 'Sat,Sun 02:30 90' }, NODES);
    expect(r.window).toEqual({ days: ['Sat', 'Sun'], start: '02:30', minutes: 90 });
    expect(userError(() => resolveUpdates({ updateStrategy: 'periodic' }, NODES)).message).toMatch(/needs --update-window/);
    expect(userError(() => resolveUpdates({ updateWindow: 'Sat 02:30 90' }, NODES)).message).toMatch(/periodic only/);
    // Back to another strategy: a kept window is dropped, not an error.
    expect(resolveUpdates({ updateStrategy: 'immediate' }, NODES, r).window).toBeUndefined();
  });

  it('bad values are one-line user errors with a hint', () => {
    const bad: [Parameters<typeof resolveUpdates>[0], RegExp][] = [
      [{ updateStrategy: 'sometimes' }, /unknown strategy/],
      [{ updateUrl: 'ftp://x/repo' }, /--update-url/],
      [{ updateUrl: "http://x/repo';reboot'" }, /--update-url/],
      [{ updateUrl: 'http://x/re po' }, /--update-url/],
      [{ lockSlots: 0 }, /--lock-slots must be 1 to 99/],
      [{ lockTtl: 5 }, /--lock-ttl must be 60 to 86400/],
      [{ lockGroup: 'a/b' }, /--lock-group: bad group name/],
      [{ groups: 'a=c-1;b=c-1' }, /c-1 is in two groups/],
      [{ groups: 'a=c-7' }, /no node "c-7"/],
      [{ groups: 'c-1' }, /not GROUP=NODE/],
      [{ updateStrategy: 'periodic', updateWindow: 'Sa 02:30 90' }, /bad days/],
      [{ updateStrategy: 'periodic', updateWindow: 'Sat 24:00 90' }, /bad start/],
      [{ updateStrategy: 'periodic', updateWindow: 'Sat 02:30 0' }, /out of range/],
    ];
    for (const [o, re] of bad) {
      const e = userError(() => resolveUpdates(o, NODES));
      expect(e.message).toMatch(re);
      expect(e.hint).toBeTruthy();
    }
  });

  it('update.conf (etcd-lock): every LOCK_* key, endpoints of all nodes, NODE_NAME, as bash reads it', () => {
    const u = resolveUpdates({ updateUrl: 'http://10.0.2.2:8080/repo', groups: 'a=c-2', lockSlots: 2, lockTtl: 300 }, NODES);
    const text = updateConfText('c', u, 'c-2', EPS);
    const v = sourced(text, ['STRATEGY', 'URL', 'LOCK_ENDPOINTS', 'LOCK_CACERT', 'LOCK_CERT', 'LOCK_KEY', 'LOCK_GROUP', 'LOCK_SLOTS', 'LOCK_TTL', 'NODE_NAME', 'WINDOW_DAYS']);
    expect(v).toEqual({
      STRATEGY: 'etcd-lock',
      URL: 'http://10.0.2.2:8080/repo',
      LOCK_ENDPOINTS: EPS.join(','),
      LOCK_CACERT: '/etc/etcd/pki/ca.crt',
      LOCK_CERT: '/etc/etcd/pki/node.crt',
      LOCK_KEY: '/etc/etcd/pki/node.key',
      LOCK_GROUP: 'a',
      LOCK_SLOTS: '2',
      LOCK_TTL: '300',
      NODE_NAME: 'c-2',
      WINDOW_DAYS: '<unset>',
    });
    expect(sourced(updateConfText('c', u, 'c-1', EPS), ['LOCK_GROUP']).LOCK_GROUP).toBe('default');
  });

  it('update.conf without --update-url writes no URL (the image default stays); periodic writes the window', () => {
    expect(updateConfText('c', defaultUpdates(), 'c-1', EPS)).not.toMatch(/^URL=/m);
    const p = resolveUpdates({ updateStrategy: 'periodic', updateWindow: 'Mon,Tue 23:00 60' }, NODES);
    const v = sourced(updateConfText('c', p, 'c-1', EPS), ['STRATEGY', 'WINDOW_DAYS', 'WINDOW_START', 'WINDOW_MINUTES', 'LOCK_ENDPOINTS']);
    expect(v).toEqual({ STRATEGY: 'periodic', WINDOW_DAYS: 'Mon Tue', WINDOW_START: '23:00', WINDOW_MINUTES: '60', LOCK_ENDPOINTS: '<unset>' });
    expect(describeUpdates(p)).toMatch(/^periodic, window Mon,Tue 23:00 \+60 min; no URL/);
  });

  it('the node config carries /etc/fcos/update.conf (0644) and still validates', () => {
    const nodes = planNodes('c', '10.88.0.0/24', 3, '52:54:00:aa:bb');
    const plan: ClusterPlan = { name: 'c', subnet: '10.88.0.0/24', token: 't', nodes, sshKeys: [KEY], heartbeatMs: 500, electionMs: 5000, updates: resolveUpdates({ updateUrl: 'http://10.0.2.2:8080/repo' }, NODES) };
    const cfg = nodeConfig(plan, nodes[0]!, { ca: 'CA\n', cert: 'CERT\n', key: 'KEY\n' });
    expect(validateConfig(cfg.ignition).findings.filter((f) => f.severity === 'error')).toEqual([]);
    const ign = JSON.parse(cfg.ignition) as { storage: { files: { path: string; mode: number; contents: { source: string; compression?: string } }[] } };
    const f = ign.storage.files.find((x) => x.path === '/etc/fcos/update.conf')!;
    expect(f.mode).toBe(0o644);
    const m = /^data:([^,]*),(.*)$/s.exec(f.contents.source)!;
    const raw = m[1]!.endsWith(';base64') ? Buffer.from(m[2]!, 'base64') : Buffer.from(decodeURIComponent(m[2]!), 'utf8');
    const text = (f.contents.compression === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
    expect(text).toContain(`LOCK_ENDPOINTS='${EPS.join(',')}'`);
    expect(text).toContain("NODE_NAME='c-1'");
  });

  it('an old cluster.json without updates reads as the defaults', () => {
    expect(clusterUpdates({} as Pick<ClusterFile, 'updates'>)).toEqual(defaultUpdates());
    expect(clusterUpdates({ updates: { lockSlots: 3 } as ClusterUpdates })).toEqual({ ...defaultUpdates(), lockSlots: 3 });
  });
});

/* ---------- status: etcdctl get --prefix /fcos/updates/ -w json ---------- */

const b64 = (s: string) => Buffer.from(s).toString('base64');
const SUM_A = 'a'.repeat(64);
const SUM_B = 'b'.repeat(64);

function kv(key: string, value: string, lease: bigint | number = 0): string {
  // Leases are int64 and printed as bare numbers, e.g. 7587870988437455876 (beyond a double's exact integers).
  return `{"key":"${b64(key)}","create_revision":5,"mod_revision":9,"version":2,"value":"${b64(value)}"${lease ? `,"lease":${lease}` : ''}}`;
}

function dump(kvs: string[]): string {
  return `{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":42,"raft_term":3},"kvs":[${kvs.join(',')}],"count":${kvs.length}}`;
}

describe('parseUpdatesDump', () => {
  it('node reports, lock holders (hex lease) and failed versions', () => {
    const json = dump([
      kv('/fcos/updates/failed/' + SUM_B, JSON.stringify({ version: '2', checksum: SUM_B, node: 'c-3', at: '2026-12-04T10:00:00Z', reason: 'health check 20-etcd failed' })),
      kv('/fcos/updates/lock/default/0', JSON.stringify({ node: 'c-2', machine_id: 'm2', from: '1', from_checksum: SUM_A, to: '2', to_checksum: SUM_B, lease: '694d8a3c1f2b7e04', since: '2026-12-04T09:59:00Z' }), 7587870988437455876n),
      kv('/fcos/updates/nodes/c-1', JSON.stringify({ node: 'c-1', booted: '2', booted_checksum: SUM_B, staged: '', health: 'ok', strategy: 'etcd-lock', at: '2026-12-04T10:01:00Z' })),
      kv('/fcos/updates/nodes/c-2', JSON.stringify({ node: 'c-2', booted: '1', booted_checksum: SUM_A, staged: '2', health: 'ok', strategy: 'etcd-lock', at: '2026-12-04T10:02:00Z' })),
    ]);
    const u = parseUpdatesDump(json, NODES);
    expect(u.error).toBeUndefined();
    expect(u.nodes).toEqual([
      { node: 'c-1', booted: '2', bootedChecksum: SUM_B, staged: '', health: 'ok', strategy: 'etcd-lock', at: '2026-12-04T10:01:00Z' },
      { node: 'c-2', booted: '1', bootedChecksum: SUM_A, staged: '2', health: 'ok', strategy: 'etcd-lock', at: '2026-12-04T10:02:00Z' },
      { node: 'c-3', booted: '?', bootedChecksum: '?', staged: '?', health: '?', strategy: '?', at: '?' },
    ]);
    expect(u.locks).toEqual([{ group: 'default', slot: '0', node: 'c-2', from: '1', to: '2', since: '2026-12-04T09:59:00Z', lease: (7587870988437455876n).toString(16) }]);
    expect(u.failed).toEqual([{ checksum: SUM_B, version: '2', node: 'c-3', at: '2026-12-04T10:00:00Z', reason: 'health check 20-etcd failed' }]);
    const text = formatUpdates(u).join('\n');
    expect(text).toContain('  c-1  booted 2 (bbbbbbbbbbbb)  staged -  health ok');
    expect(text).toContain('  c-3  booted ? (?)  staged ?');
    expect(text).toContain('  default/0  c-2  1 -> 2  since 2026-12-04T09:59:00Z  lease 694d');
    expect(text).toContain('  2 (bbbbbbbbbbbb)  on c-3 at 2026-12-04T10:00:00Z: health check 20-etcd failed');
  });

  it('garbled and missing values read as "?"; unknown keys are skipped; other nodes are listed after the cluster\'s', () => {
    const json = dump([
      kv('/fcos/updates/nodes/c-1', 'not json{'),
      kv('/fcos/updates/nodes/c-2', '[1,2]'),
      kv('/fcos/updates/nodes/stray', JSON.stringify({ booted: 7, health: null })),
      kv('/fcos/updates/lock/b/1', '', 0),
      kv('/fcos/updates/lock/a/10', JSON.stringify({ node: 'x' }), 1),
      kv('/fcos/updates/lock/a/2', JSON.stringify({ node: 'y' }), 2),
      kv('/fcos/updates/something/else', '{}'),
      kv('/other/key', '{}'),
      '{"key":42,"value":null}',
      '{"value":"' + b64('{}') + '"}',
    ]);
    const u = parseUpdatesDump(json, NODES);
    expect(u.nodes.map((n) => [n.node, n.booted, n.health])).toEqual([
      ['c-1', '?', '?'],
      ['c-2', '?', '?'],
      ['c-3', '?', '?'],
      ['stray', '7', '?'],
    ]);
    expect(u.locks.map((l) => `${l.group}/${l.slot}:${l.node}:${l.lease}`)).toEqual(['a/2:y:2', 'a/10:x:1', 'b/1:?:?']);
    expect(u.failed).toEqual([]);
    expect(() => formatUpdates(u)).not.toThrow();
  });

  it('an empty prefix (count 0, no kvs) and output that is not JSON', () => {
    const empty = parseUpdatesDump('{"header":{"revision":3},"count":0}', ['c-1']);
    expect(empty).toEqual({ nodes: [{ node: 'c-1', booted: '?', bootedChecksum: '?', staged: '?', health: '?', strategy: '?', at: '?' }], locks: [], failed: [] });
    expect(formatUpdates(empty).join('\n')).toMatch(/locks:\n {2}\(none held\)\nfailed versions:\n {2}\(none\)$/);
    const bad = parseUpdatesDump('Error: context deadline exceeded', ['c-1']);
    expect(bad.error).toMatch(/not JSON/);
    expect(bad.nodes).toHaveLength(1);
    expect(parseUpdatesDump('null', []).nodes).toEqual([]);
  });
});

describe('fcos cluster init: update settings in cluster.json and the node configs', () => {
  it('stored, kept on a re-run, reset by --force; old cluster.json files without them still work', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'fcos-cluster-up-')), 'c');
    const r = await initCluster({ nodes: 3, name: 'demo', out, sshKey: KEY, updateUrl: 'http://10.0.2.2:8080/repo', groups: 'a=demo-1,demo-2', lockSlots: 2 });
    expect(r.updates).toMatchObject({ strategy: 'etcd-lock', url: 'http://10.0.2.2:8080/repo', lockSlots: 2, groups: { 'demo-1': 'a', 'demo-2': 'a' } });
    const file = () => JSON.parse(readFileSync(join(out, 'cluster.json'), 'utf8')) as ClusterFile;
    expect(file().updates).toEqual(r.updates);
    const ign = readFileSync(r.nodes[2]!.ignition, 'utf8');
    expect(validateConfig(ign).findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(ign).toContain('/etc/fcos/update.conf');

    const again = await initCluster({ nodes: 3, name: 'demo', out, sshKey: KEY, lockTtl: 1200 });
    expect(again.updates).toEqual({ ...r.updates, lockTtl: 1200 });

    // A cluster.json from before issue #18: no updates; a re-run writes the defaults.
    const old = file();
    delete old.updates;
    writeFileSync(join(out, 'cluster.json'), JSON.stringify(old));
    expect((await initCluster({ nodes: 3, name: 'demo', out, sshKey: KEY })).updates).toEqual(defaultUpdates());

    const forced = await initCluster({ nodes: 3, name: 'demo', out, sshKey: KEY, lockSlots: 3, force: true });
    expect(forced.updates).toEqual({ ...defaultUpdates(), lockSlots: 3 });
  });

  it('a bad flag is refused before anything is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcos-cluster-up-'));
    await expect(initCluster({ nodes: 3, out: join(dir, 'x'), sshKey: KEY, groups: 'a=nope' })).rejects.toThrow(/no node "nope"/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  it('bin/fcos: a bad value is one line with a hint, exit 1', async () => {
    await buildCli();
    const dir = mkdtempSync(join(tmpdir(), 'fcos-cluster-up-'));
    const r = await fcosCli(['cluster', 'init', '-n', '3', '--out', join(dir, 'c'), '--ssh-key', KEY, '--update-strategy', 'periodic']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('fcos: --update-strategy periodic needs --update-window\n  hint: e.g. --update-window "Sat,Sun 02:30 90"');
  }, 60_000);
});
