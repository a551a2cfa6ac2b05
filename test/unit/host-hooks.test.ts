/**
 * The mmdebstrap hooks that were shell in TS template strings, now plain files run with quoted arguments
 * (ostree/bootstrap-{setup,customize}-hook.sh, qemu/baseline-customize.sh; issue 17). Each hook command is run the
 * way mmdebstrap runs one with shell metacharacters (`sh -c COMMAND exec TREE`), on a temp tree, with values that
 * hold spaces, quotes and `$(...)`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../lib/run.js';
import { bootstrapHooks } from '../../ostree/bootstrap.js';
import { baselineHookCommand } from '../../qemu/baseline.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
/** A temp dir whose path has a space, a quote and a `$(...)` in it. */
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "fcos-hooks it's $(touch pwned) "));
  dirs.push(d);
  return d;
}
/** Run a hook command as mmdebstrap does: sh -c COMMAND with the tree as $1. */
function runHook(command: string, tree: string, env: Record<string, string> = {}) {
  return run('sh', ['-c', command, 'exec', tree], { env });
}

describe('bootstrap hooks (ostree/bootstrap-*-hook.sh)', () => {
  it('setup: links the cached .debs into the tree and copies the package lists; customize: new .debs out, host files gone', async () => {
    const d = tmp();
    const debs = join(d, 'debs');
    const lists = join(d, 'lists dir');
    const tree = join(d, 'tree');
    mkdirSync(debs);
    mkdirSync(lists);
    mkdirSync(tree);
    writeFileSync(join(debs, 'a_1_amd64.deb'), 'A');
    writeFileSync(join(lists, "deb.debian.org_dists_trixie_main_binary-amd64_Packages"), 'P');
    writeFileSync(join(lists, "odd 'name'_Release"), 'R');
    const hooks = bootstrapHooks(debs, readdirSync(lists).map((f) => join(lists, f)));

    await runHook(hooks.setup, tree);
    const archives = join(tree, 'var/cache/apt/archives');
    expect(readdirSync(archives).sort()).toEqual(['a_1_amd64.deb', 'partial']);
    expect(statSync(join(archives, 'a_1_amd64.deb')).ino).toBe(statSync(join(debs, 'a_1_amd64.deb')).ino); // a hard link
    expect(readdirSync(join(tree, 'var/lib/apt/lists')).sort()).toEqual(['deb.debian.org_dists_trixie_main_binary-amd64_Packages', "odd 'name'_Release", 'partial']);
    expect(existsSync(join(process.cwd(), 'pwned'))).toBe(false);

    // mmdebstrap downloaded b; it left the host's hostname and its build-time settings in the tree
    writeFileSync(join(archives, 'b_2_amd64.deb'), 'B');
    mkdirSync(join(tree, 'etc/apt/apt.conf.d'), { recursive: true });
    mkdirSync(join(tree, 'etc/dpkg/dpkg.cfg.d'), { recursive: true });
    for (const f of ['etc/hostname', 'etc/resolv.conf', 'etc/apt/apt.conf.d/99mmdebstrap', 'etc/dpkg/dpkg.cfg.d/99mmdebstrap', 'etc/keep']) writeFileSync(join(tree, f), 'x');
    await runHook(hooks.customize, tree);
    expect(readdirSync(debs).sort()).toEqual(['a_1_amd64.deb', 'b_2_amd64.deb']);
    expect(readFileSync(join(debs, 'b_2_amd64.deb'), 'utf8')).toBe('B');
    expect(readdirSync(join(tree, 'etc')).sort()).toEqual(['apt', 'dpkg', 'keep']);
    expect(readdirSync(join(tree, 'etc/apt/apt.conf.d'))).toEqual([]);
  });

  it('setup fails when a package list is missing (set -e)', async () => {
    const d = tmp();
    mkdirSync(join(d, 'tree'));
    const hooks = bootstrapHooks(join(d, 'debs'), [join(d, 'missing_Packages')]);
    await expect(runHook(hooks.setup, join(d, 'tree'))).rejects.toThrow(/failed/);
  });
});

describe('baseline customize hook (qemu/baseline-customize.sh)', () => {
  /** A tree with the directories the packages would have made, and a fake chroot that records its calls. */
  function tree(): { d: string; root: string; env: Record<string, string>; calls: () => string[] } {
    const d = tmp();
    const root = join(d, 'root');
    for (const sub of ['etc/ssh/sshd_config.d', 'etc/sudoers.d', 'etc/systemd/system', 'var/lib/dbus']) mkdirSync(join(root, sub), { recursive: true });
    writeFileSync(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
    writeFileSync(join(root, 'var/lib/dbus/machine-id'), 'x\n');
    const bin = join(d, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'chroot'), `#!/bin/sh\nprintf '%s\\n' "$*" >> "$FAKE_CALLS"\n`);
    chmodSync(join(bin, 'chroot'), 0o755);
    const log = join(d, 'calls');
    return { d, root, env: { PATH: `${bin}:${process.env.PATH}`, FAKE_CALLS: log }, calls: () => readFileSync(log, 'utf8').trim().split('\n') };
  }

  it('writes the key exactly as given (quotes and $(...) stay text), core, sudo, DHCP, the negative control; bookworm keeps the ssh generator', async () => {
    const t = tree();
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB it's $(touch pwned) `id`";
    await runHook(baselineHookCommand(key, 'bookworm'), t.root, t.env);
    expect(readFileSync(join(t.root, 'home/core/.ssh/authorized_keys'), 'utf8')).toBe(`${key}\n`);
    expect(statSync(join(t.root, 'home/core/.ssh')).mode & 0o777).toBe(0o700);
    expect(statSync(join(t.root, 'home/core/.ssh/authorized_keys')).mode & 0o777).toBe(0o600);
    expect(t.calls()).toEqual([
      `${t.root} useradd -m -s /bin/bash -G sudo core`,
      `${t.root} chown -R core:core /home/core/.ssh`,
      `${t.root} systemctl enable systemd-networkd.service`,
      `${t.root} systemctl set-default multi-user.target`,
    ]);
    expect(readFileSync(join(t.root, 'etc/hostname'), 'utf8')).toBe('baseline\n');
    expect(readFileSync(join(t.root, 'etc/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n127.0.1.1 baseline\n');
    expect(readFileSync(join(t.root, 'etc/fstab'), 'utf8')).toBe('/dev/vda / ext4 defaults 0 1\n');
    expect(readFileSync(join(t.root, 'etc/sudoers.d/core'), 'utf8')).toBe('core ALL=(ALL) NOPASSWD:ALL\n');
    expect(statSync(join(t.root, 'etc/sudoers.d/core')).mode & 0o777).toBe(0o440);
    expect(readFileSync(join(t.root, 'etc/systemd/network/10-dhcp.network'), 'utf8')).toBe('[Match]\nName=eth* en*\n[Network]\nDHCP=yes\n');
    expect(readFileSync(join(t.root, 'etc/ssh/sshd_config.d/fcos.conf'), 'utf8')).toBe('UseDNS no\n');
    expect(readFileSync(join(t.root, 'etc/systemd/system/fcos-selftest-fail.service'), 'utf8')).toBe(
      '[Unit]\nDescription=fcos selftest fail\n[Service]\nType=oneshot\nExecStart=/bin/false\n',
    );
    expect(readFileSync(join(t.root, 'etc/machine-id'), 'utf8')).toBe('');
    expect(existsSync(join(t.root, 'var/lib/dbus/machine-id'))).toBe(false);
    expect(existsSync(join(t.root, 'etc/systemd/system-generators'))).toBe(false);
    expect(existsSync(join(process.cwd(), 'pwned'))).toBe(false);
  });

  it('on trixie it masks systemd-ssh-generator', async () => {
    const t = tree();
    await runHook(baselineHookCommand('ssh-ed25519 AAAA k', 'trixie'), t.root, t.env);
    const gen = join(t.root, 'etc/systemd/system-generators/systemd-ssh-generator');
    expect(lstatSync(gen).isSymbolicLink()).toBe(true);
    expect(readlinkSync(gen)).toBe('/dev/null');
  });
});
