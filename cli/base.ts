/**
 * Base class of every fcos command: a --json flag, one error renderer, signal handling.
 * Commands stay thin: they parse flags, call a library service, and hand the typed result to output().
 */
import { Command, Flags, Errors } from '@oclif/core';
import { FcosError, toFcosError } from '../lib/errors.js';
import { installSignalHandlers } from '../lib/signals.js';
import { setQuiet, setVerbose } from '../lib/log.js';

export abstract class BaseCommand extends Command {
  static override baseFlags = {
    json: Flags.boolean({ description: 'print one JSON document on stdout', default: false }),
    verbose: Flags.boolean({ char: 'v', description: 'log every external command', default: false }),
  };

  protected jsonMode = false;

  override async init(): Promise<void> {
    await super.init();
    installSignalHandlers();
    this.jsonMode = this.argv.includes('--json');
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
    // oclif's own control-flow errors (exit, flag parsing) keep oclif's handling.
    if (err instanceof Errors.ExitError) throw err;
    if (err instanceof Errors.CLIError && !(err instanceof FcosError)) {
      // Flag and argument parsing errors: the user can fix them. One line, exit 1.
      process.stderr.write(`fcos: ${err.message.split('\n')[0]}\n  see: fcos ${this.id ?? ''} --help\n`);
      return this.exit(1);
    }
    const fe = toFcosError(err);
    if (this.jsonMode) {
      process.stdout.write(JSON.stringify({ error: { kind: fe.kind, message: fe.message, hint: fe.hint } }, null, 2) + '\n');
    }
    process.stderr.write(`fcos: ${fe.render()}\n`);
    if (fe.kind === 'bug' && process.env.FCOS_DEBUG === '1' && err.stack) process.stderr.write(err.stack + '\n');
    process.exitCode = fe.exitCode;
    return this.exit(fe.exitCode);
  }
}
