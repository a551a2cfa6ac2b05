import { describe, expect, it } from 'vitest';
import { ConsoleScanner, matchFailure, stripAnsi } from '../../qemu/console.js';

describe('console failure patterns', () => {
  const positives: [string, string][] = [
    ['[    2.345678] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)', 'kernel panic'],
    ['[   12.000000] Oops: 0000 [#1] PREEMPT SMP NOPTI', 'kernel oops'],
    ['[    3.1] WARNING: CPU: 1 PID: 123 at mm/page_alloc.c:5000 foo+0x1/0x2', 'kernel warning'],
    ['You are in emergency mode. After logging in, type "journalctl -xb" to view', 'emergency shell'],
    ['[  OK  ] Started emergency.service. Entering emergency mode. Exit the shell to continue.', 'emergency shell'],
    ['dracut: Refusing to continue', 'dracut gave up'],
    ['[   5.0] dracut-initqueue[300]: Warning: /dev/disk/by-label/root does not exist; Refusing to continue', 'dracut gave up'],
    ['[   93.28] systemd[1]: ignition-disks.service: Found ordering cycle on sysroot.mount/stop', 'ordering cycle'],
    ['[   93.28] systemd[1]: ignition-disks.service: Unable to break cycle starting with ignition-disks.service/stop', 'ordering cycle'],
    ['[   4.2] systemd[1]: a.service: Breaking ordering cycle by deleting job b.service/start', 'ordering cycle'],
    ['[   93.22] systemd[1]: Failed to start fcos-mount-var.service - fcos: mount the stateroot /var for Ignition.', 'failed unit'],
    ['[   4.2] systemd[1]: Ordering cycle found, skipping foo.service', 'ordering cycle'],
    ['\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mkernel-command-line.service\x1b[0m - Command from Kernel Command Line.', 'failed unit'],
    ['[FAILED] Failed to mount sysroot.mount - /sysroot.', 'failed mount'],
    // The PXE live initramfs waited 90 s for a /boot it does not have (the 36fcos-live override was never installed).
    ['\x1b[0;1;31m TIME \x1b[0m] Timed out waiting for device \x1b[0;1;39mdev-d…t.device\x1b[0m - /dev/disk/by-label/boot.', 'device time-out'],
    ['[   20.1] ignition[612]: files: createFilesystemsFiles: createFiles: op(3): [failed]   writing file "/sysroot/var/lib/x"', 'ignition failure'],
    ['[   20.1] ignition[612]: failed to fetch config: resource not found', 'ignition failure'],
    ['[   20.2] ignition[612]: CRITICAL : Ignition failed: failed to create files', 'ignition failure'],
    ['Ignition failed: files stage failed', 'ignition failure'],
    ['(sd-exec-strv)[90]: /usr/lib/systemd/system-generators/foo failed with exit status 1.', 'generator failure'],
    ['goroutine 1 [running]:', 'go panic'],
    ['[  100.0] sh[999]: segfault at 0 ip 00007f0000000000 sp 00007ffd00000000 error 4', 'segfault'],
    ['systemd-coredump[800]: Process 700 (podman) of user 0 dumped core.', 'core dump'],
    ['[  30.0] etcd invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)', 'oom killer'],
  ];
  for (const [line, name] of positives) {
    it(`${name || 'no failure'}: ${line.slice(0, 60)}`, () => {
      expect(matchFailure(line)).toBe(name || undefined);
    });
  }

  const negatives = [
    '[  OK  ] Started ssh.service - OpenBSD Secure Shell server.',
    '[  OK  ] Reached target multi-user.target - Multi-User System.',
    'Debian GNU/Linux 12 baseline ttyS0',
    '[    0.000000] Command line: root=/dev/vda rw console=ttyS0,115200n8 panic=0',
    '[    1.0] ACPI: PM: failed to wake up from suspend', // not one of ours
    '[   20.1] ignition[612]: files: op(3): [finished] writing file "/sysroot/etc/hostname"',
    '[   20.1] ignition[612]: Ignition finished successfully',
    '         Starting systemd-networkd.service - Network Configuration...',
  ];
  it('negatives do not match', () => {
    for (const l of negatives) expect(matchFailure(l), l).toBeUndefined();
  });

  it('ignore patterns win', () => {
    const l = '[FAILED] Failed to start foo.service - Foo.';
    expect(matchFailure(l)).toBe('failed unit');
    expect(matchFailure(l, undefined, [/foo\.service/])).toBeUndefined();
  });

  it('strips colours and cursor sequences', () => {
    expect(stripAnsi('\x1b[0;32m  OK  \x1b[0m] x\x1b[K')).toBe('  OK  ] x');
  });
});

describe('ConsoleScanner', () => {
  it('scans lines across chunk boundaries and numbers them', () => {
    const s = new ConsoleScanner();
    expect(s.feed('line one\nKernel pa')).toEqual([]);
    const f = s.feed('nic - not syncing: Attempted to kill init!\nmore\n');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ name: 'kernel panic', lineNo: 2 });
    expect(f[0]!.line).toBe('Kernel panic - not syncing: Attempted to kill init!');
    expect(s.failures).toHaveLength(1);
  });

  it('handles CRLF and checks the last partial line on flush', () => {
    const s = new ConsoleScanner();
    expect(s.feed('ok\r\nYou are in emergency')).toEqual([]);
    s.feed(' mode. After logging in');
    expect(s.flush().map((x) => x.name)).toEqual(['emergency shell']);
  });

  it('a clean boot has no failures', () => {
    const s = new ConsoleScanner();
    s.feed('[  OK  ] Started a.service.\n[  OK  ] Reached target multi-user.target.\nlogin: ');
    s.flush();
    expect(s.failures).toEqual([]);
  });

  it('honours ignore patterns', () => {
    const s = new ConsoleScanner({ ignore: [/kernel-command-line/] });
    s.feed('[FAILED] Failed to start kernel-command-line.service - Command from Kernel Command Line.\n');
    expect(s.failures).toEqual([]);
  });
});
