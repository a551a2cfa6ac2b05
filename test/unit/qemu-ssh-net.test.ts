import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { sshArgs, sshCommandLine } from '../../qemu/ssh.js';
import { freePort, portIsFree } from '../../qemu/net.js';
import { injectSshKey } from '../../qemu/harness.js';

describe('ssh command construction', () => {
  const t = { key: '/k/id_ed25519', port: 2222 };
  it('is non-interactive, ignores the throw-away host key, and logs in as core@127.0.0.1', () => {
    const a = sshArgs(t, 'systemctl is-system-running');
    const opts = a.filter((_, i) => a[i - 1] === '-o');
    expect(opts).toEqual(expect.arrayContaining(['BatchMode=yes', 'StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'ConnectTimeout=5']));
    expect(a.slice(-7)).toEqual(['-i', '/k/id_ed25519', '-p', '2222', 'core@127.0.0.1', '--', 'systemctl is-system-running']);
  });
  it('user, host and connect time-out can be changed; no command means a login', () => {
    const a = sshArgs({ ...t, user: 'root', host: '127.0.0.2' }, undefined, 9);
    expect(a.at(-1)).toBe('root@127.0.0.2');
    expect(a).toContain('ConnectTimeout=9');
  });
  it('prints a pasteable login command', () => {
    expect(sshCommandLine(t)).toBe('ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i /k/id_ed25519 -p 2222 core@127.0.0.1');
  });
});

describe('free ports', () => {
  it('picks a port that can be bound', async () => {
    const p = await freePort();
    expect(p).toBeGreaterThan(1023);
    expect(await portIsFree(p)).toBe(true);
  });
  it('notices a port in use', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as { port: number }).port;
    expect(await portIsFree(port)).toBe(false);
    s.close();
  });
  it('picks a port that is free again once picked (the probe socket is closed) and can be listened on', async () => {
    const a = await freePort();
    expect(a).toBeGreaterThan(1023);
    expect(await portIsFree(a)).toBe(true);
    const s = createServer();
    await new Promise<void>((r) => s.listen(a, '127.0.0.1', () => r()));
    expect(await portIsFree(a)).toBe(false);
    s.close();
  });
});

describe('SSH key injection into Ignition configs', () => {
  it('adds user core with the key when absent, without touching the input', () => {
    const cfg = { ignition: { version: '3.3.0' } };
    const out = injectSshKey(cfg, 'ssh-ed25519 AAAA test') as any;
    expect(out.passwd).toEqual({ users: [{ name: 'core', sshAuthorizedKeys: ['ssh-ed25519 AAAA test'] }] });
    expect(cfg).toEqual({ ignition: { version: '3.3.0' } });
    // passwordless sudo for core, so checks can be root whatever the image's policy
    expect(out.storage.files).toEqual([{ path: '/etc/sudoers.d/fcos-test-core', mode: 0o440, contents: { source: 'data:,core%20ALL%3D(ALL)%20NOPASSWD%3A%20ALL%0A' } }]);
    expect((injectSshKey(cfg, 'k', { sudo: false }) as any).storage).toBeUndefined();
  });
  it('adds the key to an existing core user once', () => {
    const cfg = { ignition: { version: '3.3.0' }, passwd: { users: [{ name: 'core', sshAuthorizedKeys: ['ssh-rsa X'], groups: ['sudo'] }] } };
    const out = injectSshKey(injectSshKey(cfg, 'ssh-ed25519 K'), 'ssh-ed25519 K') as any;
    expect(out.storage.files).toHaveLength(1);
    expect(out.passwd.users).toEqual([{ name: 'core', sshAuthorizedKeys: ['ssh-rsa X', 'ssh-ed25519 K'], groups: ['sudo'] }]);
  });
});
