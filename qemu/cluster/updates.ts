/**
 * Fleet updates of an `fcos cluster` (issue #18), the host side; pure, no I/O.
 *
 * - init: the update settings (`--update-strategy`, `--update-url`, `--lock-*`, `--groups`, `--update-window`),
 *   checked as user errors, kept in cluster.json, and each node's /etc/fcos/update.conf for the image's update
 *   agent (`fcos-update`, strategy `etcd-lock`: a reboot semaphore per group in etcd; docs/upgrade.md "Fleet updates
 *   (etcd-lock)").
 * - status: what the agents wrote under /fcos/updates/ (`etcdctl get --prefix /fcos/updates/ -w json`, keys and
 *   values base64): each node's last report, the semaphore holders, the versions a node rolled back from. Missing or
 *   garbled values read as "?", never as a crash.
 */
import { UserError } from '../../lib/errors.js';

export const UPDATE_STRATEGIES = ['etcd-lock', 'immediate', 'periodic', 'off'] as const;
export type UpdateStrategy = (typeof UPDATE_STRATEGIES)[number];
export const UPDATE_CONF_PATH = '/etc/fcos/update.conf';
export const DEFAULT_LOCK_GROUP = 'default';
export const DEFAULT_LOCK_SLOTS = 1;
export const DEFAULT_LOCK_TTL = 600;
export const UPDATES_PREFIX = '/fcos/updates/';
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** The maintenance window of strategy periodic (WINDOW_DAYS, WINDOW_START, WINDOW_MINUTES). */
export interface UpdateWindow {
  days: string[];
  start: string;
  minutes: number;
}

/** cluster.json `updates` (absent in files from before issue #18: defaultUpdates()). */
export interface ClusterUpdates {
  strategy: UpdateStrategy;
  /** The `fcos serve` URL (…/repo); none: no URL is written, the image's own (if any) stays. */
  url?: string;
  lockSlots: number;
  lockTtl: number;
  /** The group of every node that `groups` does not name. */
  lockGroup: string;
  /** node name → group (only the nodes given with --groups). */
  groups: Record<string, string>;
  window?: UpdateWindow;
}

export function defaultUpdates(): ClusterUpdates {
  return { strategy: 'etcd-lock', lockSlots: DEFAULT_LOCK_SLOTS, lockTtl: DEFAULT_LOCK_TTL, lockGroup: DEFAULT_LOCK_GROUP, groups: {} };
}

/** The flags of `fcos cluster init`; each one not given keeps the previous run's value (or the default). */
export interface UpdateOptions {
  updateStrategy?: string;
  updateUrl?: string;
  lockSlots?: number;
  lockTtl?: number;
  lockGroup?: string;
  /** "name=node1,node2;name2=node3" */
  groups?: string;
  /** "Sat,Sun 02:30 90" */
  updateWindow?: string;
}

const GROUP_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const URL_RE = /^https?:\/\/[^\s'"$`\\;&|<>()]+$/;

function checkGroup(g: string, flag: string): string {
  if (!GROUP_RE.test(g)) throw new UserError(`${flag}: bad group name ${JSON.stringify(g)}`, 'letters, digits, dot, dash and underscore, at most 63 characters (it is an etcd key segment)');
  return g;
}

/** `--groups "a=n1,n2;b=n3"` → node → group, for the nodes of the plan only. */
export function parseGroups(spec: string, nodes: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(';').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=]*)=(.*)$/.exec(part);
    if (!m) throw new UserError(`--groups: ${JSON.stringify(part)} is not GROUP=NODE,NODE`, 'example: --groups "a=fcos-etcd-1,fcos-etcd-2;b=fcos-etcd-3"');
    const group = checkGroup(m[1]!.trim(), '--groups');
    for (const n of m[2]!.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!nodes.includes(n)) throw new UserError(`--groups: no node ${JSON.stringify(n)} in this cluster`, `the nodes are ${nodes.join(', ')}`);
      if (out[n] !== undefined && out[n] !== group) throw new UserError(`--groups: node ${n} is in two groups (${out[n]} and ${group})`, 'a node belongs to one group');
      out[n] = group;
    }
  }
  return out;
}

/** `--update-window "Sat,Sun 02:30 90"` (days, start HH:MM local time, length in minutes). */
export function parseWindow(spec: string): UpdateWindow {
  const hint = 'DAYS START MINUTES, e.g. --update-window "Sat,Sun 02:30 90" (days Mon…Sun, local time, 1–1440 minutes)';
  const m = /^\s*(\S+)\s+(\S+)\s+(\d+)\s*$/.exec(spec);
  if (!m) throw new UserError(`--update-window: cannot read ${JSON.stringify(spec)}`, hint);
  const days = m[1]!.split(',').filter(Boolean);
  const bad = days.find((d) => !WEEKDAYS.includes(d));
  if (!days.length || bad !== undefined || new Set(days).size !== days.length) throw new UserError(`--update-window: bad days ${JSON.stringify(m[1])}`, hint);
  if (!/^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(m[2]!)) throw new UserError(`--update-window: bad start ${JSON.stringify(m[2])}`, hint);
  const minutes = Number(m[3]);
  if (minutes < 1 || minutes > 1440) throw new UserError(`--update-window: length ${minutes} is out of range`, hint);
  return { days, start: m[2]!, minutes };
}

function intIn(v: number, lo: number, hi: number, flag: string, hint: string): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new UserError(`${flag} must be ${lo} to ${hi} (got ${v})`, hint);
  return v;
}

/** The settings of this run: the flags over the previous cluster.json's (or the defaults); user errors for bad values. */
export function resolveUpdates(o: UpdateOptions, nodes: string[], prev?: Partial<ClusterUpdates>): ClusterUpdates {
  const base = { ...defaultUpdates(), ...(prev ?? {}) };
  const strategy = (o.updateStrategy ?? base.strategy) as UpdateStrategy;
  if (!UPDATE_STRATEGIES.includes(strategy)) throw new UserError(`--update-strategy: unknown strategy ${JSON.stringify(strategy)}`, `one of ${UPDATE_STRATEGIES.join(', ')}`);
  let url = o.updateUrl === undefined ? base.url : o.updateUrl.trim() || undefined;
  if (url !== undefined && !URL_RE.test(url)) throw new UserError(`--update-url: not an http(s) URL without spaces or shell characters: ${url.slice(0, 60)}`, 'the URL of `fcos serve`, e.g. http://10.0.2.2:8080/repo');
  if (url?.endsWith('/')) url = url.replace(/\/+$/, '');
  const lockSlots = intIn(o.lockSlots ?? base.lockSlots, 1, 99, '--lock-slots', 'how many nodes of a group may reboot at once');
  const lockTtl = intIn(o.lockTtl ?? base.lockTtl, 60, 86400, '--lock-ttl', 'seconds a held slot lives without its holder (longer than a reboot)');
  const lockGroup = checkGroup(o.lockGroup ?? base.lockGroup, '--lock-group');
  // Groups of nodes that no longer exist (a re-run with fewer --nodes) are dropped.
  const groups = o.groups !== undefined ? parseGroups(o.groups, nodes) : Object.fromEntries(Object.entries(base.groups ?? {}).filter(([n]) => nodes.includes(n)));
  const window = o.updateWindow !== undefined ? (o.updateWindow.trim() ? parseWindow(o.updateWindow) : undefined) : base.window;
  if (strategy === 'periodic' && !window) throw new UserError('--update-strategy periodic needs --update-window', 'e.g. --update-window "Sat,Sun 02:30 90"');
  if (strategy !== 'periodic' && o.updateWindow?.trim()) throw new UserError(`--update-window is used with --update-strategy periodic only (strategy is ${strategy})`, 'add --update-strategy periodic, or drop --update-window');
  return { strategy, ...(url ? { url } : {}), lockSlots, lockTtl, lockGroup, groups, ...(strategy === 'periodic' && window ? { window } : {}) };
}

export function nodeGroup(u: ClusterUpdates, node: string): string {
  return u.groups[node] ?? u.lockGroup;
}

/** /etc/fcos/update.conf of one node (shell variables, read by fcos-update's load_conf over the image's defaults). */
/** `endpoints`: every node's https client URL. */
export function updateConfText(clusterName: string, u: ClusterUpdates, node: string, endpoints: string[]): string {
  const q = (v: string | number) => `'${v}'`;
  const lines = [
    `# fcos cluster ${clusterName}: update agent settings of ${node} (written by fcos cluster init; docs/cluster.md)`,
    `STRATEGY=${q(u.strategy)}`,
  ];
  if (u.url) lines.push(`URL=${q(u.url)}`);
  if (u.strategy === 'periodic' && u.window) lines.push(`WINDOW_DAYS=${q(u.window.days.join(' '))}`, `WINDOW_START=${q(u.window.start)}`, `WINDOW_MINUTES=${q(u.window.minutes)}`);
  if (u.strategy === 'etcd-lock') {
    lines.push(
      `LOCK_ENDPOINTS=${q(endpoints.join(','))}`,
      `LOCK_CACERT='/etc/etcd/pki/ca.crt'`,
      `LOCK_CERT='/etc/etcd/pki/node.crt'`,
      `LOCK_KEY='/etc/etcd/pki/node.key'`,
      `LOCK_GROUP=${q(nodeGroup(u, node))}`,
      `LOCK_SLOTS=${q(u.lockSlots)}`,
      `LOCK_TTL=${q(u.lockTtl)}`,
    );
  }
  lines.push(`NODE_NAME=${q(node)}`);
  return lines.join('\n') + '\n';
}

/* ---------- status: /fcos/updates/ ---------- */

export interface NodeReport {
  node: string;
  booted: string;
  bootedChecksum: string;
  staged: string;
  health: string;
  strategy: string;
  at: string;
}
export interface LockHolder {
  group: string;
  slot: string;
  node: string;
  from: string;
  to: string;
  since: string;
  /** Hex lease ID, "?" when none. */
  lease: string;
}
export interface FailedVersion {
  checksum: string;
  version: string;
  node: string;
  at: string;
  reason: string;
}
export interface UpdatesStatus {
  nodes: NodeReport[];
  locks: LockHolder[];
  failed: FailedVersion[];
  /** etcdctl failed or its output was not JSON. */
  error?: string;
}

const UNKNOWN = '?';

function b64(s: unknown): string | undefined {
  if (typeof s !== 'string') return undefined;
  return Buffer.from(s, 'base64').toString('utf8');
}

/** A field of a value's JSON: string or number as text, "" stays "" (e.g. nothing staged), anything else "?". */
function field(o: Record<string, unknown> | undefined, k: string): string {
  const v = o?.[k];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return UNKNOWN;
}

function parseValue(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `etcdctl get --prefix /fcos/updates/ -w json`: { header, kvs: [{ key, value (base64), lease, … }], count }.
 * Lease IDs are int64 (beyond JSON's exact integers): read as text, shown in hex like etcdctl's `lease list`.
 * `nodes` lists the cluster's nodes, so a node that never reported shows as "?".
 */
export function parseUpdatesDump(json: string, nodes: string[] = []): UpdatesStatus {
  let doc: { kvs?: unknown };
  try {
    doc = JSON.parse(json.replace(/"lease":\s*(\d+)/g, '"lease":"$1"')) as { kvs?: unknown };
  } catch {
    return { ...emptyReports(nodes), error: 'etcdctl output is not JSON' };
  }
  const out: UpdatesStatus = { nodes: [], locks: [], failed: [] };
  const kvs = Array.isArray(doc?.kvs) ? (doc.kvs as Record<string, unknown>[]) : [];
  for (const kv of kvs) {
    const key = b64(kv?.key);
    if (!key?.startsWith(UPDATES_PREFIX)) continue;
    const rest = key.slice(UPDATES_PREFIX.length).split('/');
    const v = parseValue(b64(kv.value));
    if (rest[0] === 'nodes' && rest.length === 2) {
      out.nodes.push({ node: rest[1]!, booted: field(v, 'booted'), bootedChecksum: field(v, 'booted_checksum'), staged: field(v, 'staged'), health: field(v, 'health'), strategy: field(v, 'strategy'), at: field(v, 'at') });
    } else if (rest[0] === 'lock' && rest.length === 3) {
      const lease = typeof kv.lease === 'string' && kv.lease !== '0' ? BigInt(kv.lease).toString(16) : UNKNOWN;
      out.locks.push({ group: rest[1]!, slot: rest[2]!, node: field(v, 'node'), from: field(v, 'from'), to: field(v, 'to'), since: field(v, 'since'), lease });
    } else if (rest[0] === 'failed' && rest.length === 2) {
      out.failed.push({ checksum: rest[1]!, version: field(v, 'version'), node: field(v, 'node'), at: field(v, 'at'), reason: field(v, 'reason') });
    }
  }
  for (const n of nodes) if (!out.nodes.some((r) => r.node === n)) out.nodes.push(unknownReport(n));
  const order = (n: string) => (nodes.includes(n) ? nodes.indexOf(n) : nodes.length);
  out.nodes.sort((a, b) => order(a.node) - order(b.node) || a.node.localeCompare(b.node));
  out.locks.sort((a, b) => a.group.localeCompare(b.group) || a.slot.localeCompare(b.slot, undefined, { numeric: true }));
  return out;
}

function unknownReport(node: string): NodeReport {
  return { node, booted: UNKNOWN, bootedChecksum: UNKNOWN, staged: UNKNOWN, health: UNKNOWN, strategy: UNKNOWN, at: UNKNOWN };
}

export function emptyReports(nodes: string[]): UpdatesStatus {
  return { nodes: nodes.map(unknownReport), locks: [], failed: [] };
}

/** The text lines of `fcos cluster status` for the updates. */
export function formatUpdates(u: UpdatesStatus): string[] {
  const short = (c: string) => (c.length > 12 && /^[0-9a-f]+$/.test(c) ? c.slice(0, 12) : c);
  const none = (s: string) => (s === '' ? '-' : s);
  return [
    `updates:${u.error ? ` (${u.error})` : ''}`,
    ...u.nodes.map((n) => `  ${n.node}  booted ${none(n.booted)} (${short(none(n.bootedChecksum))})  staged ${none(n.staged)}  health ${none(n.health)}  strategy ${none(n.strategy)}  at ${none(n.at)}`),
    'locks:',
    ...(u.locks.length ? u.locks.map((l) => `  ${l.group}/${l.slot}  ${l.node}  ${none(l.from)} -> ${none(l.to)}  since ${none(l.since)}  lease ${l.lease}`) : ['  (none held)']),
    'failed versions:',
    ...(u.failed.length ? u.failed.map((f) => `  ${none(f.version)} (${short(f.checksum)})  on ${none(f.node)} at ${none(f.at)}: ${none(f.reason)}`) : ['  (none)']),
  ];
}

/** One line for `fcos cluster init`: the strategy and what goes with it. */
export function describeUpdates(u: ClusterUpdates): string {
  const url = u.url ?? 'no URL (the nodes do not update unless the image has one)';
  if (u.strategy === 'etcd-lock') {
    const named = Object.entries(u.groups);
    const groups = named.length ? `groups ${[...new Set(named.map(([, g]) => g))].join(', ')} (others ${u.lockGroup})` : `group ${u.lockGroup}`;
    return `etcd-lock, ${groups}, ${u.lockSlots} slot(s), ttl ${u.lockTtl} s; ${url}`;
  }
  if (u.strategy === 'periodic' && u.window) return `periodic, window ${u.window.days.join(',')} ${u.window.start} +${u.window.minutes} min; ${url}`;
  return `${u.strategy}; ${url}`;
}
