/**
 * The case generator of the Butane differential test (issue #16): seeded Butane configs for every variant and
 * version that both fcos and Butane v0.25.1 know, with the sugar Butane adds (trees and files-dir, boot_device
 * luks/mirror, grub users, kernel_arguments, inline/local contents, systemd units and dropins, users with ssh keys,
 * links, directories, mount units) and mutations that make them invalid or give warnings.
 *
 * Deterministic from a mulberry32 seed. A case is a Butane YAML text plus the files of its files directory; its
 * id (`<variant>-<version>/<n>:<mutation>[+<mutation>]`) is stable for a given PRNG seed.
 */
import yaml from 'js-yaml';
import { mulberry32, type Rng } from './generate.js';

/** A file of the case's files directory: text/bytes, with a mode, or a symlink. */
export type FilesDirEntry = string | Buffer | { mode: number; data: string | Buffer } | { symlink: string };

export interface ButaneCase {
  id: string;
  variant: string;
  /** The version fcos is given. */
  version: string;
  /** The version Butane v0.25.1 is given (1.7.0 → 1.7.0-experimental). */
  upstreamVersion: string;
  /** Ignition spec minor of the output. */
  minor: number;
  mutations: string[];
  text: string;
  files: Record<string, FilesDirEntry>;
  /** Pass -d (the files directory); false when a mutation drops it. */
  filesDir: boolean;
  /** openshift: Ignition output (-r) instead of a MachineConfig. */
  raw: boolean;
}

/** The variants and versions compared, with their Ignition minor and fcos base minor (-1: no fcos sugar). */
export const TARGETS: { variant: string; version: string; upstream?: string; minor: number; fcos: number; weight: number }[] = [
  { variant: 'fcos', version: '1.0.0', minor: 0, fcos: 0, weight: 3 },
  { variant: 'fcos', version: '1.1.0', minor: 1, fcos: 1, weight: 3 },
  { variant: 'fcos', version: '1.2.0', minor: 2, fcos: 2, weight: 3 },
  { variant: 'fcos', version: '1.3.0', minor: 2, fcos: 3, weight: 3 },
  { variant: 'fcos', version: '1.4.0', minor: 3, fcos: 4, weight: 4 },
  { variant: 'fcos', version: '1.5.0', minor: 4, fcos: 5, weight: 4 },
  { variant: 'fcos', version: '1.6.0', minor: 5, fcos: 6, weight: 5 },
  // fcos knows 1.7.0 as stable; Butane v0.25.1 has 1.7.0-experimental (config/config.go:75), the same spec.
  { variant: 'fcos', version: '1.7.0', upstream: '1.7.0-experimental', minor: 6, fcos: 7, weight: 5 },
  { variant: 'flatcar', version: '1.0.0', minor: 3, fcos: -1, weight: 2 },
  { variant: 'flatcar', version: '1.1.0', minor: 4, fcos: -1, weight: 2 },
  { variant: 'r4e', version: '1.0.0', minor: 3, fcos: -1, weight: 1 },
  { variant: 'r4e', version: '1.1.0', minor: 4, fcos: -1, weight: 1 },
  { variant: 'fiot', version: '1.0.0', minor: 4, fcos: -1, weight: 1 },
  { variant: 'openshift', version: '4.8.0', minor: 2, fcos: 3, weight: 1 },
  { variant: 'openshift', version: '4.12.0', minor: 2, fcos: 3, weight: 1 },
  { variant: 'openshift', version: '4.14.0', minor: 4, fcos: 5, weight: 1 },
  { variant: 'openshift', version: '4.20.0', minor: 5, fcos: 6, weight: 2 },
];

type Y = any;
type Target = (typeof TARGETS)[number];

/** A value written into the YAML as is (not quoted): `raw('0644')`, `raw('yes')`, `raw('420.0')`. */
const raw = (s: string) => `RAW~${s}~`;

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const chance = (rng: Rng, p: number) => rng() < p;

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'node', 'etcd', 'kube', 'core', 'os', 'tree', 'unit', 'ssh'];
function text(rng: Rng): string {
  switch (Math.floor(rng() * 8)) {
    case 0:
      return 'hello\n';
    case 1:
      return "a b/c?d#e%f&g=h+i:j@k$l'm(n)o*p!q~r_s-t.u,v;w\n";
    case 2:
      return 'line of text that repeats\n'.repeat(4 + Math.floor(rng() * 40));
    case 3:
      return 'héllo wörld ✓ — ünïcode\n';
    case 4:
      return '[Unit]\nDescription=Example\n\n[Service]\nExecStart=/usr/bin/true\n';
    case 5:
      return '';
    default: {
      const n = 3 + Math.floor(rng() * 30);
      return Array.from({ length: n }, () => pick(rng, WORDS)).join(' ') + '\n';
    }
  }
}
function bytes(rng: Rng): Buffer {
  const n = 8 + Math.floor(rng() * 80);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(rng() * 256)));
}

const SHA512 = 'sha512-' + 'c'.repeat(128);
const UNIT = '[Unit]\nDescription=Generated\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/true\n\n[Install]\nWantedBy=multi-user.target\n';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGYZ1 user@example';
const HASH = '$y$j9T$abcdefghijklmnop$0123456789abcdefghijklmnopqrstuvwxyzABCDE';
const GRUB_HASH = 'grub.pbkdf2.sha512.10000.874A958E526409A4D5EDB7BF8CA0A7C0A2C9B7C8D1E2F3A4B5C6D7E8F9A0B1C2.9C1A3E4F5D6B7A8C9D0E1F2A3B4C5D6E7F8A9B0C1D2E3F4A5B6C7D8E9F0A1B2C3';

/** A valid config for the target, built from a random subset of the features it has. */
function base(rng: Rng, t: Target, files: Record<string, FilesDirEntry>): Y {
  const m = t.minor;
  const cfg: Y = { variant: t.variant, version: t.version };
  const storage: Y = {};
  const sugar = t.fcos >= 0;
  const local = m >= 1;
  // What the variant refuses is left to mutations: openshift (the MCO's limits), r4e/fiot (no disk layout, no kargs).
  const mco = t.variant === 'openshift';
  const noDisks = t.variant === 'r4e' || t.variant === 'fiot';
  let n = 0;
  const contents = (): Y => {
    const r = rng();
    if (local && r < 0.35) {
      const name = `files/f${n++}${chance(rng, 0.3) ? '.bin' : '.txt'}`;
      files[name] = name.endsWith('.bin') ? bytes(rng) : text(rng);
      return { local: name };
    }
    if (r < 0.85) return { inline: text(rng) };
    return chance(rng, 0.5) && !mco ? { source: 'https://example.com/file.txt', verification: { hash: SHA512 } } : { source: 'data:,plain' };
  };
  if (chance(rng, 0.8)) {
    storage.files = Array.from({ length: 1 + Math.floor(rng() * 3) }, (_x, i) => {
      const f: Y = { path: pick(rng, ['/etc', '/opt/app', '/var/lib/x']) + `/file${i}` };
      if (chance(rng, 0.85)) f.contents = contents();
      if (chance(rng, 0.6)) f.mode = raw(pick(rng, ['0644', '0600', '0755', '0640', '420']));
      if (chance(rng, 0.2)) f.overwrite = true;
      if (chance(rng, 0.15)) f.user = { name: 'core' };
      if (!mco && chance(rng, 0.15)) f.append = [{ inline: text(rng) }];
      return f;
    });
  }
  if (!mco && chance(rng, 0.35)) storage.directories = [{ path: '/var/lib/app', mode: raw(pick(rng, ['0755', '0700', '0750'])) }];
  if (!mco && chance(rng, 0.35)) storage.links = [{ path: '/etc/link0', target: pick(rng, ['/etc/file0', '/usr/share/zoneinfo/UTC', 'relative/target']), ...(chance(rng, 0.2) ? { hard: false } : {}) }];
  if (local && chance(rng, 0.3)) {
    const k = n++;
    files[`tree${k}/a.conf`] = text(rng);
    files[`tree${k}/sub/run.sh`] = { mode: 0o755, data: '#!/bin/sh\necho hi\n' };
    if (chance(rng, 0.5)) files[`tree${k}/sub/data.bin`] = bytes(rng);
    if (!mco && chance(rng, 0.4)) files[`tree${k}/link`] = { symlink: 'a.conf' };
    storage.trees = [{ local: `tree${k}`, ...(chance(rng, 0.7) ? { path: pick(rng, ['/etc/tree', '/opt/tree', '/']) } : {}) }];
  }
  if (m >= 1 && !noDisks && chance(rng, 0.25)) {
    const swap = m >= 3 && chance(rng, 0.3);
    storage.filesystems = [
      swap
        ? { device: '/dev/disk/by-partlabel/swap', format: 'swap', with_mount_unit: true }
        : { device: '/dev/disk/by-label/var-data', format: pick(rng, ['xfs', 'ext4']), path: '/var/data', with_mount_unit: true, ...(chance(rng, 0.3) ? { mount_options: ['noatime'] } : {}) },
    ];
  }
  if (!noDisks && chance(rng, 0.2)) {
    const boot = chance(rng, 0.3);
    storage.disks = [
      {
        device: boot ? '/dev/disk/by-id/coreos-boot-disk' : '/dev/vdb',
        ...(boot ? {} : { wipe_table: true }),
        partitions: [boot ? { number: 5, label: 'data', size_mib: 0 } : { label: 'data', size_mib: 1024, ...(chance(rng, 0.5) ? { number: 1 } : {}) }],
      },
    ];
  }
  if (m >= 2 && !noDisks && chance(rng, 0.12)) {
    storage.luks = [{ name: 'data', device: '/dev/disk/by-partlabel/data', clevis: { tpm2: true }, ...(m >= 4 && chance(rng, 0.4) ? { discard: true } : {}) }];
  }
  if (Object.keys(storage).length > 0) cfg.storage = storage;

  if (chance(rng, 0.5)) {
    const units = Array.from({ length: 1 + Math.floor(rng() * 2) }, (_x, i) => {
      const u: Y = { name: `app${i}.service` };
      if (m >= 4 && chance(rng, 0.2)) {
        files[`units/app${i}.service`] = UNIT;
        u.contents_local = `units/app${i}.service`;
      } else if (chance(rng, 0.8)) u.contents = UNIT;
      if (chance(rng, 0.6)) u.enabled = true;
      if (chance(rng, 0.3)) {
        const d: Y = { name: '10-env.conf' };
        if (m >= 4 && chance(rng, 0.3)) {
          files['units/10-env.conf'] = '[Service]\nEnvironment=A=1\n';
          d.contents_local = 'units/10-env.conf';
        } else d.contents = '[Service]\nEnvironment=A=1\n';
        u.dropins = [d];
      }
      return u;
    });
    if (chance(rng, 0.15)) units.push({ name: 'zincati.service', mask: true });
    cfg.systemd = { units };
  }
  if (chance(rng, 0.5)) {
    const u: Y = { name: mco ? 'core' : pick(rng, ['core', 'alice']) };
    if (chance(rng, 0.7)) u.ssh_authorized_keys = [KEY];
    if (m >= 4 && chance(rng, 0.3)) {
      files['keys/id.pub'] = `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKEY2 local@example\n\nssh-rsa AAAAB3NzaC1yc2E other@example\n`;
      u.ssh_authorized_keys_local = ['keys/id.pub'];
    }
    if ((!mco || Number(t.version.split('.')[1]) >= 13) && chance(rng, 0.3)) u.password_hash = HASH;
    if (!mco && chance(rng, 0.3)) u.groups = ['wheel', 'sudo'];
    cfg.passwd = { users: [u] };
    if (!mco && chance(rng, 0.2)) cfg.passwd.groups = [{ name: 'app', gid: 1500 }];
  }
  if (m >= 3 && !mco && !noDisks && chance(rng, 0.3)) {
    cfg.kernel_arguments = { should_exist: ['console=ttyS0,115200n8'], ...(chance(rng, 0.5) ? { should_not_exist: ['quiet'] } : {}) };
  }
  if (chance(rng, 0.15)) {
    const ignVersion = `3.${m}.0`;
    const entry = m >= 1 && chance(rng, 0.6) ? { inline: JSON.stringify({ ignition: { version: ignVersion } }) } : { source: 'https://example.com/base.ign' };
    cfg.ignition = { config: { merge: [entry] } };
  }
  if (sugar && t.fcos >= 3 && chance(rng, 0.3)) {
    const bd: Y = {};
    const mirror = chance(rng, 0.5);
    const luks = !mirror || chance(rng, 0.5);
    if (mirror || chance(rng, 0.3)) bd.layout = pick(rng, ['x86_64', 'aarch64', 'ppc64le']);
    if (luks) {
      bd.luks = chance(rng, 0.5) ? { tpm2: true } : { tang: [{ url: 'https://tang.example.com', thumbprint: 'REPLACE-THIS-WITH-YOUR-TANG-THUMBPRINT' }], ...(chance(rng, 0.4) ? { tpm2: true, threshold: 2 } : {}) };
      if (t.fcos >= 5 && chance(rng, 0.3)) bd.luks.discard = true;
    }
    if (mirror) bd.mirror = { devices: ['/dev/sda', '/dev/sdb'] };
    cfg.boot_device = bd;
  }
  if (sugar && t.fcos >= 5 && chance(rng, 0.2)) {
    cfg.grub = { users: [{ name: 'root', password_hash: GRUB_HASH }, ...(chance(rng, 0.4) ? [{ name: 'admin', password_hash: GRUB_HASH }] : [])] };
  }
  if (t.variant === 'openshift') cfg.metadata = { name: 'worker-custom', labels: { 'machineconfiguration.openshift.io/role': 'worker' } };
  return structOrder(cfg);
}

/**
 * Keys in the order of Butane's Go structs (base Config: version, variant, ignition, kernel_arguments, passwd,
 * storage, systemd; then the variant's own fields). Butane reports findings in its struct walk order, fcos in
 * document order: written this way, the first error is the same one when a config has several.
 */
const ORDER = ['variant', 'version', 'ignition', 'kernel_arguments', 'passwd', 'storage', 'systemd', 'boot_device', 'grub', 'metadata', 'openshift'];
const STORAGE_ORDER = ['directories', 'disks', 'files', 'filesystems', 'links', 'luks', 'raid', 'trees'];
function structOrder(cfg: Y): Y {
  const sorted = (o: Y, order: string[]) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (order.indexOf(a) >>> 0) - (order.indexOf(b) >>> 0)));
  const out = sorted(cfg, ORDER);
  if (out.storage && typeof out.storage === 'object') out.storage = sorted(out.storage, STORAGE_ORDER);
  return out;
}

interface Mut {
  name: string;
  /** Changes the case; false when it does not apply. */
  apply(c: { cfg: Y; files: Record<string, FilesDirEntry>; t: Target; rng: Rng; state: { filesDir: boolean; prefix: string; suffix: string } }): boolean;
}

const ensureFile = (cfg: Y): Y => {
  cfg.storage ??= {};
  if (!Array.isArray(cfg.storage.files)) cfg.storage.files = [];
  if (cfg.storage.files.length === 0) cfg.storage.files.push({ path: '/etc/added' });
  return cfg.storage.files[0];
};

export const BUTANE_MUTATIONS: Mut[] = [
  { name: 'unknown-key', apply: ({ cfg, rng }) => (pick(rng, [() => (cfg.frobnicate = 1), () => (ensureFile(cfg).colour = 'red'), () => ((cfg.passwd ??= { users: [{ name: 'core' }] }).extra = true)])(), true) },
  { name: 'decimal-mode', apply: ({ cfg }) => ((ensureFile(cfg).mode = raw('644')), true) },
  { name: 'float-mode', apply: ({ cfg, rng }) => ((ensureFile(cfg).mode = raw(pick(rng, ['420.0', '493.0', '4.2e2']))), true) },
  { name: 'yaml11-bool', apply: ({ cfg, rng }) => ((ensureFile(cfg).overwrite = raw(pick(rng, ['yes', 'on', 'no', 'off', 'Yes', 'y']))), true) },
  { name: 'bom', apply: ({ state }) => ((state.prefix = '\uFEFF'), true) },
  { name: 'type-error', apply: ({ cfg, rng }) => (pick(rng, [() => (ensureFile(cfg).mode = 'abc'), () => (ensureFile(cfg).overwrite = 'maybe'), () => ((cfg.storage ??= {}).files = 'nope')])(), true) },
  { name: 'relative-path', apply: ({ cfg }) => ((ensureFile(cfg).path = 'etc/relative'), true) },
  { name: 'two-sources', apply: ({ cfg }) => ((ensureFile(cfg).contents = { inline: 'x', source: 'https://example.com/x' }), true) },
  {
    name: 'no-files-dir',
    apply: ({ cfg, files, state }) => {
      if (Object.keys(files).length === 0) return false;
      state.filesDir = false;
      return Boolean(cfg);
    },
  },
  {
    name: 'local-escape',
    apply: ({ cfg, t }) => {
      if (t.minor < 1) return false;
      ensureFile(cfg).contents = { local: '../outside.txt' };
      return true;
    },
  },
  {
    name: 'local-missing',
    apply: ({ cfg, t }) => {
      if (t.minor < 1) return false;
      ensureFile(cfg).contents = { local: 'files/missing.txt' };
      return true;
    },
  },
  {
    name: 'local-reenter',
    apply: ({ cfg, files, t, rng }) => {
      if (t.minor < 1) return false;
      files['files/re.txt'] = 'reentered\n';
      // Through the files directory's parent (each case's files directory is named files) or inside it.
      ensureFile(cfg).contents = { local: pick(rng, ['../files/files/re.txt', 'files/../files/./re.txt']) };
      return true;
    },
  },
  {
    name: 'tree-relative-path',
    apply: ({ cfg, files, t }) => {
      if (t.minor < 1) return false;
      files['rtree/x.conf'] = 'x\n';
      (cfg.storage ??= {}).trees = [{ local: 'rtree', path: 'etc/rtree' }];
      return true;
    },
  },
  {
    name: 'tree-missing',
    apply: ({ cfg, t }) => {
      if (t.minor < 1) return false;
      (cfg.storage ??= {}).trees = [{ local: 'no-such-tree' }];
      return true;
    },
  },
  {
    name: 'tree-conflict',
    apply: ({ cfg, files, t }) => {
      if (t.minor < 1) return false;
      files['ctree/file0'] = 'from tree\n';
      const s = (cfg.storage ??= {});
      s.files = [{ path: '/etc/file0', contents: { inline: 'inline' } }];
      s.trees = [{ local: 'ctree', path: '/etc' }];
      return true;
    },
  },
  {
    name: 'mount-no-format',
    apply: ({ cfg, t }) => {
      if (t.minor < 1) return false;
      (cfg.storage ??= {}).filesystems = [{ device: '/dev/vdb1', path: '/var/x', with_mount_unit: true }];
      return true;
    },
  },
  {
    name: 'swap-unit',
    apply: ({ cfg, t }) => {
      if (t.minor < 1) return false;
      (cfg.storage ??= {}).filesystems = [{ device: '/dev/disk/by-partlabel/swap', format: 'swap', with_mount_unit: true }];
      return true;
    },
  },
  {
    name: 'reserved-label',
    apply: ({ cfg, rng }) => {
      (cfg.storage ??= {}).disks = [{ device: '/dev/vdb', partitions: [{ label: pick(rng, ['root', 'boot', 'EFI-SYSTEM', 'BIOS-BOOT']), number: 7, size_mib: 100 }] }];
      return true;
    },
  },
  { name: 'dup-file', apply: ({ cfg }) => (ensureFile(cfg), cfg.storage.files.push({ path: cfg.storage.files[0].path }), true) },
  { name: 'bad-version', apply: ({ cfg, rng }) => ((cfg.version = pick(rng, ['1.99.0', 'one', '9.0.0'])), true) },
  { name: 'bad-variant', apply: ({ cfg }) => ((cfg.variant = 'coreos'), true) },
  { name: 'yaml-syntax', apply: ({ state }) => ((state.suffix = 'storage: [unclosed\n'), true) },
  {
    name: 'mirror-one-device',
    apply: ({ cfg, t }) => {
      if (t.fcos < 3) return false;
      cfg.boot_device = { layout: 'x86_64', mirror: { devices: ['/dev/sda'] } };
      return true;
    },
  },
  {
    name: 'grub-no-hash',
    apply: ({ cfg, t }) => {
      if (t.fcos < 5) return false;
      cfg.grub = { users: [{ name: 'root' }] };
      return true;
    },
  },
  { name: 'bad-url', apply: ({ cfg }) => ((ensureFile(cfg).contents = { source: 'hxxp//bad url' }), true) },
  {
    name: 'kargs-conflict',
    apply: ({ cfg, t }) => {
      if (t.minor < 3) return false;
      cfg.kernel_arguments = { should_exist: ['quiet'], should_not_exist: ['quiet'] };
      return true;
    },
  },
  { name: 'null-list', apply: ({ cfg }) => (((cfg.storage ??= {}).links = null), true) },
  { name: 'unit-no-name', apply: ({ cfg }) => (((cfg.systemd ??= {}).units = [{ contents: UNIT }]), true) },
  { name: 'link-no-target', apply: ({ cfg }) => (((cfg.storage ??= {}).links = [{ path: '/etc/dangling' }]), true) },
  {
    name: 'merge-inline',
    apply: ({ cfg, t }) => {
      cfg.ignition = { config: { merge: [{ inline: JSON.stringify({ ignition: { version: `3.${t.minor}.0` } }) }] } };
      return true;
    },
  },
  { name: 'compression-gzip', apply: ({ cfg }) => ((ensureFile(cfg).contents = { inline: 'H4sIAAAAAAAA/8pIzcnJBwQAAP//IDqYhgYAAAA=', compression: 'gzip' }), true) },
  { name: 'long-text', apply: ({ cfg, rng }) => ((ensureFile(cfg).contents = { inline: Array.from({ length: 80 }, () => pick(rng, WORDS)).join(' ') }), true) },
];

/** count cases, deterministic from prngSeed; about 40 % unmutated. */
export function generateButaneCases(count: number, prngSeed: number): ButaneCase[] {
  const rng = mulberry32(prngSeed);
  const total = TARGETS.reduce((s, t) => s + t.weight, 0);
  const cases: ButaneCase[] = [];
  const perTarget = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    let r = rng() * total;
    const t = TARGETS.find((x) => (r -= x.weight) < 0) ?? TARGETS[0]!;
    const files: Record<string, FilesDirEntry> = {};
    const cfg = base(rng, t, files);
    const state = { filesDir: true, prefix: '', suffix: '' };
    const mutations: string[] = [];
    const k = rng() < 0.4 ? 0 : rng() < 0.75 ? 1 : 2;
    for (let j = 0; j < k; j++) {
      const mu = pick(rng, BUTANE_MUTATIONS);
      if (mutations.includes(mu.name)) continue;
      if (mu.apply({ cfg, files, t, rng, state })) mutations.push(mu.name);
    }
    const key = `${t.variant}-${t.version}`;
    const n = perTarget.get(key) ?? 0;
    perTarget.set(key, n + 1);
    const body = yaml.dump(structOrder(cfg), { lineWidth: -1, noRefs: true }).replace(/(['"]?)RAW~([^~]*)~\1/g, '$2');
    cases.push({
      id: `${key}/${n}${mutations.length ? ':' + mutations.join('+') : ''}`,
      variant: t.variant,
      version: t.version,
      upstreamVersion: t.upstream ?? t.version,
      minor: t.minor,
      mutations,
      text: state.prefix + body + state.suffix,
      files,
      filesDir: state.filesDir,
      raw: false,
    });
  }
  return cases;
}
