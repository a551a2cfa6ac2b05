/**
 * lib/mounts.ts, the one mount/loop stack, with a stand-in for run(): the order of undoing, what is undone on
 * success, on an error and on Ctrl-C, and what a failed unmount gives. No real mounts.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CHROOT_MOUNTS, MountStack, umount, type Runner } from '../../lib/mounts.js';
import { Cleanup, installSignalHandlers, withCleanup } from '../../lib/signals.js';
import { ExternalError, InterruptedError } from '../../lib/errors.js';
import type { RunOptions, RunResult } from '../../lib/run.js';

/** Records every command; `fail` gives the exit status (and stderr) of a command line, 0 otherwise. */
function stub(fail: (cmd: string) => number = () => 0, onRun?: (cmd: string) => void) {
  const calls: string[] = [];
  const opts: RunOptions[] = [];
  const runner: Runner = async (file, args, o = {}) => {
    const command = [file, ...args].join(' ');
    calls.push(command);
    opts.push(o);
    onRun?.(command);
    const exitCode = fail(command);
    const stdout = file === 'losetup' && args[0] === '--find' ? '/dev/loop7\n' : '';
    const r: RunResult = { command, exitCode, stdout, stderr: exitCode ? `${file}: target is busy\n` : '' };
    return r;
  };
  return { runner, calls, opts };
}

const dir = mkdtempSync(join(tmpdir(), 'fcos-mounts-test-'));
const at = (p: string) => join(dir, p);

describe('MountStack', () => {
  it('undoes in reverse order of pushing: mounts, then the deferred action, then the loop device', async () => {
    const s = stub();
    const stack = new MountStack(undefined, 'test', s.runner);
    const undone: string[] = [];
    const loop = await stack.attachLoop('/img.raw');
    expect(loop).toBe('/dev/loop7');
    stack.defer('remove the mount point', () => void undone.push('rmdir'));
    await stack.mount(['/dev/loop7p4'], at('root'), 'mount the root');
    await stack.mount(['-t', 'tmpfs', 'tmpfs'], at('root/tmp'), 'mount /tmp');
    expect(stack.size).toBe(4);
    s.calls.length = 0;
    await stack.unwind();
    expect(s.calls).toEqual([`umount ${at('root/tmp')}`, `umount ${at('root')}`, 'partx -d /dev/loop7', 'losetup -d /dev/loop7']);
    expect(undone).toEqual(['rmdir']);
    expect(stack.size).toBe(0);
    await stack.unwind(); // again: nothing left
    expect(s.calls).toHaveLength(4);
  });

  it('mounts and losetup run in cleanup mode (not killed half-way by Ctrl-C); partx -a may fail', async () => {
    const s = stub((c) => (c.startsWith('partx -a') ? 1 : 0));
    const stack = new MountStack(undefined, 'test', s.runner);
    await stack.attachLoop('/img.raw');
    await stack.mount(['--bind', '/dev'], at('dev'), 'bind /dev');
    expect(s.calls).toEqual(['losetup --find --show /img.raw', 'partx -a /dev/loop7', `mount --bind /dev ${at('dev')}`]);
    expect(s.opts.map((o) => !!o.cleanup)).toEqual([true, false, true]);
    expect(s.opts[1]!.allowFailure).toBe(true);
  });

  it('unwind(mark) undoes only what came after the mark (the chroot mounts before the root ones)', async () => {
    const s = stub();
    const stack = new MountStack(undefined, 'test', s.runner);
    await stack.mount([], at('sysroot'), 'root');
    const mark = stack.size;
    await stack.mountChroot(at('sysroot/deploy'));
    s.calls.length = 0;
    await stack.unwind(mark);
    expect(s.calls).toEqual([...CHROOT_MOUNTS].reverse().map((m) => `umount ${at(`sysroot/deploy/${m.dir}`)}`));
    expect(stack.size).toBe(1);
  });

  it('an error: the Cleanup stack unwinds every mount, in reverse, and the error is the one thrown', async () => {
    const s = stub();
    const err = await withCleanup(async (c) => {
      const stack = new MountStack(c, 'unmount image filesystems', s.runner);
      await stack.mount([], at('a'), 'a');
      await stack.mount([], at('a/b'), 'b');
      throw new Error('mkfs failed');
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('mkfs failed');
    expect(s.calls.slice(2)).toEqual([`umount ${at('a/b')}`, `umount ${at('a')}`]);
  });

  it('a busy mount is unmounted lazily; one that still fails is reported after the rest is undone', async () => {
    const s = stub((c) => (c === `umount ${at('x')}` || c === `umount --lazy ${at('x')}` || c === `umount ${at('y')}` ? 32 : 0));
    const stack = new MountStack(undefined, 'test', s.runner);
    await stack.mount([], at('x'), 'x');
    await stack.mount([], at('y'), 'y');
    await stack.mount([], at('z'), 'z');
    s.calls.length = 0;
    const e = await stack.unwind().catch((x: unknown) => x);
    expect(s.calls).toEqual([`umount ${at('z')}`, `umount ${at('y')}`, `umount --lazy ${at('y')}`, `umount ${at('x')}`, `umount --lazy ${at('x')}`]);
    expect(e).toBeInstanceOf(ExternalError);
    expect((e as ExternalError).message).toBe(`could not unmount ${at('x')}: umount: target is busy`);
    expect((e as ExternalError).command).toBe(`umount --lazy ${at('x')}`);
    expect((e as ExternalError).hint).toContain('fuser -vm');
    expect(await umount(at('y'), s.runner)).toMatchObject({ ok: true });
  });

  it('a loop device that cannot be detached, and a mount that cannot be unmounted: both named in one error', async () => {
    const s = stub((c) => (c.startsWith('losetup -d') || c.startsWith('umount') ? 1 : 0));
    const stack = new MountStack(undefined, 'test', s.runner);
    await stack.attachLoop('/img.raw');
    await stack.mount([], at('m'), 'm');
    const e = await stack.unwind().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ExternalError);
    expect((e as Error).message).toBe(`could not unmount ${at('m')}: umount: target is busy; could not detach /dev/loop7`);
  });

  it('scope(): undoes what was pushed in it on success and on failure; a failed undo does not hide the error', async () => {
    const s = stub((c) => (c.startsWith('umount') && c.includes('busy') ? 1 : 0));
    const stack = new MountStack(undefined, 'test', s.runner);
    await stack.mount([], at('outer'), 'outer');
    expect(await stack.scope(async () => (await stack.mount([], at('outer/in'), 'in'), 'done'))).toBe('done');
    expect(stack.size).toBe(1);
    const warned: string[] = [];
    const stderr = process.stderr.write;
    process.stderr.write = ((s: string) => (warned.push(String(s)), true)) as typeof process.stderr.write;
    const e = await stack
      .scope(async () => {
        await stack.mount([], at('outer/busy'), 'busy');
        throw new Error('dracut failed');
      })
      .catch((x: unknown) => x)
      .finally(() => (process.stderr.write = stderr));
    expect((e as Error).message).toBe('dracut failed');
    expect(warned.join('')).toContain(`cleanup failed: could not unmount ${at('outer/busy')}: umount: target is busy`);
    expect(stack.size).toBe(1);
    expect(s.calls.filter((c) => c.startsWith('umount'))).toEqual([`umount ${at('outer/in')}`, `umount ${at('outer/busy')}`, `umount --lazy ${at('outer/busy')}`]);
  });

  it('a losetup that prints no loop device is a bug, and nothing is pushed', async () => {
    const stack = new MountStack(undefined, 'test', async (file, args) => ({ command: file, exitCode: 0, stdout: 'garbage', stderr: '' }));
    await expect(stack.attachLoop('/img')).rejects.toThrow("losetup printed 'garbage'");
    expect(stack.size).toBe(0);
  });

  // Last: it interrupts this worker for good (the abort signal of lib/signals.ts is process-wide).
  it('Ctrl-C during a mount: the mount is kept on the stack, the next step stops, Cleanup unmounts everything', async () => {
    installSignalHandlers();
    const stderr = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      let sent = false;
      const s = stub(
        () => 0,
        (c) => {
          if (c.startsWith('mount') && c.endsWith('second') && !sent) {
            sent = true;
            process.kill(process.pid, 'SIGINT');
          }
        },
      );
      const c = new Cleanup();
      const stack = new MountStack(c, 'unmount', s.runner);
      const e = await (async () => {
        await stack.mount([], at('first'), 'first');
        await stack.mount([], at('second'), 'second'); // SIGINT arrives while it runs
        await new Promise((r) => setTimeout(r, 50));
        await stack.mount([], at('third'), 'third');
      })().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InterruptedError);
      expect(s.calls).not.toContain(`mount ${at('third')}`);
      expect(await c.run()).toEqual([]);
      expect(s.calls.filter((x) => x.startsWith('umount'))).toEqual([`umount ${at('second')}`, `umount ${at('first')}`]);
    } finally {
      process.stderr.write = stderr;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
