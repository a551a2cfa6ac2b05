/**
 * The scenarios' guest-side files (test/scenarios/guest/: shell scripts, units, drop-ins), read at run time from the
 * project root, as ostree/ finds its overlay: the same files whether fcos runs from the sources or from dist/.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BugError } from '../../lib/errors.js';
import { shellQuote } from '../../lib/run.js';
import { projectRoot } from '../../lib/version.js';

/** The directory of the guest-side files. */
export function guestDir(): string {
  return join(projectRoot(), 'test', 'scenarios', 'guest');
}

/** The text of test/scenarios/guest/<name>. */
export function guestFile(name: string): string {
  const p = join(guestDir(), name);
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw new BugError(`a scenario's guest file is missing: ${p} (${(e as Error).message})`);
  }
}

/**
 * The command line (for ssh) that runs the script guest/<name> with sh, its arguments quoted:
 * `[sudo ]sh -c '<script>' <name> 'arg'…` ($0 is the script's name, $1… the arguments).
 */
export function guestScript(name: string, args: readonly string[] = [], opts: { sudo?: boolean } = {}): string {
  return [...(opts.sudo ? ['sudo'] : []), 'sh', '-c', shellQuote(guestFile(name)), shellQuote(name), ...args.map(shellQuote)].join(' ');
}
