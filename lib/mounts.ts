/**
 * The one mount/loop stack: mounts, loop devices and their companions (a temporary directory to remove) are pushed
 * in order and undone in reverse, whether the step succeeds, fails or is interrupted (Ctrl-C): the stack registers
 * itself on the Cleanup stack of lib/signals.ts, which unwinds it once.
 *
 * A mount or losetup is not killed half-way by Ctrl-C (run's `cleanup` mode), so that one that happened is always
 * on the stack; the next step then stops. An unmount that fails is retried lazily; what still fails is reported
 * once everything else has been undone.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, type RunOptions, type RunResult } from './run.js';
import { BugError, ExternalError } from './errors.js';
import { checkInterrupted, type Cleanup } from './signals.js';
import { warn } from './log.js';

/** run() or a stand-in (unit tests). */
export type Runner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

type Entry = { kind: 'mount'; target: string } | { kind: 'loop'; dev: string } | { kind: 'action'; name: string; fn: () => void | Promise<void> };

/** The API filesystems of a chroot, in mount order: /proc, /sys, /dev (bound from the host) and a tmpfs /tmp. */
export const CHROOT_MOUNTS: readonly { dir: string; args: readonly string[] }[] = [
  { dir: 'proc', args: ['-t', 'proc', 'proc'] },
  { dir: 'sys', args: ['-t', 'sysfs', 'sysfs'] },
  { dir: 'dev', args: ['--bind', '/dev'] },
  { dir: 'tmp', args: ['-t', 'tmpfs', 'tmpfs'] },
];

export class MountStack {
  private readonly entries: Entry[] = [];

  /** With a Cleanup, the stack is unwound by it too (failure, Ctrl-C) under `name`. */
  constructor(
    cleanup: Cleanup | undefined,
    readonly name = 'unmount filesystems',
    private readonly runner: Runner = run,
  ) {
    cleanup?.push(name, () => this.unwind(0));
  }

  /** How many things are on the stack. */
  get size(): number {
    return this.entries.length;
  }

  /** mount ARGS… TARGET (TARGET is created if missing). */
  async mount(args: readonly string[], target: string, purpose: string): Promise<void> {
    checkInterrupted();
    mkdirSync(target, { recursive: true });
    await this.runner('mount', [...args, target], { purpose, cleanup: true });
    this.entries.push({ kind: 'mount', target });
    checkInterrupted();
  }

  /** The chroot's API filesystems (CHROOT_MOUNTS) below root. */
  async mountChroot(root: string, purpose = (d: string) => `mount /${d} into the tree`): Promise<void> {
    for (const m of CHROOT_MOUNTS) await this.mount(m.args, join(root, m.dir), purpose(m.dir));
  }

  /** Attach a file as a loop device with partition devices (partx -a: losetup -P makes no nodes without udev). */
  async attachLoop(file: string): Promise<string> {
    checkInterrupted();
    const r = await this.runner('losetup', ['--find', '--show', file], { purpose: 'attach the image to a loop device', cleanup: true });
    const dev = r.stdout.trim();
    if (!/^\/dev\/loop\d+$/.test(dev)) throw new BugError(`losetup printed '${dev}'`);
    this.entries.push({ kind: 'loop', dev });
    await this.runner('partx', ['-a', dev], { purpose: 'create partition devices', allowFailure: true });
    return dev;
  }

  /** Something else to undo in order with the mounts (remove a mount point made for them). */
  defer(name: string, fn: () => void | Promise<void>): void {
    this.entries.push({ kind: 'action', name, fn });
  }

  /**
   * Undo everything pushed since the stack had `downTo` entries (default: everything), last first. Safe to call
   * again (nothing is left to undo then). Throws what could not be undone, after undoing all the rest.
   */
  async unwind(downTo = 0): Promise<void> {
    const failures: unknown[] = [];
    while (this.entries.length > downTo) {
      const e = this.entries.pop()!;
      try {
        await this.undo(e);
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      const last = failures.find((f): f is ExternalError => f instanceof ExternalError);
      const msg = failures.map((f) => (f instanceof Error ? f.message : String(f))).join('; ');
      throw new ExternalError(msg, last?.command ?? 'umount', last?.exitStatus, last?.stderrTail ?? '', last?.hint);
    }
  }

  /**
   * Run fn, then undo what was pushed during it (also when it fails; an undo that fails then is a warning, so that
   * it does not hide fn's error).
   */
  async scope<T>(fn: () => Promise<T>): Promise<T> {
    const mark = this.entries.length;
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await this.unwind(mark).catch((u: unknown) => warn(`cleanup failed: ${u instanceof Error ? u.message : String(u)}`));
      throw e;
    }
    await this.unwind(mark);
    return result;
  }

  private async undo(e: Entry): Promise<void> {
    if (e.kind === 'action') return e.fn();
    if (e.kind === 'loop') {
      await this.runner('partx', ['-d', e.dev], { allowFailure: true, cleanup: true });
      const d = await this.runner('losetup', ['-d', e.dev], { allowFailure: true, cleanup: true });
      if (d.exitCode !== 0) throw new ExternalError(`could not detach ${e.dev}`, `losetup -d ${e.dev}`, d.exitCode, d.stderr);
      return;
    }
    const r = await umount(e.target, this.runner);
    if (!r.ok) {
      throw new ExternalError(`could not unmount ${e.target}: ${r.stderr.trim()}`, `umount --lazy ${e.target}`, r.lazy?.exitCode, r.lazy?.stderr ?? '', 'see what holds it with `fuser -vm` and unmount it by hand');
    }
  }
}

/** umount TARGET, and umount --lazy when that fails. Never throws (a cleanup step). */
export async function umount(target: string, runner: Runner = run): Promise<{ ok: boolean; stderr: string; lazy?: RunResult }> {
  const r = await runner('umount', [target], { allowFailure: true, cleanup: true });
  if (r.exitCode === 0) return { ok: true, stderr: '' };
  const lazy = await runner('umount', ['--lazy', target], { allowFailure: true, cleanup: true });
  return { ok: lazy.exitCode === 0, stderr: r.stderr, lazy };
}
