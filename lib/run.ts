/**
 * The one subprocess runner of fcos (mkosi's run()).
 *
 * Every external command goes through run(). It:
 * - turns a missing binary into a UserError naming the Debian package to install;
 * - on failure, throws an ExternalError holding the exact command (shell-quoted, pasteable) and its stderr tail;
 * - kills the child when the user presses Ctrl-C (the shared abort signal), and reports an InterruptedError;
 * - logs every command in verbose mode (FCOS_VERBOSE=1).
 */
import { closeSync, openSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, type Options } from 'execa';
import { ExternalError, InterruptedError, UserError } from './errors.js';
import { abortSignal, interrupted } from './signals.js';
import { debug, isVerbose } from './log.js';
import { startProgress, type ProgressOptions } from './progress.js';
import { missingToolError } from './tools.js';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Text fed to stdin. */
  input?: string | Buffer;
  /** Stream output to the terminal instead of capturing it (long steps in verbose mode). */
  inherit?: boolean;
  /** Kill after this many milliseconds. */
  timeoutMs?: number;
  /** Do not throw on non-zero exit; return the result. */
  allowFailure?: boolean;
  /** What the command is for, used in the failure message ("bootstrap the rootfs"). */
  purpose?: string;
  /** Extra hint shown on failure. */
  hint?: string;
  /** Return stdout as a Buffer. */
  binary?: boolean;
  /**
   * Run even after Ctrl-C, and don't kill on it: for cleanup actions (umount, losetup -d) that must run while the
   * stack unwinds after an interrupt.
   */
  cleanup?: boolean;
  /**
   * A long step: show its progress (lib/progress.ts) from its output lines, a live line on a terminal, a line every
   * 30 s in CI or a pipe, JSON events under --json. A label, or the options. Off with `inherit` (the output is shown).
   */
  progress?: string | ProgressOptions;
  /**
   * After Ctrl-C or the timeout's SIGTERM, how long the child may take to end before SIGKILL (default 5000 ms). Longer
   * for a child that cleans up after itself (an `fcos compose` unmounting and removing its work dir).
   */
  killGraceMs?: number;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  stdoutBuffer?: Buffer;
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
export function shellQuote(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map(shellQuote).join(' ');
}

/** After SIGTERM (Ctrl-C, a timeout, stop()), how long a child has before SIGKILL. */
const KILL_GRACE_MS = 5000;

export function tail(text: string, lines = 20): string {
  const ls = text.trimEnd().split('\n');
  return ls.slice(-lines).join('\n');
}

export async function run(file: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult> {
  const command = formatCommand(file, args);
  if (isVerbose()) debug(`run: ${command}${opts.cwd ? `   (in ${opts.cwd})` : ''}`);
  const signal = abortSignal();
  if (signal.aborted && !opts.cleanup) throw new InterruptedError(`interrupted by ${interrupted() ?? 'signal'}`);
  const execOpts: Options = {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    reject: false,
    // A cleanup-mode child (mount, umount, losetup) runs in a process group of its own, so that the terminal's Ctrl-C
    // (sent to the whole foreground group) cannot kill it half-way either: what it did is then always known.
    ...(opts.cleanup ? { detached: true } : { cancelSignal: signal }),
    timeout: opts.timeoutMs,
    // Ctrl-C or the timeout sends SIGTERM; SIGKILL follows if the child is still there.
    forceKillAfterDelay: opts.killGraceMs ?? KILL_GRACE_MS,
    stripFinalNewline: false,
    encoding: opts.binary ? 'buffer' : 'utf8',
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    ...(opts.inherit ? { stdout: ['pipe', 'inherit'] as const, stderr: ['pipe', 'inherit'] as const } : {}),
    maxBuffer: 1024 * 1024 * 1024,
  };
  const sub = execa(file, [...args], execOpts);
  const progress = opts.progress && !opts.inherit ? startProgress(typeof opts.progress === 'string' ? { label: opts.progress } : opts.progress) : undefined;
  if (progress) {
    sub.stdout?.on('data', (b: Buffer | string) => progress.data(b));
    sub.stderr?.on('data', (b: Buffer | string) => progress.data(b, 'err'));
  }
  let r;
  try {
    r = await sub;
  } finally {
    progress?.end(sub.exitCode === 0);
  }
  const errCode = (r as unknown as { code?: string }).code;
  if (r.failed && errCode === 'ENOENT' && r.exitCode === undefined) throw missingToolError(file);
  // A child killed by SIGINT: Ctrl-C went to the whole process group, and the child may die of it before our own
  // handler has run (signal.aborted still false): an interruption, not a failure of the tool.
  const groupInterrupt = r.signal === 'SIGINT' && !r.timedOut;
  if (!opts.cleanup && (r.isCanceled || (signal.aborted && r.failed) || groupInterrupt)) {
    throw new InterruptedError(`interrupted by ${interrupted() ?? r.signal ?? 'signal'} while running: ${command}`);
  }
  const stdoutBuffer = opts.binary ? Buffer.from(r.stdout as unknown as Uint8Array) : undefined;
  const stdout = opts.binary ? '' : String(r.stdout ?? '');
  const stderr = r.stderr instanceof Uint8Array ? Buffer.from(r.stderr).toString('utf8') : String(r.stderr ?? '');
  const exitCode = r.exitCode ?? (r.failed ? -1 : 0);
  if (r.timedOut) {
    throw new ExternalError(`${opts.purpose ?? file} timed out after ${opts.timeoutMs} ms`, command, undefined, tail(stderr), opts.hint);
  }
  if (r.failed && !opts.allowFailure) {
    if (/No space left on device/i.test(stderr)) {
      throw new UserError(`no space left on device while running: ${command}`, 'free some disk space or point FCOS_CACHE_DIR/--builds elsewhere');
    }
    const what = opts.purpose ? `failed to ${opts.purpose}` : `${file} failed`;
    const sig = r.signal ? ` (killed by ${r.signal})` : '';
    throw new ExternalError(`${what}${sig}`, command, r.exitCode, tail(stderr || stdout), opts.hint);
  }
  return { command, exitCode, stdout, stderr, stdoutBuffer };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* spawnProcess(): the same runner for long-running processes (QEMU, a VM's serial console, servers).            */
/* ------------------------------------------------------------------------------------------------------------ */

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Give the child the terminal (stdin/stdout/stderr), e.g. an interactive serial console. */
  inheritStdio?: boolean;
  /** Start in its own session and let it outlive fcos (`fcos run --detach`). stdout/stderr go to this file. */
  detached?: { logFile: string };
  purpose?: string;
  hint?: string;
  /** Kill the child when the user interrupts (default true; not for detached children). */
  killOnAbort?: boolean;
  /** Own process group: a terminal Ctrl-C reaches fcos only, which then stops the child its own way. */
  ownProcessGroup?: boolean;
  /** After SIGTERM (Ctrl-C or stop()), SIGKILL if still alive after this many ms (default 5000). */
  killGraceMs?: number;
}

export interface ProcessExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessHandle {
  command: string;
  pid: number;
  /** Resolves when the process exits (never rejects). */
  exited: Promise<ProcessExit>;
  /** Has it exited? */
  readonly exit: ProcessExit | undefined;
  /** The tail of what it wrote to stderr (and stdout), for error messages. */
  outputTail(lines?: number): string;
  /**
   * SIGTERM, then SIGKILL after graceMs if still alive. Resolves on exit. graceMs may be shorter than the process's
   * killGraceMs (its default), not longer: execa's own SIGKILL follows killGraceMs after any SIGTERM.
   */
  stop(graceMs?: number): Promise<ProcessExit>;
  /** An ExternalError describing an unexpected exit. */
  exitError(what?: string): ExternalError;
}

/**
 * Start a long-running process. Resolves once it has been spawned (a missing binary is a UserError, like run()).
 * The child is killed on Ctrl-C (the shared abort signal, execa's cancelSignal) unless detached: SIGTERM, then SIGKILL
 * after killGraceMs (execa's forceKillAfterDelay).
 */
export async function spawnProcess(file: string, args: readonly string[] = [], opts: SpawnOptions = {}): Promise<ProcessHandle> {
  const command = formatCommand(file, args);
  if (isVerbose()) debug(`spawn: ${command}${opts.cwd ? `   (in ${opts.cwd})` : ''}`);
  const signal = abortSignal();
  if (signal.aborted) throw new InterruptedError(`interrupted by ${interrupted() ?? 'signal'}`);
  const graceMs = opts.killGraceMs ?? KILL_GRACE_MS;
  const logFd = opts.detached ? openSync(opts.detached.logFile, 'a') : undefined;
  const stdio =
    logFd !== undefined
      ? // execa hands a file descriptor to the child as it is (its types list only 3-9): the child writes the log itself.
        { stdin: 'ignore' as const, stdout: logFd as 3, stderr: logFd as 3 }
      : opts.inheritStdio
        ? { stdin: 'inherit' as const, stdout: 'inherit' as const, stderr: 'pipe' as const }
        : { stdin: 'ignore' as const, stdout: 'pipe' as const, stderr: 'pipe' as const };
  const sub = execa(file, [...args], {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    reject: false,
    ...stdio,
    buffer: false,
    detached: !!opts.detached || !!opts.ownProcessGroup,
    // Not killed when fcos exits: a detached VM outlives it, the others are stopped by their owners.
    cleanup: false,
    ...((opts.killOnAbort ?? !opts.detached) ? { cancelSignal: signal } : {}),
    forceKillAfterDelay: graceMs,
  });
  if (logFd !== undefined) closeSync(logFd);
  let output = '';
  const keep = (b: Buffer) => {
    output += b.toString('utf8');
    if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
  };
  sub.stdout?.on('data', keep);
  sub.stderr?.on('data', keep);
  let exit: ProcessExit | undefined;
  // The exit itself (not the end of its output, which a grandchild may hold open).
  const exited = new Promise<ProcessExit>((resolve) => {
    sub.once('exit', (exitCode, sig) => resolve((exit = { exitCode, signal: sig })));
  });
  // Wait for spawn, or the result of a spawn that failed (ENOENT).
  const failed = await Promise.race([new Promise<undefined>((resolve) => sub.once('spawn', () => resolve(undefined))), sub]);
  if (failed) {
    if ((failed as unknown as { code?: string }).code === 'ENOENT') throw missingToolError(file);
    throw failed.cause ?? new ExternalError(`could not start ${file}`, command, undefined, String(failed.message));
  }
  if (opts.detached) sub.unref();
  const handle: ProcessHandle = {
    command,
    pid: sub.pid!,
    exited,
    get exit() {
      return exit;
    },
    outputTail: (lines = 20) => tail(output, lines),
    async stop(stopGraceMs = graceMs) {
      if (exit) return exit;
      sub.kill('SIGTERM'); // execa sends SIGKILL after killGraceMs if it is still alive
      if (stopGraceMs < graceMs && !(await Promise.race([exited, delay(stopGraceMs, undefined, { ref: false })]))) sub.kill('SIGKILL');
      return exited;
    },
    exitError(what?: string) {
      const how = exit ? (exit.signal ? ` (killed by ${exit.signal})` : ` (exit status ${exit.exitCode})`) : '';
      return new ExternalError(`${what ?? opts.purpose ?? file} exited unexpectedly${how}`, command, exit?.exitCode ?? undefined, tail(output), opts.hint);
    },
  };
  return handle;
}
