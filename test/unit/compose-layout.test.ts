import { describe, expect, it, beforeEach } from 'vitest';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOverlay, configureTree, factoryVar, lockRootShadow, ostreeLayout, parseGroup, parsePasswd, resolveInRoot, sysusersConf } from '../../ostree/layout.js';

/** Paths at the top of a tree: a directory, a file, or a symlink's target. */
function topLevel(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(root).sort()) {
    const p = join(root, n);
    const st = lstatSync(p);
    out[n] = st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : st.isDirectory() ? 'dir' : 'file';
  }
  return out;
}

const KVER = '6.12.0-test-amd64';

/** A small fake Debian tree: merged /usr, a kernel in /boot, /var content, ssh host keys. */
function fakeTree(): string {
  const r = mkdtempSync(join(tmpdir(), 'fcos-layout-'));
  const w = (p: string, c = '', mode = 0o644) => {
    mkdirSync(join(r, p, '..'), { recursive: true });
    writeFileSync(join(r, p), c);
    chmodSync(join(r, p), mode);
  };
  for (const d of ['usr/bin', 'usr/lib', 'usr/sbin', 'usr/local/bin', 'etc/ssh', 'boot', 'dev', 'proc', 'sys', 'run/lock', 'tmp', 'home', 'root', 'opt', 'srv', 'mnt', 'media', `usr/lib/modules/${KVER}`, 'var/lib/dpkg', 'var/cache/apt/archives', 'var/log/apt', 'var/lib/apt/lists', 'var/spool/cron']) {
    mkdirSync(join(r, d), { recursive: true });
  }
  symlinkSync('usr/bin', join(r, 'bin'));
  symlinkSync('usr/lib', join(r, 'lib'));
  symlinkSync('/run', join(r, 'var/run'));
  w(`boot/vmlinuz-${KVER}`, 'kernel');
  w(`boot/config-${KVER}`, 'config');
  w(`boot/System.map-${KVER}`, 'map');
  w(`boot/initrd.img-${KVER}`, 'old initrd');
  symlinkSync(`boot/vmlinuz-${KVER}`, join(r, 'vmlinuz'));
  w(`usr/lib/modules/${KVER}/modules.dep`, '');
  w('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nmessagebus:x:100:101::/nonexistent:/usr/sbin/nologin\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n');
  w('etc/group', 'root:x:0:\nadm:x:4:\nmessagebus:x:101:\nsystemd-journal:x:999:messagebus\nnogroup:x:65534:\n');
  w('etc/shadow', 'root:*:20370:0:99999:7:::\nmessagebus:!*:20370::::::\n', 0o640);
  w('etc/machine-id', 'abcdef\n');
  w('etc/hostname', 'buildhost\n');
  w('etc/ssh/ssh_host_ed25519_key', 'secret', 0o600);
  w('etc/ssh/ssh_host_ed25519_key.pub', 'pub');
  w('etc/ssh/sshd_config', 'Include /etc/ssh/sshd_config.d/*.conf\n');
  w('root/.bashrc', 'alias ls=ls');
  w('var/lib/dpkg/status', 'Package: x\n');
  w('var/cache/apt/pkgcache.bin', 'junk');
  w('var/log/apt/history.log', 'log');
  w('var/lib/apt/lists/foo_Packages', 'idx');
  w('var/spool/cron/x', 'x');
  return r;
}

describe('layout transforms on a fake tree', () => {
  let r: string;
  beforeEach(() => {
    r = fakeTree();
  });

  it('resolveInRoot follows symlinks inside the root, also absolute ones', () => {
    expect(resolveInRoot(r, 'bin/sh')).toBe(join(r, 'usr/bin/sh'));
    expect(resolveInRoot(r, 'var/run/x')).toBe(join(r, 'run/x'));
    expect(resolveInRoot(r, '../../etc/passwd')).toBe(join(r, 'etc/passwd'));
  });

  it('applies overlays: modes kept, root-owned, .keep skipped, through merged-usr links', () => {
    const o = mkdtempSync(join(tmpdir(), 'fcos-overlay-'));
    mkdirSync(join(o, 'etc/systemd/system'), { recursive: true });
    mkdirSync(join(o, 'lib/fcos'), { recursive: true });
    writeFileSync(join(o, 'etc/systemd/system/a.service'), '[Unit]\n');
    writeFileSync(join(o, 'lib/fcos/hook'), '#!/bin/sh\n');
    chmodSync(join(o, 'lib/fcos/hook'), 0o750);
    writeFileSync(join(o, '.keep'), '');
    symlinkSync('a.service', join(o, 'etc/systemd/system/b.service'));
    const written = applyOverlay(r, o);
    expect(written.sort()).toEqual(['etc/systemd/system/a.service', 'etc/systemd/system/b.service', 'lib/fcos/hook']);
    const hook = lstatSync(join(r, 'usr/lib/fcos/hook'));
    expect(hook.mode & 0o7777).toBe(0o750);
    expect(hook.uid).toBe(0);
    expect(lstatSync(join(r, 'lib')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(r, 'etc/systemd/system/b.service'))).toBe('a.service');
    expect(existsSync(join(r, '.keep'))).toBe(false);
  });

  it('configureTree: machine-id, ssh keys, sshd, root locked, sysusers, presets', () => {
    configureTree(r, { units: { enable: ['ssh.service'], disable: ['etcd.service'], mask: [] } });
    expect(readFileSync(join(r, 'etc/machine-id'), 'utf8')).toBe('uninitialized\n');
    expect(readdirSync(join(r, 'etc/ssh')).filter((f) => f.startsWith('ssh_host_'))).toEqual([]);
    expect(readFileSync(join(r, 'etc/ssh/sshd_config.d/10-fcos.conf'), 'utf8')).toContain('PasswordAuthentication no');
    expect(existsSync(join(r, 'etc/hostname'))).toBe(false);
    expect(readFileSync(join(r, 'etc/shadow'), 'utf8')).toMatch(/^root:\*:/);
    expect(lstatSync(join(r, 'etc/shadow')).mode & 0o777).toBe(0o640);
    const su = readFileSync(join(r, 'usr/lib/sysusers.d/00-fcos-base.conf'), 'utf8');
    expect(su).toContain('u messagebus 100:101 - /nonexistent /usr/sbin/nologin');
    expect(su).toContain('g systemd-journal 999');
    expect(su).toContain('m messagebus systemd-journal');
    expect(su).not.toContain('alice');
    expect(readFileSync(join(r, 'usr/lib/systemd/system/systemd-sysusers.service.d/fcos.conf'), 'utf8')).toContain('ConditionNeedsUpdate=\n');
    const preset = readFileSync(join(r, 'usr/lib/systemd/system-preset/85-fcos-manifest.preset'), 'utf8');
    expect(preset).toContain('enable ssh.service');
    expect(preset).toContain('disable etcd.service');
    expect(readFileSync(join(r, 'usr/lib/systemd/system-preset/99-fcos-default.preset'), 'utf8')).toContain('disable *');
  });

  it('ostreeLayout: kernel, /boot, links, /var factory, /etc → /usr/etc', () => {
    configureTree(r);
    const { kver } = ostreeLayout(r);
    expect(kver).toBe(KVER);
    expect(readFileSync(join(r, `usr/lib/modules/${KVER}/vmlinuz`), 'utf8')).toBe('kernel');
    expect(existsSync(join(r, `usr/lib/modules/${KVER}/config`))).toBe(true);
    expect(readdirSync(join(r, 'boot'))).toEqual([]);
    expect(existsSync(join(r, 'vmlinuz'))).toBe(false);
    const top = topLevel(r);
    expect(top).toMatchObject({
      home: '-> var/home',
      root: '-> var/roothome',
      opt: '-> var/opt',
      srv: '-> var/srv',
      mnt: '-> var/mnt',
      media: '-> run/media',
      ostree: '-> sysroot/ostree',
      sysroot: 'dir',
      var: 'dir',
      usr: 'dir',
      tmp: 'dir',
    });
    expect(top.etc).toBeUndefined();
    expect(readlinkSync(join(r, 'usr/local'))).toBe('../var/usrlocal');
    expect(readFileSync(join(r, 'usr/etc/machine-id'), 'utf8')).toBe('uninitialized\n');
    for (const d of ['var', 'dev', 'run', 'tmp', 'sysroot', 'proc', 'sys']) expect(readdirSync(join(r, d))).toEqual([]);
    expect(lstatSync(join(r, 'tmp')).mode & 0o7777).toBe(0o1777);
    // Factory copy of /var, without caches, lists and logs (log directories stay).
    const f = join(r, 'usr/share/factory/var');
    expect(readFileSync(join(f, 'lib/dpkg/status'), 'utf8')).toContain('Package: x');
    expect(readFileSync(join(f, 'roothome/.bashrc'), 'utf8')).toBe('alias ls=ls');
    expect(existsSync(join(f, 'cache/apt'))).toBe(false);
    expect(existsSync(join(f, 'lib/apt/lists'))).toBe(false);
    expect(existsSync(join(f, 'log/apt'))).toBe(true);
    expect(existsSync(join(f, 'log/apt/history.log'))).toBe(false);
    expect(existsSync(join(f, 'usrlocal/bin'))).toBe(true);
    const tf = readFileSync(join(r, 'usr/lib/tmpfiles.d/fcos-factory-var.conf'), 'utf8');
    expect(tf).toContain('d /var/lib 0755 0 0 -');
    expect(tf).toContain('C /var/lib/dpkg - - - - /usr/share/factory/var/lib/dpkg');
    expect(tf).toContain('C /var/roothome/.bashrc - - - - /usr/share/factory/var/roothome/.bashrc');
    expect(tf).toContain('L /var/run - - - - /run');
    expect(readFileSync(join(r, 'usr/lib/tmpfiles.d/fcos-ostree-layout.conf'), 'utf8')).toContain('d /var/roothome 0700 0 0 -');
  });

  it('refuses a tree without a kernel', () => {
    const e = mkdtempSync(join(tmpdir(), 'fcos-nokernel-'));
    mkdirSync(join(e, 'etc'));
    expect(() => ostreeLayout(e)).toThrow(/no kernel/);
  });

  it('factoryVar on an empty /var leaves an empty /var', () => {
    const e = mkdtempSync(join(tmpdir(), 'fcos-var-'));
    mkdirSync(join(e, 'var'));
    expect(factoryVar(e)).toMatch(/^#/);
    expect(readdirSync(join(e, 'var'))).toEqual([]);
  });
});

describe('users and passwords', () => {
  it('lockRootShadow locks root only', () => {
    expect(lockRootShadow('root:$6$abc:1:0:99999:7:::\nbob:$6$x:1::::::')).toBe('root:!$6$abc:1:0:99999:7:::\nbob:$6$x:1::::::');
    expect(lockRootShadow('root::1::::::')).toBe('root:!*:1::::::');
    expect(lockRootShadow('root:*:1::::::')).toBe('root:*:1::::::');
  });
  it('sysusersConf lists system users and groups only', () => {
    const c = sysusersConf(parsePasswd('root:x:0:0:root:/root:/bin/bash\nsshd:x:101:65534::/run/sshd:/usr/sbin/nologin\nu:x:1001:1001::/home/u:/bin/sh\n'), parseGroup('root:x:0:\n_ssh:x:102:\nu:x:1001:\n'));
    expect(c.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['g _ssh 102', 'u sshd 101:65534 - /run/sshd /usr/sbin/nologin']);
  });
});
