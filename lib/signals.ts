/**
 * Interrupt handling and cleanup, in one place.
 *
 * Long operations register cleanup actions (unmount, detach loop device, remove temp dir).
 * On SIGINT/SIGTERM the shared AbortController fires (the runner kills child processes),
 * and cleanups run in reverse order, once.
 */
import { constants as osConstants } from 'node:os';
import { InterruptedError } from './errors.js';

const controller = new AbortController();
let installed = false;
let interruptedBy: NodeJS.Signals | undefined;

export function abortSignal(): AbortSignal {
  return controller.signal;
}

export function interrupted(): NodeJS.Signals | undefined {
  return interruptedBy;
}

/** Throw if the user interrupted: call between steps. */
export function checkInterrupted(): void {
  if (interruptedBy) throw new InterruptedError(`interrupted by ${interruptedBy}`);
}

export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  const handler = (sig: NodeJS.Signals) => {
    if (interruptedBy) {
      // Second Ctrl-C: the user insists. Cleanups are still run by the stack unwinding of the first.
      process.stderr.write(`\n${sig} again: still cleaning up, please wait\n`);
      return;
    }
    interruptedBy = sig;
    process.stderr.write(`\n${sig}: stopping and cleaning up…\n`);
    controller.abort(new InterruptedError(`interrupted by ${sig}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
}

/** 128 + the signal's number: the exit status a shell reports for a process ended by that signal. */
export function signalExitCode(sig: NodeJS.Signals): number {
  return 128 + (osConstants.signals[sig] ?? 0);
}

/**
 * For pure commands (validate, butane), which compute synchronously and have nothing to clean up, signals keep
 * their default action, so Ctrl-C and SIGTERM end them at once (a JavaScript handler would only run after the
 * computation). Call this before a step that must not be cut in half, such as writing the output file: from then
 * on a signal waits until the current synchronous step is done, then ends the process with 128+signo.
 */
export function holdSignals(): void {
  if (installed) return; // a command with cleanups: its handlers stay in charge
  installed = true;
  const handler = (sig: NodeJS.Signals) => {
    process.stderr.write(`\n${sig}: stopped\n`);
    process.exit(signalExitCode(sig));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
}

/** A stack of cleanup actions. `using`-style helper: await withCleanup(async (c) => { c.push(...) }). */
export class Cleanup {
  private actions: { name: string; fn: () => Promise<void> | void }[] = [];
  push(name: string, fn: () => Promise<void> | void): void {
    this.actions.push({ name, fn });
  }
  /** Drop the most recent action with that name (it was undone already). */
  forget(name: string): void {
    for (let i = this.actions.length - 1; i >= 0; i--) {
      if (this.actions[i]!.name === name) {
        this.actions.splice(i, 1);
        return;
      }
    }
  }
  async run(): Promise<string[]> {
    const failures: string[] = [];
    while (this.actions.length) {
      const a = this.actions.pop()!;
      try {
        await a.fn();
      } catch (e) {
        failures.push(`${a.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return failures;
  }
}

export async function withCleanup<T>(fn: (c: Cleanup) => Promise<T>): Promise<T> {
  const c = new Cleanup();
  try {
    return await fn(c);
  } finally {
    const failures = await c.run();
    for (const f of failures) process.stderr.write(`warning: cleanup failed: ${f}\n`);
  }
}
