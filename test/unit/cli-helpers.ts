/** Running bin/fcos from unit tests: build dist/ when it is missing, run a command, or run a server until it is up. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { run } from '../../lib/run.js';

export const REPO = join(__dirname, '..', '..');
export const FCOS = join(REPO, 'bin', 'fcos');

/**
 * dist/ is what bin/fcos runs: build it as `make build` does (tsc, then scripts/build-dist.mjs: the ajv validators and
 * oclif.manifest.json) when it is not there, or always with force (a stale one is otherwise the caller's business).
 */
export async function buildCli(o: { force?: boolean } = {}): Promise<void> {
  if (!o.force && existsSync(join(REPO, 'dist', 'cli', 'commands', 'validate.js'))) return;
  await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO, timeoutMs: 280_000, purpose: 'build the CLI' });
  await run('node', ['scripts/build-dist.mjs'], { cwd: REPO, timeoutMs: 120_000, purpose: 'build the CLI (generated files)' });
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
