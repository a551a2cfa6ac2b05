/**
 * What the bench scripts (bench/boot.ts, bench/upgrade.ts, bench/etcd.ts) share: run main() only when the file is
 * the one node was started with (unit tests import their pure parts), print its text on stdout, and end with fcos's
 * exit statuses: 2 for a bad argument, otherwise the error's own, rendered in one line.
 */
import { pathToFileURL } from 'node:url';
import { installSignalHandlers } from '../lib/signals.js';
import { toFcosError, UserError } from '../lib/errors.js';

/** A bad command-line argument (exit 2, as node:util parseArgs' own errors). */
export class UsageError extends UserError {}

function isUsage(e: unknown): boolean {
  return e instanceof UsageError || String((e as { code?: unknown } | undefined)?.code ?? '').startsWith('ERR_PARSE_ARGS');
}

export function benchMain(name: string, moduleUrl: string, main: () => Promise<string | void>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  installSignalHandlers();
  main().then(
    (out) => {
      if (out) process.stdout.write(out.endsWith('\n') ? out : out + '\n');
      process.exit(0);
    },
    (e: unknown) => {
      const fe = toFcosError(e);
      process.stderr.write(`${name}: ${isUsage(e) ? (e as Error).message : fe.render()}\n`);
      process.exit(isUsage(e) ? 2 : fe.exitCode);
    },
  );
}
