/**
 * Base class of every fcos command: --json (oclif's enableJsonFlag), one error renderer, signal handling.
 * Commands stay thin: they parse flags, call a library service, and hand the typed result to output().
 */
import { Command, Flags, Errors } from './oclif.js';
import { FcosError, UserError, toFcosError } from '../lib/errors.js';
import { installSignalHandlers } from '../lib/signals.js';
import { setQuiet, setVerbose } from '../lib/log.js';

export abstract class BaseCommand extends Command {
  /**
   * oclif's --json flag (and FCOS_CONTENT_TYPE=json): the result, or an error document, as one JSON document on
   * stdout. Commands print through output(), not by returning the result, so that the text form stays theirs.
   */
  static override enableJsonFlag = true;
  static override baseFlags = {
    json: Flags.boolean({ description: 'print one JSON document on stdout (errors too)', helpGroup: 'GLOBAL' }),
    verbose: Flags.boolean({ char: 'v', description: 'log every external command', default: false, helpGroup: 'GLOBAL' }),
  };

  /**
   * A pure command (it computes and prints, with nothing to clean up): no signal handlers, so Ctrl-C and SIGTERM
   * end it at once even in the middle of a synchronous computation (exit status 130 / 143 in the shell).
   */
  static pure = false;

  /** --json given (oclif's jsonEnabled: the flag before any `--`, or FCOS_CONTENT_TYPE=json). */
  protected get jsonMode(): boolean {
    return this.jsonEnabled();
  }

  override async init(): Promise<void> {
    await super.init();
    if (!(this.constructor as typeof BaseCommand).pure) installSignalHandlers();
    // Before parsing (parse errors are rendered by catch): the flags as they appear.
    if (this.argv.includes('--verbose') || this.argv.includes('-v')) setVerbose(true);
    if (this.jsonMode) setQuiet(false);
  }

  /** Print a result: JSON on stdout with --json, otherwise the text renderer's lines. */
  protected output<T>(result: T, text: (r: T) => string): void {
    if (this.jsonMode) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      const t = text(result);
      if (t) process.stdout.write(t.endsWith('\n') ? t : t + '\n');
    }
  }

  override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    // Never process.exit here (nor this.exit, which makes oclif call it): stdout and stderr may still be
    // draining into a pipe. Set the exit status and return; Node exits once the output is written.
    if (err instanceof Errors.ExitError) {
      process.exitCode = err.oclif?.exit ?? 1;
      return undefined;
    }
    const flagError = err instanceof Errors.CLIError && !(err instanceof FcosError);
    // The parse was attempted (and failed): no "did not parse its arguments" warning from oclif.
    if (flagError) this.parsed = true;
    const fe =
      flagError
        ? // Flag and argument parsing errors: the user can fix them. oclif's whole reason, on one line, exit 1.
          new UserError(flagErrorMessage(err.message), `see: fcos ${(this.id ?? '').replace(/:/g, ' ')} --help`)
        : toFcosError(err);
    if (this.jsonMode) {
      process.stdout.write(JSON.stringify({ error: { kind: fe.kind, message: fe.message, hint: fe.hint } }, null, 2) + '\n');
    }
    process.stderr.write(`fcos: ${fe.render()}\n`);
    if (fe.kind === 'bug' && process.env.FCOS_DEBUG === '1' && err.stack) process.stderr.write(err.stack + '\n');
    process.exitCode = fe.exitCode;
    return undefined;
  }
}

/**
 * oclif's flag/argument error text as one line: "Parsing --memory \n\tExpected an integer but received: abc\nSee
 * more help with --help" → "Parsing --memory: Expected an integer but received: abc".
 */
export function flagErrorMessage(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^See more help with/.test(l) && !/^The following errors? occurred:?$/.test(l));
  if (lines.length === 0) return 'invalid command line';
  let out = lines[0]!;
  for (const l of lines.slice(1)) out += /:$/.test(out) ? ` ${l}` : /^Parsing \S+$/.test(out) ? `: ${l}` : `; ${l}`;
  return out;
}
