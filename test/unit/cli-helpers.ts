/** Running bin/fcos from unit tests: build dist/ when it is missing, run a command, or run a server until it is up. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { run } from '../../lib/run.js';

export const REPO = join(__dirname, '..', '..');
export const FCOS = join(REPO, 'bin', 'fcos');

/** dist/ is what bin/fcos runs: build it when it is not there (a stale one is the caller's business: `npx tsc -p tsconfig.json`). */
export async function buildCli(): Promise<void> {
  if (!existsSync(join(REPO, 'dist', 'cli', 'index.js'))) await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO, timeoutMs: 280_000, purpose: 'build the CLI' });
}

export interface CliResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Run bin/fcos. With untilStdout, a long-running command (a server) is stopped with SIGINT once its stdout matches,
 * and what it printed so far is returned; it fails after timeoutMs.
 */
export async function fcosCli(args: string[], o: { untilStdout?: RegExp; timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  const p = execa(FCOS, args, { reject: false, input: o.input, env: { FCOS_DEBUG: '' }, timeout: o.timeoutMs ?? 30_000 });
  if (o.untilStdout) {
    const re = o.untilStdout;
    let out = '';
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (re.test(out)) p.kill('SIGINT');
    });
  }
  const r = await p;
  return { exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}
