/**
 * Turn a bootstrapped Debian rootfs into a libostree-shaped tree.
 *
 * Everything here works on a plain directory (no chroot), so it can be unit-tested on a small fake tree.
 * See /work/shared/notes/boot-chain.md and the ostree docs "Adapting existing distributions".
 *
 *   /etc → /usr/etc             /var → empty; content kept in /usr/share/factory/var + tmpfiles.d `C` lines
 *   /home → var/home            /root → var/roothome   /opt, /srv, /mnt → var/*   /media → run/media
 *   /usr/local → ../var/usrlocal                        /ostree → sysroot/ostree   /sysroot empty
 *   kernel in /usr/lib/modules/$kver/vmlinuz, /boot empty, no /vmlinuz links, empty /dev /run /tmp
 *   /etc/machine-id = "uninitialized", no SSH host keys, root locked, sshd PasswordAuthentication no
 *
 * Users: Debian trixie has no libnss-altfiles, so /etc/passwd and /etc/group stay in /usr/etc (ostree's 3-way
 * merge keeps them) and every system user and group of the tree is also written to
 * /usr/lib/sysusers.d/00-fcos-base.conf with its fixed uid/gid. systemd-sysusers runs on every boot (a drop-in
 * removes its ConditionNeedsUpdate, which never fires on ostree's mtime-0 /usr), so system users that a newer
 * commit adds are merged into a locally modified /etc/passwd on upgrade.
 */
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../lib/errors.js';

/** Resolve a path inside `root` as a chroot would (symlinks are followed relative to root). */
export function resolveInRoot(root: string, rel: string, followLast = true): string {
  const parts = rel.split('/').filter((p) => p && p !== '.');
  const out: string[] = [];
  let hops = 0;
  while (parts.length) {
    const p = parts.shift()!;
    if (p === '..') {
      out.pop();
      continue;
    }
    const cur = join(root, ...out, p);
    let st;
    try {
      st = lstatSync(cur);
    } catch {
      out.push(p);
      continue;
    }
    if (st.isSymbolicLink() && (parts.length > 0 || followLast)) {
      if (++hops > 40) throw new UserError(`too many levels of symbolic links under ${root}: ${rel}`);
      const t = readlinkSync(cur);
      if (t.startsWith('/')) out.length = 0;
      parts.unshift(...t.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    out.push(p);
  }
  return join(root, ...out);
}

/**
 * Copy an overlay directory tree into the rootfs. Mode bits are preserved, everything is owned by root,
 * directories that already exist keep their mode, `.keep` placeholder files are skipped.
 * Returns the relative paths written (for logging and tests).
 */
export function applyOverlay(root: string, overlay: string): string[] {
  const written: string[] = [];
  const walk = (rel: string) => {
    const src = join(overlay, rel);
    for (const name of readdirSync(src).sort()) {
      if (name === '.keep' || name === '.gitkeep') continue;
      const r = rel ? `${rel}/${name}` : name;
      const s = join(overlay, r);
      const st = lstatSync(s);
      const dest = resolveInRoot(root, r, false);
      if (st.isDirectory()) {
        let dst;
        const target = resolveInRoot(root, r, true);
        try {
          dst = lstatSync(target);
        } catch {
          dst = undefined;
        }
        if (!dst) {
          mkdirSync(target, { recursive: true });
          chmodSync(target, st.mode & 0o7777);
          chownSync(target, 0, 0);
        } else if (!dst.isDirectory()) {
          throw new UserError(`overlay ${overlay}: ${r} is a directory but /${r} in the tree is not`);
        }
        walk(r);
      } else if (st.isSymbolicLink()) {
        rmSync(dest, { force: true, recursive: false });
        mkdirSync(dirname(dest), { recursive: true });
        symlinkSync(readlinkSync(s), dest);
        written.push(r);
      } else if (st.isFile()) {
        try {
          if (lstatSync(dest).isDirectory()) throw new UserError(`overlay ${overlay}: ${r} is a file but /${r} in the tree is a directory`);
          rmSync(dest, { force: true });
        } catch (e) {
          if (e instanceof UserError) throw e;
        }
        mkdirSync(dirname(dest), { recursive: true });
        copyFileSync(s, dest);
        chmodSync(dest, st.mode & 0o7777);
        chownSync(dest, 0, 0);
        written.push(r);
      } else {
        throw new UserError(`overlay ${overlay}: ${r} is not a regular file, directory or symlink`);
      }
    }
  };
  walk('');
  return written;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The records of a colon-separated database (passwd, group): one array of fields a line, comments and blanks skipped. */
function colonRecords(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

export function parsePasswd(text: string): PasswdEntry[] {
  return colonRecords(text).map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), gecos: f[4] ?? '', home: f[5] ?? '/', shell: f[6] ?? '/usr/sbin/nologin' }));
}
export function parseGroup(text: string): GroupEntry[] {
  return colonRecords(text).map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

/** sysusers.d lines for the system users and groups of a tree (uid/gid < 1000 or 65534). */
export function sysusersConf(passwd: PasswdEntry[], group: GroupEntry[]): string {
  const sys = (id: number) => id < 1000 || id === 65534;
  const q = (s: string) => (s === '' ? '-' : /[\s"]/.test(s) ? `"${s.replace(/"/g, '')}"` : s);
  const lines = ['# Generated by fcos compose: the system users and groups of this commit, with fixed ids.'];
  const groupNames = new Set<string>();
  for (const g of group) {
    if (!sys(g.gid) || g.gid === 0) continue;
    // A group named like a user with the same id is created by the u line.
    groupNames.add(g.name);
    lines.push(`g ${g.name} ${g.gid}`);
  }
  for (const u of passwd) {
    if (!sys(u.uid) || u.uid === 0) continue;
    lines.push(`u ${u.name} ${u.uid}:${u.gid} ${q(u.gecos)} ${q(u.home)} ${q(u.shell)}`);
  }
  for (const g of group) {
    if (!sys(g.gid)) continue;
    for (const m of g.members) lines.push(`m ${m} ${g.name}`);
  }
  return lines.join('\n') + '\n';
}

/** Lock root's password in a shadow file text (no password login; access is by SSH keys from Ignition). */
export function lockRootShadow(text: string): string {
  return text
    .split('\n')
    .map((l) => {
      const f = l.split(':');
      if (f[0] !== 'root' || f.length < 2) return l;
      if (!f[1]!.startsWith('!') && f[1] !== '*') f[1] = `!${f[1] ?? ''}`;
      if (f[1] === '!') f[1] = '!*';
      return f.join(':');
    })
    .join('\n');
}

function rmrf(p: string): void {
  rmSync(p, { recursive: true, force: true });
}

function emptyDir(p: string, mode: number): void {
  rmrf(p);
  mkdirSync(p);
  chmodSync(p, mode);
  chownSync(p, 0, 0);
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Move a top-level directory into /var (its content goes to the factory copy later) and link it. */
function linkIntoVar(root: string, name: string, varName: string, target: string): void {
  const p = join(root, name);
  const v = join(root, 'var', varName);
  if (exists(p) && !isSymlink(p)) {
    if (readdirSync(p).length > 0) {
      rmrf(v);
      mkdirSync(dirname(v), { recursive: true });
      renameSync(p, v);
    } else {
      rmrf(p);
    }
  } else {
    rmrf(p);
  }
  symlinkSync(target, p);
}

/** Find the kernel versions of the tree (directories of /usr/lib/modules with a kernel image). */
export function kernelVersions(root: string): string[] {
  const mods = join(root, 'usr', 'lib', 'modules');
  let ks: string[] = [];
  try {
    ks = readdirSync(mods).filter((k) => existsSync(join(mods, k, 'modules.dep')) || existsSync(join(root, 'boot', `vmlinuz-${k}`)) || existsSync(join(mods, k, 'vmlinuz')));
  } catch {
    ks = [];
  }
  return ks.sort();
}

export interface LayoutOptions {
  /** Units from the manifest, for the preset file. */
  units?: { enable: string[]; disable: string[]; mask: string[] };
}

/**
 * Configuration that must happen while /etc is still /etc (before ostree's moves): machine-id, SSH, root lock,
 * users, presets. Idempotent.
 */
export function configureTree(root: string, opts: LayoutOptions = {}): void {
  const etc = join(root, 'etc');
  // First-boot semantics (presets apply) and no shared machine-id.
  writeFileSync(join(etc, 'machine-id'), 'uninitialized\n');
  rmrf(join(root, 'var', 'lib', 'dbus', 'machine-id'));
  // Reproducible and host-independent.
  rmrf(join(etc, 'hostname'));
  if (exists(join(root, 'usr', 'lib', 'systemd', 'systemd-resolved'))) {
    rmrf(join(etc, 'resolv.conf'));
    symlinkSync('../run/systemd/resolve/stub-resolv.conf', join(etc, 'resolv.conf'));
  }
  // SSH: host keys are made per machine at boot (fcos-ssh-hostkeys.service runs ssh-keygen -A), keys only.
  const sshDir = join(etc, 'ssh');
  if (exists(sshDir)) {
    for (const f of readdirSync(sshDir)) if (/^ssh_host_.*_key(\.pub)?$/.test(f)) rmrf(join(sshDir, f));
    mkdirSync(join(sshDir, 'sshd_config.d'), { recursive: true });
    writeFileSync(
      join(sshDir, 'sshd_config.d', '10-fcos.conf'),
      '# fcos: no password logins; access is by SSH keys that Ignition adds.\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n',
    );
  }
  // Root's password locked.
  const shadow = join(etc, 'shadow');
  if (exists(shadow)) {
    const st = lstatSync(shadow);
    writeFileSync(shadow, lockRootShadow(readFileSync(shadow, 'utf8')));
    chmodSync(shadow, st.mode & 0o7777);
    chownSync(shadow, st.uid, st.gid);
  }
  // System users as sysusers.d, run on every boot.
  if (exists(join(etc, 'passwd')) && exists(join(etc, 'group'))) {
    const conf = sysusersConf(parsePasswd(readFileSync(join(etc, 'passwd'), 'utf8')), parseGroup(readFileSync(join(etc, 'group'), 'utf8')));
    mkdirSync(join(root, 'usr', 'lib', 'sysusers.d'), { recursive: true });
    writeFileSync(join(root, 'usr', 'lib', 'sysusers.d', '00-fcos-base.conf'), conf);
    const dropin = join(root, 'usr', 'lib', 'systemd', 'system', 'systemd-sysusers.service.d');
    mkdirSync(dropin, { recursive: true });
    writeFileSync(
      join(dropin, 'fcos.conf'),
      '# ostree: /usr has mtime 0, so ConditionNeedsUpdate=/etc never fires; merge new system users on every boot.\n[Unit]\nConditionNeedsUpdate=\n',
    );
  }
  // Presets: first boot runs preset-all (enable-only). What the manifest disables stays disabled; by default
  // nothing new is enabled (Ignition's own presets, 20-ignition.preset, take precedence).
  if (opts.units) {
    const pdir = join(root, 'usr', 'lib', 'systemd', 'system-preset');
    mkdirSync(pdir, { recursive: true });
    const lines = ['# Generated by fcos compose from the manifest units.'];
    for (const u of opts.units.enable) lines.push(`enable ${u}`);
    for (const u of [...opts.units.disable, ...opts.units.mask]) lines.push(`disable ${u}`);
    writeFileSync(join(pdir, '85-fcos-manifest.preset'), lines.join('\n') + '\n');
    writeFileSync(join(pdir, '99-fcos-default.preset'), '# fcos: units are enabled explicitly (manifest, packages, Ignition).\ndisable *\n');
  }
}

/** /var entries that are caches, logs or per-machine state: not shipped. */
const VAR_DROP = [
  'cache/apt',
  'cache/ldconfig',
  'cache/debconf/config.dat-old',
  'cache/debconf/templates.dat-old',
  'lib/apt/lists',
  'lib/dbus/machine-id',
  'lib/systemd/random-seed',
  'lib/systemd/catalog/database',
  'lib/dpkg/status-old',
  'lib/dpkg/diversions-old',
  'lib/dpkg/statoverride-old',
  'lib/dpkg/lock',
  'lib/dpkg/lock-frontend',
  'lib/dpkg/triggers/Lock',
  'lib/apt/extended_states',
  'backups',
  'tmp',
];

/** Remove the files (not the directories) under a directory: logs are per machine. */
function clearFiles(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    const st = lstatSync(p);
    if (st.isDirectory()) clearFiles(p);
    else rmrf(p);
  }
}

function modeOwner(p: string): string {
  const st = lstatSync(p);
  return `${(st.mode & 0o7777).toString(8).padStart(4, '0')} ${st.uid} ${st.gid}`;
}

/**
 * Move /var into /usr/share/factory/var and write tmpfiles.d lines that recreate it at boot:
 * `d` for the directories of the first two levels (with their mode and owner), `C` for everything below.
 * Returns the tmpfiles text.
 */
export function factoryVar(root: string): string {
  const v = join(root, 'var');
  for (const d of VAR_DROP) rmrf(join(v, d));
  clearFiles(join(v, 'log'));
  const factory = join(root, 'usr', 'share', 'factory', 'var');
  rmrf(factory);
  mkdirSync(dirname(factory), { recursive: true });
  const lines = ['# Generated by fcos compose: recreate the packages\' /var content (ostree ships /var empty).'];
  const entries = exists(v) ? readdirSync(v).sort() : [];
  if (entries.length) {
    renameSync(v, factory);
    for (const a of entries) {
      const pa = join(factory, a);
      const st = lstatSync(pa);
      if (st.isSymbolicLink()) {
        lines.push(`L /var/${a} - - - - ${readlinkSync(pa)}`);
        continue;
      }
      if (!st.isDirectory()) {
        lines.push(`C /var/${a} - - - - /usr/share/factory/var/${a}`);
        continue;
      }
      lines.push(`d /var/${a} ${modeOwner(pa)} -`);
      for (const b of readdirSync(pa).sort()) {
        const pb = join(pa, b);
        const sb = lstatSync(pb);
        if (sb.isSymbolicLink()) lines.push(`L /var/${a}/${b} - - - - ${readlinkSync(pb)}`);
        else lines.push(`C /var/${a}/${b} - - - - /usr/share/factory/var/${a}/${b}`);
      }
    }
  } else {
    rmrf(v);
  }
  mkdirSync(v);
  chmodSync(v, 0o755);
  return lines.join('\n') + '\n';
}

/**
 * The libostree layout transforms (after configureTree and the overlays). Returns the kernel version.
 * /etc moves to /usr/etc; afterwards the tree is what `ostree commit` gets, except the initramfs.
 */
export function ostreeLayout(root: string): { kver: string } {
  const usr = join(root, 'usr');
  // Kernel: /boot/vmlinuz-$kver → /usr/lib/modules/$kver/vmlinuz (config and System.map alongside).
  const kvers = kernelVersions(root);
  if (kvers.length === 0) throw new UserError('the tree has no kernel (/usr/lib/modules/*): add a linux-image package to the manifest');
  if (kvers.length > 1) throw new UserError(`the tree has more than one kernel: ${kvers.join(', ')}`, 'list exactly one linux-image package');
  const kver = kvers[0]!;
  const kdir = join(usr, 'lib', 'modules', kver);
  const boot = join(root, 'boot');
  const moves: [string, string][] = [
    [`vmlinuz-${kver}`, 'vmlinuz'],
    [`config-${kver}`, 'config'],
    [`System.map-${kver}`, 'System.map'],
  ];
  for (const [from, to] of moves) {
    const f = join(boot, from);
    if (exists(f)) {
      rmrf(join(kdir, to));
      renameSync(f, join(kdir, to));
    }
  }
  if (!exists(join(kdir, 'vmlinuz'))) throw new UserError(`no kernel image for ${kver} (expected /boot/vmlinuz-${kver})`);
  emptyDir(boot, 0o755);
  for (const l of ['vmlinuz', 'vmlinuz.old', 'initrd.img', 'initrd.img.old']) rmrf(join(root, l));

  // Top-level directories that live in /var on an ostree system.
  linkIntoVar(root, 'home', 'home', 'var/home');
  linkIntoVar(root, 'root', 'roothome', 'var/roothome');
  linkIntoVar(root, 'opt', 'opt', 'var/opt');
  linkIntoVar(root, 'srv', 'srv', 'var/srv');
  linkIntoVar(root, 'mnt', 'mnt', 'var/mnt');
  rmrf(join(root, 'media'));
  symlinkSync('run/media', join(root, 'media'));
  // /usr/local → ../var/usrlocal
  const ul = join(usr, 'local');
  if (exists(ul) && !isSymlink(ul)) {
    rmrf(join(root, 'var', 'usrlocal'));
    renameSync(ul, join(root, 'var', 'usrlocal'));
  } else rmrf(ul);
  symlinkSync('../var/usrlocal', ul);

  // /var → factory + tmpfiles.d
  const tmpfiles = factoryVar(root);
  const tdir = join(usr, 'lib', 'tmpfiles.d');
  mkdirSync(tdir, { recursive: true });
  writeFileSync(join(tdir, 'fcos-factory-var.conf'), tmpfiles);
  writeFileSync(
    join(tdir, 'fcos-ostree-layout.conf'),
    [
      '# fcos: directories the ostree layout links into /var and /run.',
      'd /var/home 0755 0 0 -',
      'd /var/roothome 0700 0 0 -',
      'd /var/opt 0755 0 0 -',
      'd /var/srv 0755 0 0 -',
      'd /var/mnt 0755 0 0 -',
      'd /var/usrlocal 0755 0 0 -',
      ...['bin', 'etc', 'games', 'include', 'lib', 'man', 'sbin', 'share', 'src'].map((d) => `d /var/usrlocal/${d} 0755 0 0 -`),
      'd /run/media 0755 0 0 -',
      '',
    ].join('\n'),
  );

  // /ostree and /sysroot
  rmrf(join(root, 'ostree'));
  symlinkSync('sysroot/ostree', join(root, 'ostree'));
  emptyDir(join(root, 'sysroot'), 0o755);
  // API filesystems and scratch: empty (ostree commit refuses device nodes).
  for (const d of ['dev', 'proc', 'sys', 'run']) emptyDir(join(root, d), 0o755);
  emptyDir(join(root, 'tmp'), 0o1777);

  // /etc → /usr/etc (ostree refuses a tree with both).
  const etc = join(root, 'etc');
  const uetc = join(usr, 'etc');
  if (exists(uetc)) throw new UserError('the tree has both /etc and /usr/etc');
  if (isSymlink(etc)) rmrf(etc);
  else renameSync(etc, uetc);
  return { kver };
}

