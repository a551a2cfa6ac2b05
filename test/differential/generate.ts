/**
 * The case generator of the Ignition differential test (issue #2, "Done when" 4).
 *
 * Deterministic from a seed: a corpus of valid base configs for spec 3.0.0–3.3.0 (plus, optionally, extra seeds
 * read at test time), each case = one base + 1–2 mutations picked with a mulberry32 PRNG. For spec 3.4.0–3.6.0
 * (issue #16): baseSeeds([4, 5, 6]), seeds34() and the extra mutations MUTATIONS_34. The case id
 * (`<seed>/<n>:<mutation>[+<mutation>]`) is stable for a given PRNG seed and corpus.
 */

/** mulberry32: a small, seedable 32-bit PRNG (never Math.random). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;
/** Generated configs are deliberately ill-typed after mutation. */
type Json = any;

export interface Seed {
  name: string;
  /** Minor spec version 0–3. */
  minor: number;
  config: Json;
}
export interface Case {
  id: string;
  seed: string;
  mutations: string[];
  text: string;
}

const SHA512 = 'sha512-' + 'a'.repeat(128);
const SHA256 = 'sha256-' + 'b'.repeat(64);
const data = (s: string) => 'data:,' + encodeURIComponent(s);
const GUID = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

/** The valid base configs, one family per spec version (features gated on the version they appeared in). */
export function baseSeeds(minors: readonly number[] = [0, 1, 2, 3]): Seed[] {
  const seeds: Seed[] = [];
  for (const minor of minors) {
    const v = `3.${minor}.0`;
    const header = minor >= 1 ? { httpHeaders: [{ name: 'X-Auth', value: 'x' }] } : {};
    const files: Seed = {
      name: `files-${v}`,
      minor,
      config: {
        ignition: { version: v },
        storage: {
          files: [
            { path: '/etc/hostname', mode: 0o644, overwrite: true, contents: { source: data('host1') } },
            {
              path: '/opt/bin/tool',
              mode: 0o755,
              contents: { source: 'https://example.com/tool', verification: { hash: SHA512 }, ...header },
            },
            { path: '/etc/motd', append: [{ source: data('hello') }], user: { id: 0 }, group: { name: 'root' } },
            { path: '/etc/empty' },
          ],
          directories: [{ path: '/var/lib/app', mode: 0o750, user: { name: 'core' } }],
          links: [{ path: '/etc/localtime', target: '/usr/share/zoneinfo/UTC', overwrite: true }],
        },
      },
    };
    if (minor >= 1) files.config.storage.files.push({ path: '/etc/gz', contents: { source: 'https://example.com/a.gz', compression: 'gzip', verification: { hash: SHA256 } } });
    seeds.push(files);
    seeds.push({
      name: `passwd-${v}`,
      minor,
      config: {
        ignition: { version: v },
        passwd: {
          users: [
            { name: 'core', sshAuthorizedKeys: ['ssh-ed25519 AAAA core'], groups: ['wheel'] },
            { name: 'app', uid: 1500, homeDir: '/home/app', shell: '/bin/bash', noCreateHome: false, system: false },
          ],
          groups: [{ name: 'app', gid: 1500 }, { name: 'ops', system: true }],
        },
      },
    });
    seeds.push({
      name: `systemd-${v}`,
      minor,
      config: {
        ignition: { version: v },
        systemd: {
          units: [
            { name: 'app.service', enabled: true, contents: '[Unit]\nDescription=App\n[Service]\nExecStart=/usr/bin/true\n[Install]\nWantedBy=multi-user.target\n' },
            { name: 'docker.service', dropins: [{ name: '10-opts.conf', contents: '[Service]\nEnvironment=A=1\n' }] },
            { name: 'zincati.service', mask: true },
          ],
        },
      },
    });
    const storage: Seed = {
      name: `storage-${v}`,
      minor,
      config: {
        ignition: { version: v },
        storage: {
          disks: [
            {
              device: '/dev/vdb',
              wipeTable: true,
              partitions: [
                { number: 1, label: 'data', sizeMiB: 1024, typeGuid: GUID },
                { number: 2, label: 'log', startMiB: 0, sizeMiB: 0 },
              ],
            },
          ],
          raid: [{ name: 'md0', level: 'raid1', devices: ['/dev/vdc', '/dev/vdd'], spares: 0 }],
          filesystems: [
            { device: '/dev/disk/by-partlabel/data', format: 'xfs', path: '/var/data', label: 'DATA', wipeFilesystem: true },
            { device: '/dev/md/md0', format: 'ext4', options: ['-m0'] },
          ],
        },
      },
    };
    if (minor >= 2) storage.config.storage.luks = [{ name: 'secret', device: '/dev/disk/by-partlabel/log', keyFile: { source: data('key') }, wipeVolume: true }];
    seeds.push(storage);
    const ign: Seed = {
      name: `ignition-${v}`,
      minor,
      config: {
        ignition: {
          version: v,
          config: { merge: [{ source: 'https://example.com/extra.ign', verification: { hash: SHA512 } }] },
          timeouts: { httpResponseHeaders: 20, httpTotal: 60 },
          security: { tls: { certificateAuthorities: [{ source: data('-----BEGIN CERTIFICATE-----\n') }] } },
        },
      },
    };
    if (minor >= 1) ign.config.ignition.proxy = { httpProxy: 'http://proxy:3128', httpsProxy: 'http://proxy:3128', noProxy: ['localhost'] };
    if (minor >= 3) ign.config.kernelArguments = { shouldExist: ['quiet'], shouldNotExist: ['debug'] };
    seeds.push(ign);
    seeds.push({
      name: `replace-${v}`,
      minor,
      config: { ignition: { version: v, config: { replace: { source: 's3://bucket/config.ign' } } } },
    });
  }
  return seeds;
}

// ---- mutation helpers ------------------------------------------------------------------------------------

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const ensure = (o: Json, k: string, d: Json): Json => (o[k] ??= d);
const storage = (c: Json) => ensure(c, 'storage', {});
/** A section's list, created when missing; a detached list when an earlier mutation changed its type. */
const arr = (c: Json, sect: 'storage' | 'systemd' | 'passwd', k: string): Json[] => {
  const s = ensure(c, sect, {});
  const xs = s !== null && typeof s === 'object' ? ensure(s, k, []) : undefined;
  return Array.isArray(xs) ? xs : [];
};
/** An existing element of storage.files (adding one when none). */
function aFile(c: Json, rng: Rng): Json {
  const fs = arr(c, 'storage', 'files');
  if (!fs.length) fs.push({ path: '/etc/added', contents: { source: data('x') } });
  return pick(rng, fs);
}
function aFileWithContents(c: Json, rng: Rng): Json {
  const f = aFile(c, rng);
  f.contents ??= { source: data('x') };
  if (f.contents.source === undefined) f.contents.source = data('x');
  return f;
}
function aUnit(c: Json, rng: Rng): Json {
  const us = arr(c, 'systemd', 'units');
  if (!us.length) us.push({ name: 'added.service', contents: '[Service]\nExecStart=/bin/true\n' });
  return pick(rng, us);
}
function aDisk(c: Json, rng: Rng): Json {
  const ds = arr(c, 'storage', 'disks');
  if (!ds.length) ds.push({ device: '/dev/vdz', partitions: [{ number: 1, label: 'p1' }] });
  const d = pick(rng, ds);
  d.partitions ??= [{ number: 1, label: 'p1' }];
  if (!d.partitions.length) d.partitions.push({ number: 1, label: 'p1' });
  return d;
}
function aFs(c: Json, rng: Rng): Json {
  const fs = arr(c, 'storage', 'filesystems');
  if (!fs.length) fs.push({ device: '/dev/vdy', format: 'ext4' });
  return pick(rng, fs);
}
function aRaid(c: Json): Json {
  const rs = arr(c, 'storage', 'raid');
  if (!rs.length) rs.push({ name: 'md9', level: 'raid1', devices: ['/dev/vdx', '/dev/vdw'] });
  return rs[0];
}
function aUser(c: Json, rng: Rng): Json {
  const us = arr(c, 'passwd', 'users');
  if (!us.length) us.push({ name: 'added' });
  return pick(rng, us);
}
/** Any node (file, directory or link). */
function aNode(c: Json, rng: Rng): Json {
  const kind = pick(rng, ['files', 'directories', 'links'] as const);
  const xs = arr(c, 'storage', kind);
  if (!xs.length) xs.push(kind === 'links' ? { path: '/etc/alink', target: '/x' } : { path: `/etc/added-${kind}` });
  return pick(rng, xs);
}

/**
 * A mutation edits the parsed config in place (returning nothing), or returns the final text (for textual
 * mutations). `valid` says whether it is meant to keep a valid config valid (documentation only; the verdict is
 * always the reference's).
 */
export interface Mutation {
  name: string;
  valid?: boolean;
  apply: (c: Json, rng: Rng, minor: number) => void | string;
}

const MUTATIONS: Mutation[] = [
  // identity and harmless edits (valid)
  { name: 'identity', valid: true, apply: () => undefined },
  { name: 'identity-pretty', valid: true, apply: (c) => JSON.stringify(c, null, 2) },
  { name: 'add-file', valid: true, apply: (c, r) => void arr(c, 'storage', 'files').push({ path: `/etc/new${Math.floor(r() * 100)}`, mode: 0o600, contents: { source: data('new') } }) },
  { name: 'add-dir', valid: true, apply: (c) => void arr(c, 'storage', 'directories').push({ path: '/srv/newdir', mode: 0o700 }) },
  { name: 'add-user', valid: true, apply: (c) => void arr(c, 'passwd', 'users').push({ name: 'newuser', sshAuthorizedKeys: ['ssh-rsa AAAA'] }) },
  { name: 'add-unit', valid: true, apply: (c) => void arr(c, 'systemd', 'units').push({ name: 'new.timer', enabled: false, contents: '[Timer]\nOnCalendar=daily\n' }) },
  { name: 'ok-mode', valid: true, apply: (c, r) => void (aNode(c, r).mode = pick(r, [0, 0o600, 0o1777, 0o4755, 0o7777])) },
  { name: 'ok-special-mode', valid: true, apply: (c, r) => void (aFile(c, r).mode = 0o2755) },
  { name: 'unknown-key-root', valid: true, apply: (c) => void (c.storagee = {}) },
  { name: 'unknown-key-file', valid: true, apply: (c, r) => void (aFile(c, r).pathh = '/x') },
  { name: 'unknown-key-unit', valid: true, apply: (c, r) => void (aUnit(c, r).enable = true) },
  { name: 'ok-null-field', valid: true, apply: (c, r) => void (aFile(c, r).mode = null) },
  { name: 'ok-data-base64', valid: true, apply: (c, r) => void (aFileWithContents(c, r).contents = { source: 'data:text/plain;base64,aGVsbG8=' }) },
  { name: 'ok-sha256', valid: true, apply: (c, r, m) => void (aFileWithContents(c, r).contents.verification = { hash: m >= 1 ? SHA256 : SHA512 }) },
  { name: 'ok-unit-no-contents', valid: true, apply: (c) => void arr(c, 'systemd', 'units').push({ name: 'sshd.service', enabled: true }) },
  { name: 'ok-partition-number-0', valid: true, apply: (c, r) => void aDisk(c, r).partitions.push({ number: 0, label: 'anyslot' }) },
  // paths
  { name: 'relative-path', apply: (c, r) => void (aNode(c, r).path = pick(r, ['etc/foo', 'foo', './etc/foo', ''])) },
  { name: 'unsimplified-path', apply: (c, r) => void (aNode(c, r).path = pick(r, ['/etc/../etc/foo', '/etc//foo', '/etc/./foo', '/etc/foo/'])) },
  { name: 'relative-fs-path', apply: (c, r) => void (aFs(c, r).path = 'var/data') },
  { name: 'relative-link-target-ok', valid: true, apply: (c) => void arr(c, 'storage', 'links').push({ path: '/etc/rel', target: '../usr/x' }) },
  // modes
  { name: 'negative-mode', apply: (c, r) => void (aNode(c, r).mode = -1) },
  { name: 'big-mode', apply: (c, r) => void (aNode(c, r).mode = pick(r, [0o10000, 4096, 100000])) },
  { name: 'float-mode', apply: (c, r) => void (aFile(c, r).mode = 420.5) },
  // URLs and data
  { name: 'bad-scheme', apply: (c, r) => void (aFileWithContents(c, r).contents.source = pick(r, ['ftp://example.com/x', 'file:///etc/x', 'gopher://x/y', 'example.com/x'])) },
  { name: 'bad-scheme-merge', apply: (c) => void (ensure(ensure(c.ignition, 'config', {}), 'merge', []).push({ source: 'ftp://x/y' })) },
  { name: 'bad-url-syntax', apply: (c, r) => void (aFileWithContents(c, r).contents.source = 'http://[::1') },
  { name: 'undecodable-data-url', apply: (c, r) => void (aFileWithContents(c, r).contents.source = pick(r, ['data:;base64,!!!', 'data:text/plain;base64,aGVsbG8', 'data:nocomma', 'data:,%zz'])) },
  { name: 'bad-tls-ca', apply: (c) => void (ensure(ensure(c.ignition, 'security', {}), 'tls', {}).certificateAuthorities = [{ source: 'ftp://x' }]) },
  // hashes
  { name: 'hash-wrong-algo', apply: (c, r) => void (aFileWithContents(c, r).contents.verification = { hash: 'md5-' + 'a'.repeat(32) }) },
  { name: 'hash-wrong-length', apply: (c, r) => void (aFileWithContents(c, r).contents.verification = { hash: 'sha512-' + 'a'.repeat(64) }) },
  { name: 'hash-non-hex', apply: (c, r) => void (aFileWithContents(c, r).contents.verification = { hash: 'sha512-' + 'z'.repeat(128) }) },
  { name: 'hash-no-dash', apply: (c, r) => void (aFileWithContents(c, r).contents.verification = { hash: 'sha512' }) },
  { name: 'hash-sha256-old', apply: (c, r) => void (aFileWithContents(c, r).contents.verification = { hash: SHA256 }) },
  // overwrite / compression / headers
  { name: 'overwrite-no-source', apply: (c) => void arr(c, 'storage', 'files').push({ path: '/etc/ow', overwrite: true }) },
  { name: 'overwrite-no-source-append', apply: (c) => void arr(c, 'storage', 'files').push({ path: '/etc/ow2', overwrite: true, append: [{ source: data('a') }] }) },
  { name: 'bad-compression', apply: (c, r) => void (aFileWithContents(c, r).contents.compression = pick(r, ['zip', 'xz', 'gzip', ''])) },
  { name: 'compression-on-data', apply: (c, r) => void (aFileWithContents(c, r).contents = { source: data('x'), compression: 'gzip' }) },
  { name: 'header-empty-name', apply: (c, r) => void (aFileWithContents(c, r).contents.httpHeaders = [{ name: '', value: 'x' }]) },
  { name: 'header-duplicate', apply: (c, r) => void (aFileWithContents(c, r).contents.httpHeaders = [{ name: 'A', value: '1' }, { name: 'A', value: '2' }]) },
  { name: 'header-ok', valid: true, apply: (c, r) => void (aFileWithContents(c, r).contents.httpHeaders = [{ name: 'A', value: '1' }]) },
  { name: 'header-on-data-url', apply: (c, r) => void (aFileWithContents(c, r).contents = { source: data('x'), httpHeaders: [{ name: 'A', value: '1' }] }) },
  // duplicates and nesting
  { name: 'dup-file-path', apply: (c, r) => void arr(c, 'storage', 'files').push({ path: aFile(c, r).path }) },
  { name: 'dup-file-dir', apply: (c, r) => void arr(c, 'storage', 'directories').push({ path: aFile(c, r).path }) },
  { name: 'dup-link-dir', apply: (c) => void (arr(c, 'storage', 'links').push({ path: '/etc/dd', target: '/x' }), arr(c, 'storage', 'directories').push({ path: '/etc/dd' })) },
  { name: 'node-under-link', apply: (c) => void (arr(c, 'storage', 'links').push({ path: '/etc/lnk', target: '/opt' }), arr(c, 'storage', 'files').push({ path: '/etc/lnk/file' })) },
  { name: 'link-no-target', apply: (c) => void arr(c, 'storage', 'links').push({ path: '/etc/notarget' }) },
  { name: 'link-hard', valid: true, apply: (c) => void arr(c, 'storage', 'links').push({ path: '/etc/hard', target: '/etc/hostname', hard: true }) },
  // systemd
  { name: 'unit-bad-ext', apply: (c, r) => void (aUnit(c, r).name = pick(r, ['app', 'app.txt', 'app.services'])) },
  { name: 'unit-empty-name', apply: (c, r) => void (aUnit(c, r).name = '') },
  { name: 'unit-bad-contents', apply: (c, r) => void (aUnit(c, r).contents = pick(r, ['[Service\nExecStart=/x\n', 'ExecStart=/x\n', '[Service]\nno equals sign here\n'])) },
  { name: 'dropin-bad-name', apply: (c, r) => void (aUnit(c, r).dropins = [{ name: pick(r, ['10-x.service', '10-x', '10-x.conf.bak']), contents: '[Service]\n' }]) },
  { name: 'dropin-bad-contents', apply: (c, r) => void (aUnit(c, r).dropins = [{ name: '10-x.conf', contents: '[Service\n' }]) },
  { name: 'dup-unit', apply: (c, r) => void arr(c, 'systemd', 'units').push({ name: aUnit(c, r).name }) },
  { name: 'dup-dropin', apply: (c, r) => void (aUnit(c, r).dropins = [{ name: 'a.conf' }, { name: 'a.conf' }]) },
  // passwd
  { name: 'dup-user', apply: (c, r) => void arr(c, 'passwd', 'users').push({ name: aUser(c, r).name }) },
  { name: 'dup-group', apply: (c) => void arr(c, 'passwd', 'groups').push({ name: 'grp' }, { name: 'grp', gid: 5 }) },
  { name: 'user-no-name', apply: (c, r) => void delete aUser(c, r).name },
  { name: 'user-empty-name', apply: (c, r) => void (aUser(c, r).name = '') },
  // disks / partitions / filesystems / raid
  { name: 'partition-number-collision', apply: (c, r) => { const d = aDisk(c, r); d.partitions.push({ number: d.partitions[0].number || 7, label: 'other' }); } },
  { name: 'partition-label-collision', apply: (c, r) => { const d = aDisk(c, r); d.partitions.push({ number: 9, label: d.partitions[0].label ?? 'x' }); if (d.partitions[0].label === undefined) d.partitions[0].label = 'x'; } },
  { name: 'partition-long-label', apply: (c, r) => void (aDisk(c, r).partitions[0].label = 'l'.repeat(pick(r, [36, 37, 72]))) },
  { name: 'partition-label-colon', apply: (c, r) => void (aDisk(c, r).partitions[0].label = 'a:b') },
  { name: 'partition-bad-guid', apply: (c, r) => void (aDisk(c, r).partitions[0][pick(r, ['typeGuid', 'guid'])] = pick(r, ['not-a-guid', '0FC63DAF-8483-4772-8E79-3D69D8477DE', 'linux'])) },
  { name: 'partition-neg-number', apply: (c, r) => void (aDisk(c, r).partitions[0].number = -1) },
  { name: 'disk-relative-device', apply: (c, r) => void (aDisk(c, r).device = 'vdb') },
  { name: 'disk-dup-device', apply: (c, r) => void arr(c, 'storage', 'disks').push({ device: aDisk(c, r).device }) },
  { name: 'fs-bad-format', apply: (c, r) => void (aFs(c, r).format = pick(r, ['ntfs', 'zfs', 'EXT4'])) },
  { name: 'fs-no-format', apply: (c, r) => void delete aFs(c, r).format },
  { name: 'fs-relative-device', apply: (c, r) => void (aFs(c, r).device = 'sda1') },
  { name: 'fs-swap', valid: true, apply: (c) => void arr(c, 'storage', 'filesystems').push({ device: '/dev/vdq', format: 'swap' }) },
  { name: 'fs-label-long', apply: (c, r) => { const f = aFs(c, r); f.format = 'xfs'; f.label = 'x'.repeat(13); } },
  { name: 'raid-bad-level', apply: (c, r) => void (aRaid(c).level = pick(r, ['raid2', 'mirror', 'RAID1', ''])) },
  { name: 'raid-linear-spares', apply: (c) => { const x = aRaid(c); x.level = 'linear'; x.spares = 1; } },
  { name: 'raid-no-devices', apply: (c) => void delete aRaid(c).devices },
  { name: 'raid-no-name', apply: (c) => void delete aRaid(c).name },
  { name: 'raid0', valid: true, apply: (c) => void (aRaid(c).level = 'raid0', delete aRaid(c).spares) },
  // wrong types
  { name: 'type-string-for-int', apply: (c, r) => void (aNode(c, r).mode = '0644') },
  { name: 'type-int-for-string', apply: (c, r) => void (aNode(c, r).path = 42) },
  { name: 'type-string-for-bool', apply: (c, r) => void (aFile(c, r).overwrite = 'true') },
  { name: 'type-object-for-array', apply: (c) => void (storage(c).files = { path: '/x' }) },
  { name: 'type-uid-string', apply: (c, r) => void (aUser(c, r).uid = '1000') },
  { name: 'type-unit-enabled', apply: (c, r) => void (aUnit(c, r).enabled = 1) },
  { name: 'type-version-number', apply: (c) => void (c.ignition.version = 3.1) },
  // version changes: a newer field under an older version, or an unknown version
  { name: 'version-newer-field', apply: (c, r, m) => {
    const by: Record<number, () => void> = {
      0: () => void (aFileWithContents(c, r).contents.httpHeaders = [{ name: 'A', value: 'b' }]),
      1: () => void (storage(c).luks = [{ name: 'l', device: '/dev/vda' }]),
      2: () => void (c.kernelArguments = { shouldExist: ['a'] }),
      3: () => void (storage(c).filesystems = [{ device: '/dev/vda', format: 'ext4', mountOptions: ['x'] }], c.ignition.version = '3.2.0'),
      4: () => void (storage(c).luks = [{ name: 'l', device: '/dev/vda', cex: { enabled: true } }]),
      5: () => void (storage(c).luks = [{ name: 'l', device: '/dev/vda', openOptions: ['--x'], discard: true }], c.ignition.version = '3.3.0'),
      6: () => void (storage(c).luks = [{ name: 'l', device: '/dev/vda', cex: { enabled: true } }], c.ignition.version = '3.4.0'),
    };
    by[m]!();
  } },
  { name: 'version-downgrade', apply: (c, r, m) => void (c.ignition.version = `3.${Math.max(0, m - 1 - Math.floor(r() * m))}.0`) },
  { name: 'version-bad', apply: (c, r) => void (c.ignition.version = pick(r, ['3.9.0', '2.3.0', '3.1', 'x', '3.0.0-experimental'])) },
  { name: 'version-missing', apply: (c) => void delete c.ignition.version },
  // required fields
  { name: 'delete-path', apply: (c, r) => void delete aNode(c, r).path },
  { name: 'delete-device', apply: (c, r) => void delete aDisk(c, r).device },
  { name: 'delete-unit-name', apply: (c, r) => void delete aUnit(c, r).name },
  { name: 'delete-dropin-name', apply: (c, r) => void (aUnit(c, r).dropins = [{ contents: '[Service]\n' }]) },
  { name: 'delete-source-merge', apply: (c) => void ensure(ensure(c.ignition, 'config', {}), 'merge', []).push({ verification: { hash: SHA512 } }) },
  { name: 'delete-header-value-ok', apply: (c, r) => void (aFileWithContents(c, r).contents.httpHeaders = [{ name: 'A' }]) },
  // luks (3.2+) / proxy / timeouts / kernel args
  { name: 'luks-no-device', apply: (c) => void (storage(c).luks = [{ name: 'l' }]) },
  { name: 'luks-dup-name', apply: (c) => void (storage(c).luks = [{ name: 'l', device: '/dev/a' }, { name: 'l', device: '/dev/b' }]) },
  { name: 'proxy-bad-url', apply: (c) => void (c.ignition.proxy = { httpProxy: 'ftp://p' }) },
  { name: 'timeout-negative', apply: (c) => void (c.ignition.timeouts = { httpTotal: -5 }) },
  { name: 'kargs-conflict', apply: (c) => void (c.kernelArguments = { shouldExist: ['a'], shouldNotExist: ['a'] }) },
  { name: 'kargs-dup', apply: (c) => void (c.kernelArguments = { shouldExist: ['a', 'a'] }) },
  { name: 'merge-and-replace', apply: (c) => void (c.ignition.config = { merge: [{ source: 'https://a/b' }], replace: { source: 'https://a/c' } }) },
  // more edge cases
  { name: 'unit-odd-name', apply: (c, r) => void (aUnit(c, r).name = pick(r, ['foo@.service', 'foo@bar.service', 'a.mount', '.service', 'a b.service', 'a.target', 'a.slice', 'a.socket'])) },
  { name: 'dir-trailing-slash', apply: (c) => void arr(c, 'storage', 'directories').push({ path: '/var/x/' }) },
  { name: 'root-path', apply: (c, r) => void arr(c, 'storage', pick(r, ['files', 'directories', 'links'])).push({ path: '/', target: '/x' }) },
  { name: 'label-by-format', apply: (c, r) => { const f = aFs(c, r); f.format = pick(r, ['ext4', 'vfat', 'btrfs', 'swap', 'xfs']); f.label = 'L'.repeat(pick(r, [11, 12, 12, 15, 16, 17, 256, 257])); } },
  { name: 'partition-neg-size', apply: (c, r) => void (aDisk(c, r).partitions[0][pick(r, ['sizeMiB', 'startMiB'])] = -1) },
  { name: 'uid-negative', apply: (c, r) => void (aUser(c, r).uid = -1) },
  { name: 'hash-uppercase', apply: (c, r) => void (aFileWithContents(c, r).contents.verification = { hash: 'sha512-' + 'A'.repeat(128) }) },
  { name: 'data-url-mediatype', apply: (c, r) => void (aFileWithContents(c, r).contents = { source: pick(r, ['data:text/plain;charset=utf-8,hi', 'data:;charset=utf-8;base64,aGk=', 'data:,a b', 'data:text/plain;base64,', 'data:,', 'data:base64,aGk=']) }) },
  { name: 'url-variants', apply: (c, r) => void (aFileWithContents(c, r).contents.source = pick(r, ['s3://b/k', 'gs://b/k', 'tftp://h/f', 'http://h/a b', 'https://', 'http:/x', 'HTTP://h/x', 'arn:aws:s3:::b/k', ''])) },
  { name: 'link-empty-target', apply: (c) => void arr(c, 'storage', 'links').push({ path: '/etc/emptytarget', target: '' }) },
  { name: 'contents-and-append', apply: (c, r) => void (aFileWithContents(c, r).append = [{ source: 'ftp://x' }]) },
  { name: 'fs-path-no-format', apply: (c) => void arr(c, 'storage', 'filesystems').push({ device: '/dev/vdp', path: '/mnt' }) },
  { name: 'fs-dup-device', apply: (c, r) => void arr(c, 'storage', 'filesystems').push({ device: aFs(c, r).device, format: 'ext4' }) },
  { name: 'fs-mount-options', apply: (c, r) => void (aFs(c, r).mountOptions = ['noatime']) },
  { name: 'luks-clevis', apply: (c, r) => void (storage(c).luks = [{ name: 'c', device: '/dev/vdc', clevis: pick(r, [{ tpm2: true }, { tang: [{ url: 'http://t', thumbprint: 'x' }] }, { tang: [{ url: 'ftp://t' }] }, { threshold: 2, tpm2: true }, { custom: { pin: 'tpm2', config: '{}' } }]) }]) },
  { name: 'luks-bad-keyfile', apply: (c) => void (storage(c).luks = [{ name: 'k', device: '/dev/vdc', keyFile: { source: 'ftp://k' } }]) },
  { name: 'kargs-empty', apply: (c) => void (c.kernelArguments = { shouldExist: [''] }) },
  { name: 'user-extra', apply: (c, r) => void Object.assign(aUser(c, r), pick(r, [{ passwordHash: '$6$x' }, { homeDir: 'home/x' }, { shell: 'bash' }, { primaryGroup: 'wheel' }, { sshAuthorizedKeys: ['a', 'a'] }, { groups: ['g', 'g'] }])) },
  { name: 'dup-ssh-key-group', apply: (c) => void arr(c, 'passwd', 'groups').push({ name: 'gg', passwordHash: 'x', gid: -3 }) },
  { name: 'disk-wipe-no-partitions', valid: true, apply: (c) => void arr(c, 'storage', 'disks').push({ device: '/dev/vdk', wipeTable: true }) },
  { name: 'partition-shouldexist-false', apply: (c, r) => void Object.assign(aDisk(c, r).partitions[0], pick(r, [{ shouldExist: false }, { shouldExist: false, number: 0, label: undefined }, { resize: true }, { wipePartitionEntry: true, sizeMiB: 1 }])) },
  { name: 'unit-enabled-masked', apply: (c, r) => void Object.assign(aUnit(c, r), { enabled: true, mask: true }) },
  { name: 'dropin-empty-contents', apply: (c, r) => void (aUnit(c, r).dropins = [{ name: 'x.conf', contents: '' }]) },
  { name: 'unit-contents-empty', apply: (c, r) => void (aUnit(c, r).contents = pick(r, ['', '\n', '# just a comment\n', '[Service]\nExecStart=/x \\\n  --arg\n'])) },
  { name: 'raid-options', apply: (c, r) => void (aRaid(c).options = pick(r, [['--foo'], ['a', 'a']])) },
  { name: 'timeouts-types', apply: (c, r) => void (c.ignition.timeouts = pick(r, [{ httpTotal: 0 }, { httpResponseHeaders: 1.5 }, { httpTotal: '10' }])) },
  { name: 'replace-bad', apply: (c, r) => void (ensure(c.ignition, 'config', {}).replace = pick(r, [{ source: 'data:,bad%' }, { verification: { hash: SHA512 } }, { source: 'https://x', compression: 'gzip' }])) },
  // textual
  { name: 'text-trailing-comma', apply: (c) => JSON.stringify(c).replace(/}$/, ',}') },
  { name: 'text-truncated', apply: (c, r) => { const s = JSON.stringify(c); return s.slice(0, Math.max(1, Math.floor(s.length * (0.3 + 0.6 * r())))); } },
  { name: 'text-duplicate-key', valid: true, apply: (c) => JSON.stringify(c).replace(/^\{/, '{"passwd":{},') },
];

/** Whether a mutation makes sense for a spec version (version-specific fields only where they exist). */
function applicable(m: Mutation, minor: number): boolean {
  if (/^header-|compression-on-data|ok-sha256|delete-header/.test(m.name)) return minor >= 1;
  if (m.name === 'hash-sha256-old') return minor === 0;
  if (m.name.startsWith('luks-')) return minor >= 2;
  if (m.name === 'proxy-bad-url') return minor >= 1;
  if (m.name.startsWith('kargs-')) return minor >= 3;
  if (m.name === 'version-downgrade') return minor >= 1;
  return true;
}

export const MUTATION_NAMES = MUTATIONS.map((m) => m.name);

// ---- spec 3.4–3.6 (issue #16) ----------------------------------------------------------------------------

const TANG_ADV = JSON.stringify({ payload: 'eyJrZXlzIjpbXX0', protected: 'eyJhbGciOiJFUzUxMiJ9', signature: 'AAAA' });
const TPL_NO_INSTALL = '[Unit]\nDescription=tpl %i\n[Service]\nExecStart=/usr/bin/echo %i\n';
const TPL_INSTALL = TPL_NO_INSTALL + '[Install]\nWantedBy=multi-user.target\n';

/** Valid base configs that use the spec 3.4–3.6 features (luks with clevis/tang/tpm2, cex, kernel arguments, ...). */
export function seeds34(minors: readonly number[] = [4, 5, 6]): Seed[] {
  const seeds: Seed[] = [];
  for (const minor of minors) {
    const v = `3.${minor}.0`;
    const luks: Json[] = [
      {
        name: 'root',
        device: '/dev/disk/by-partlabel/root',
        label: 'luks-root',
        clevis: { tang: [{ url: 'https://tang.example.com', thumbprint: 'abc', advertisement: TANG_ADV }], tpm2: true, threshold: 1 },
        openOptions: ['--perf-no_read_workqueue'],
        discard: true,
        wipeVolume: true,
        options: ['--cipher', 'aes-xts-plain64'],
      },
      { name: 'data', device: '/dev/vdc', keyFile: { source: data('secret'), verification: { hash: SHA512 } }, uuid: '11111111-2222-3333-4444-555555555555' },
      { name: 'custom', device: '/dev/vdd', clevis: { custom: { pin: 'tpm2', config: '{}', needsNetwork: false } } },
    ];
    if (minor >= 5) luks.push({ name: 'zkey', device: '/dev/dasdb1', cex: { enabled: true } });
    seeds.push({
      name: `luks-${v}`,
      minor,
      config: {
        ignition: { version: v },
        storage: {
          disks: [{ device: '/dev/vdb', wipeTable: true, partitions: [{ label: 'root', number: 4, sizeMiB: 0, resize: true }] }],
          luks,
          filesystems: [{ device: '/dev/disk/by-id/dm-name-root', format: 'xfs', wipeFilesystem: true, label: 'root' }],
        },
        kernelArguments: { shouldExist: ['rd.luks.options=discard', 'console=ttyS0,115200'], shouldNotExist: ['quiet'] },
      },
    });
    seeds.push({
      name: `units-${v}`,
      minor,
      config: {
        ignition: { version: v },
        systemd: {
          units: [
            { name: 'tpl@.service', contents: TPL_INSTALL },
            { name: 'tpl@one.service', enabled: true },
            { name: 'plain.service', enabled: true, contents: '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n', dropins: [{ name: '10-env.conf', contents: '[Service]\nEnvironment=A=1\n' }] },
            { name: 'sshd.service', dropins: [{ name: '20-x.conf', contents: '[Unit]\nAfter=network.target\n' }] },
            { name: 'cups.socket', mask: true, enabled: false },
          ],
        },
        storage: {
          files: [{ path: '/etc/systemd/system/other.service', contents: { source: data('[Service]\nExecStart=/bin/true\n') }, mode: 0o644 }],
        },
      },
    });
    seeds.push({
      name: `nodes-${v}`,
      minor,
      config: {
        ignition: { version: v, config: { merge: [{ source: 'https://example.com/m.ign', httpHeaders: [{ name: 'A', value: 'b' }] }] } },
        passwd: {
          users: [
            { name: 'core', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3 core@a', 'ssh-rsa AAAAB3 core@b'], groups: ['wheel', 'sudo'] },
            { name: 'svc', system: true, noCreateHome: true, shell: '/sbin/nologin', uid: 990, primaryGroup: 'svc' },
          ],
          groups: [{ name: 'svc', gid: 990, system: true }],
        },
        storage: {
          directories: [{ path: '/var/lib/svc', mode: 0o750, user: { name: 'svc' }, group: { name: 'svc' } }, { path: '/srv/shared', mode: 0o1777 }],
          files: [
            { path: '/usr/local/bin/suid', mode: 0o4755, contents: { source: 'https://example.com/bin', verification: { hash: SHA256 } } },
            { path: '/etc/sgid', mode: 0o2755, contents: { source: 'data:;base64,aGk=' } },
            { path: '/etc/motd', append: [{ source: data('hi') }, { source: data('hi') }] },
            { path: '/etc/gz', contents: { source: 's3://bucket/a.gz', compression: 'gzip' } },
          ],
          links: [
            { path: '/etc/localtime', target: '/usr/share/zoneinfo/UTC', overwrite: true },
            { path: '/etc/hard', target: '/etc/sgid', hard: true },
          ],
        },
      },
    });
  }
  return seeds;
}

/** Mutations for the 3.4–3.6 features, used only by the 3.4–3.6 differential test (the 3.0–3.3 corpus stays stable). */
export const MUTATIONS_34: Mutation[] = [
  { name: 'luks-cex-only', valid: true, apply: (c) => void (storage(c).luks = [{ name: 'cx', device: '/dev/dasdc1', cex: { enabled: true } }]) },
  { name: 'luks-cex-disabled-clevis', valid: true, apply: (c) => void (storage(c).luks = [{ name: 'cx', device: '/dev/vdc', cex: { enabled: false }, clevis: { tpm2: true } }]) },
  { name: 'luks-cex-clevis', apply: (c, r) => void (storage(c).luks = [{ name: 'cx', device: '/dev/vdc', cex: { enabled: true }, clevis: pick(r, [{ tpm2: true }, { tang: [{ url: 'http://t', thumbprint: 'x' }] }, { threshold: 2 }, { custom: { pin: 'tpm2', config: '{}' } }, { tpm2: false }, { custom: { config: '{}' } }]) }]) },
  { name: 'luks-cex-keyfile', apply: (c, r) => void (storage(c).luks = [{ name: 'cx', device: '/dev/vdc', cex: { enabled: true }, keyFile: pick(r, [{ source: data('k') }, { source: '' }, { source: 'https://k/k', compression: 'gzip' }]) }]) },
  { name: 'luks-cex-both', apply: (c) => void (storage(c).luks = [{ name: 'cx', device: '/dev/vdc', cex: { enabled: true }, clevis: { tpm2: true }, keyFile: { source: data('k') } }]) },
  { name: 'luks-cex-type', apply: (c, r) => void (storage(c).luks = [{ name: 'cx', device: '/dev/vdc', cex: pick(r, [{ enabled: 'yes' }, true, { enable: true }]) }]) },
  { name: 'luks-openoptions-dup', apply: (c, r) => void (storage(c).luks = [{ name: 'oo', device: '/dev/vdc', openOptions: pick(r, [['--a', '--a'], ['--a', '--b', '--a'], ['', '']]) }]) },
  { name: 'luks-options-dup', valid: true, apply: (c) => void (storage(c).luks = [{ name: 'oo', device: '/dev/vdc', options: ['--a', '--a'], openOptions: ['--x'] }]) },
  { name: 'luks-discard', valid: true, apply: (c, r) => void (storage(c).luks = [{ name: 'dd', device: '/dev/vdc', discard: pick(r, [true, false, null]), wipeVolume: pick(r, [true, false]) }]) },
  { name: 'luks-discard-type', apply: (c, r) => void (storage(c).luks = [{ name: 'dd', device: '/dev/vdc', discard: pick(r, ['yes', 1, []]) }]) },
  { name: 'luks-label', apply: (c, r) => void (storage(c).luks = [{ name: 'lb', device: '/dev/vdc', label: 'x'.repeat(pick(r, [47, 48, 0])) }]) },
  { name: 'luks-name-slash', apply: (c) => void (storage(c).luks = [{ name: 'a/b', device: '/dev/vdc' }]) },
  { name: 'luks-device', apply: (c, r) => void (storage(c).luks = [{ name: 'dv', device: pick(r, ['', 'vdc', '/dev//vdc', '/dev/vdc/']) }]) },
  { name: 'luks-keyfile-variants', apply: (c, r) => void (storage(c).luks = [{ name: 'kf', device: '/dev/vdc', keyFile: pick(r, [{ source: 'ftp://k' }, { source: '' }, { source: 'data:,%zz' }, { verification: { hash: SHA512 } }, { source: 'https://k', httpHeaders: [{ name: 'A', value: 'b' }] }, { source: 'tftp://h/k' }]) }]) },
  { name: 'luks-clevis-variants', apply: (c, r) => void (storage(c).luks = [{ name: 'cl', device: '/dev/vdc', clevis: pick(r, [{ tpm2: true, threshold: 2, tang: [{ url: 'https://t', thumbprint: 'x' }] }, { custom: { pin: 'tpm2', config: '{}' }, tpm2: true }, { custom: { needsNetwork: true } }, { custom: { pin: '', config: '' } }, { custom: { pin: 'foo', config: 'x' } }, { custom: { pin: 'tang' } }, { custom: { pin: 'sss', config: '{}' }, threshold: 0 }, { threshold: -1 }, {}]) }]) },
  { name: 'luks-tang-variants', apply: (c, r) => void (storage(c).luks = [{ name: 'tg', device: '/dev/vdc', clevis: { tang: [pick(r, [{ url: 'https://t', thumbprint: 'x', advertisement: '{"a":1}' }, { url: 'https://t', thumbprint: 'x', advertisement: '{bad' }, { url: 'https://t', thumbprint: 'x', advertisement: '' }, { url: 'https://t' }, { url: 'ftp://t', thumbprint: 'x' }, { url: '', thumbprint: 'x' }, { url: 'http://[::1', thumbprint: 'x' }])] } }]) },
  { name: 'luks-tang-dup', apply: (c) => void (storage(c).luks = [{ name: 'tg', device: '/dev/vdc', clevis: { tang: [{ url: 'https://t', thumbprint: 'x' }, { url: 'https://t', thumbprint: 'y' }] } }]) },
  { name: 'kargs-ok', valid: true, apply: (c, r) => void (c.kernelArguments = pick(r, [{ shouldExist: ['a=b', 'c'] }, { shouldNotExist: ['x'] }, { shouldExist: [], shouldNotExist: [] }, { shouldExist: ['a b'] }])) },
  { name: 'kargs-bad', apply: (c, r) => void (c.kernelArguments = pick(r, [{ shouldExist: ['a'], shouldNotExist: ['a'] }, { shouldNotExist: ['b', 'b'] }, { shouldExist: 'a' }, { shouldExist: [1] }, { shouldExist: [''] }, { shouldExist: ['a', 'a'] }, { shouldexist: ['a'] }, null])) },
  { name: 'template-no-install', apply: (c, r) => void arr(c, 'systemd', 'units').push({ name: 'tt@.service', contents: pick(r, [TPL_NO_INSTALL, '', '# comment only\n', '[Install\n']) }, { name: `tt@${pick(r, ['a', 'b.c', ''])}.service`, enabled: pick(r, [true, true, false]) }) },
  { name: 'template-with-install', valid: true, apply: (c) => void arr(c, 'systemd', 'units').push({ name: 'tw@.service', contents: TPL_INSTALL }, { name: 'tw@x.service', enabled: true }) },
  { name: 'template-instance-first', apply: (c) => void arr(c, 'systemd', 'units').push({ name: 'ti@x.service', enabled: true, contents: '[Service]\nExecStart=/bin/true\n' }, { name: 'ti@.service', contents: TPL_NO_INSTALL }) },
  { name: 'unit-enabled-no-install', apply: (c, r) => void arr(c, 'systemd', 'units').push({ name: pick(r, ['ni.service', 'ni.timer', 'ni@.service']), enabled: true, contents: '[Service]\nExecStart=/bin/true\n' }) },
  { name: 'path-conflicts-unit', apply: (c, r) => { const k = pick(r, ['files', 'directories', 'links'] as const); const n = pick(r, ['pc.service', 'pc.service.d/10-a.conf']); arr(c, 'systemd', 'units').push({ name: 'pc.service', contents: pick(r, ['[Service]\n', '', undefined]), dropins: [{ name: '10-a.conf', contents: pick(r, ['[Service]\n', '']) }] }); arr(c, 'storage', k).push(k === 'links' ? { path: `/etc/systemd/system/${n}`, target: '/dev/null' } : { path: `/etc/systemd/system/${n}` }); } },
  { name: 'special-mode', apply: (c, r) => void (aNode(c, r).mode = pick(r, [0o4755, 0o2755, 0o1777, 0o6755, 0o7777, 0o10000, 0o755])) },
  { name: 'dir-special-mode', apply: (c, r) => void arr(c, 'storage', 'directories').push({ path: '/srv/sp', mode: pick(r, [0o1777, 0o3770]) }) },
  { name: 'merge-source-empty', apply: (c, r) => void (ensure(ensure(c.ignition, 'config', {}), 'merge', []).push(pick(r, [{ source: '' }, {}, { source: 'data:,{}' }, { source: 'https://a', verification: { hash: SHA256 } }]))) },
  { name: 'replace-source-empty', apply: (c, r) => void (ensure(c.ignition, 'config', {}).replace = pick(r, [{ source: '' }, {}, { source: 'data:,{}' }])) },
  { name: 'ca-source-empty', apply: (c, r) => void (ensure(ensure(c.ignition, 'security', {}), 'tls', {}).certificateAuthorities = [pick(r, [{ source: '' }, {}, { source: 'https://ca', compression: 'gzip' }])]) },
  { name: 'user-ssh-keys', apply: (c, r) => void (aUser(c, r).sshAuthorizedKeys = pick(r, [['ssh-ed25519 AAAA x'], ['k', 'k'], [''], [], 'ssh-rsa AAAA'])) },
  { name: 'user-fields-34', apply: (c, r) => void Object.assign(aUser(c, r), pick(r, [{ shouldExist: false }, { shouldExist: false, uid: 5 }, { homeDir: '/home//x' }, { passwordHash: '' }, { gecos: 'G' }])) },
  { name: 'group-fields-34', apply: (c, r) => void arr(c, 'passwd', 'groups').push(pick(r, [{ name: 'g1', shouldExist: false }, { name: 'g1', shouldExist: false, gid: 4 }, { name: '' }, {}])) },
  { name: 'link-variants', apply: (c, r) => void arr(c, 'storage', 'links').push(pick(r, [{ path: '/etc/hl', target: '/srv/shared', hard: true }, { path: '/etc/hl2', target: '/x', hard: true, user: { id: 0 } }, { path: '/etc/sl', target: 'rel/x' }, { path: '/etc/sl2', target: '/x', hard: false, group: { name: 'g' } }, { path: '/etc/sl3', target: '/x', user: { id: 1, name: 'u' } }])) },
  { name: 'null-list', apply: (c, r) => void (storage(c)[pick(r, ['files', 'directories', 'links', 'luks'])] = null) },
  { name: 'missing-name', apply: (c, r) => void (pick(r, ['users', 'groups'] as const) === 'users' ? arr(c, 'passwd', 'users').push({ uid: 5 }) : arr(c, 'passwd', 'groups').push({ gid: 5 })) },
];

/** Whether a 3.4–3.6 mutation makes sense for a spec version (all do; cex below 3.5 is an unused key). */
function applicable34(_m: Mutation, _minor: number): boolean {
  return true;
}

/**
 * The cases: for each base seed in turn (round-robin), 1 (70 %) or 2 mutations. Roughly a third of the cases
 * are identity/harmless; a textual mutation is always last. `extra` mutations join the pool (3.4–3.6 test).
 */
export function generateCases(seeds: Seed[], count: number, prngSeed = 20260101, extra: readonly Mutation[] = []): Case[] {
  const rng = mulberry32(prngSeed);
  const cases: Case[] = [];
  const all = [...MUTATIONS, ...extra];
  const isOk = (m: Mutation, minor: number) => (extra.includes(m) ? applicable34(m, minor) : applicable(m, minor));
  const validMuts = all.filter((m) => m.valid);
  for (let n = 0; n < count; n++) {
    const seed = seeds[n % seeds.length]!;
    const cfg = JSON.parse(JSON.stringify(seed.config));
    const ok = all.filter((m) => isOk(m, seed.minor));
    const okValid = validMuts.filter((m) => isOk(m, seed.minor));
    // ~30 % of cases draw only from the valid-intended pool, so the mix stays around half valid.
    const pool = rng() < 0.3 ? okValid : ok;
    const k = rng() < 0.7 ? 1 : 2;
    const muts: Mutation[] = [];
    for (let i = 0; i < k; i++) muts.push(pick(rng, pool));
    // textual mutations produce the final text: at most one, and last
    muts.sort((a, b) => Number(a.name.startsWith('text-') || a.name === 'identity-pretty') - Number(b.name.startsWith('text-') || b.name === 'identity-pretty'));
    let text: string | undefined;
    for (const m of muts) {
      if (text !== undefined) break;
      const out = m.apply(cfg, rng, seed.minor);
      if (typeof out === 'string') text = out;
    }
    const names = muts.map((m) => m.name);
    if (text !== undefined && muts.length === 2 && (muts[0]!.name.startsWith('text-') || muts[0]!.name === 'identity-pretty')) names.splice(1);
    cases.push({ id: `${seed.name}/${n}:${names.join('+')}`, seed: seed.name, mutations: names, text: text ?? JSON.stringify(cfg) });
  }
  return cases;
}

/** Extra seeds from the Ignition documentation examples (read at test time; valid JSON only, spec versions 3.<minors>.0). */
export function docSeeds(files: { name: string; text: string }[], minors: readonly number[] = [0, 1, 2, 3]): Seed[] {
  const out: Seed[] = [];
  for (const f of files) {
    let cfg: Json;
    try {
      cfg = JSON.parse(f.text);
    } catch {
      continue;
    }
    const m = /^3\.(\d)\.0$/.exec(cfg?.ignition?.version ?? '');
    if (m && minors.includes(Number(m[1]))) out.push({ name: `doc-${f.name.replace(/\.(ign|json)$/, '')}`, minor: Number(m[1]), config: cfg });
  }
  return out;
}
