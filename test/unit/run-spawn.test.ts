/**
 * spawnProcess(): the long-running side of lib/run.ts, on execa (exit record, output tail, stop with SIGKILL after a
 * grace, detached children that outlive fcos, Ctrl-C).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnProcess } from '../../lib/run.js';
import { installSignalHandlers } from '../../lib/signals.js';
import { ExternalError, UserError } from '../../lib/errors.js';
import { alive } from './process-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'fcos-spawn-test-'));

describe('spawnProcess()', () => {
  it('records the exit and keeps the tail of stdout and stderr for the error', async () => {
    const p = await spawnProcess('sh', ['-c', 'echo out; echo err >&2; exit 3'], { purpose: 'the tool' });
    expect(p.command).toBe(`sh -c 'echo out; echo err >&2; exit 3'`);
    expect(await p.exited).toEqual({ exitCode: 3, signal: null });
    expect(p.exit).toEqual({ exitCode: 3, signal: null });
    await new Promise((r) => setTimeout(r, 50)); // the output may follow the exit event
    expect(p.outputTail()).toContain('out');
    expect(p.outputTail()).toContain('err');
    const e = p.exitError();
    expect(e).toBeInstanceOf(ExternalError);
    expect(e.message).toBe('the tool exited unexpectedly (exit status 3)');
    expect(e.exitStatus).toBe(3);
  });

  it('passes cwd and env (on top of the environment)', async () => {
    const p = await spawnProcess('sh', ['-c', 'echo "$FCOS_T_X $(pwd)"'], { cwd: dir, env: { FCOS_T_X: 'x1' } });
    await p.exited;
    await new Promise((r) => setTimeout(r, 50));
    expect(p.outputTail().trim()).toBe(`x1 ${dir}`);
  });

  it('a missing binary is a UserError naming it', async () => {
    const e = await spawnProcess('qemu-not-here-x', []).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).toContain("'qemu-not-here-x' was not found");
  });

  it('stop(): SIGTERM; a child that ignores it gets SIGKILL after the grace', async () => {
    const polite = await spawnProcess('sleep', ['30']);
    expect(await polite.stop()).toEqual({ exitCode: null, signal: 'SIGTERM' });
    const stubborn = await spawnProcess('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done']);
    while (!stubborn.outputTail().includes('ready')) await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    expect(await stubborn.stop(300)).toEqual({ exitCode: null, signal: 'SIGKILL' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(4000);
    // killGraceMs is execa's forceKillAfterDelay: stop() without a grace uses it.
    const quick = await spawnProcess('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], { killGraceMs: 200 });
    while (!quick.outputTail().includes('ready')) await new Promise((r) => setTimeout(r, 20));
    expect(await quick.stop()).toEqual({ exitCode: null, signal: 'SIGKILL' });
  });

  it('detached: the child writes its own log and outlives the fcos process that started it', () => {
    const log = join(dir, 'detached.log');
    const run = fileURLToPath(new URL('../../lib/run.ts', import.meta.url));
    const script = join(dir, 'detach.ts');
    writeFileSync(
      script,
      `import { spawnProcess } from ${JSON.stringify(run)};
      const p = await spawnProcess('sh', ['-c', 'echo started; sleep 4; echo still here'], { detached: { logFile: ${JSON.stringify(log)} } });
      console.log(p.pid);\n`,
    );
    const t0 = Date.now();
    const r = spawnSync(join(process.cwd(), 'node_modules/.bin/vite-node'), [script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const pid = Number(r.stdout.trim().split('\n').pop());
    expect(pid).toBeGreaterThan(0);
    // fcos (here the script) ended while its child runs on.
    if (Date.now() - t0 < 3500) expect(alive(pid)).toBe(true);
    return new Promise<void>((resolve) => {
      const wait = () => {
        if (alive(pid)) return setTimeout(wait, 100);
        expect(readFileSync(log, 'utf8')).toBe('started\nstill here\n');
        resolve();
      };
      wait();
    });
  });

  // Last: it interrupts this worker for good (the abort signal of lib/signals.ts is process-wide).
  it('Ctrl-C: a child is stopped (SIGKILL after the grace if it ignores SIGTERM); killOnAbort: false leaves it alone', async () => {
    installSignalHandlers();
    const stderr = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      const polite = await spawnProcess('sleep', ['30']);
      const stubborn = await spawnProcess('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], { killGraceMs: 300 });
      const kept = await spawnProcess('sleep', ['30'], { killOnAbort: false });
      while (!stubborn.outputTail().includes('ready')) await new Promise((r) => setTimeout(r, 20));
      process.kill(process.pid, 'SIGINT');
      expect(await polite.exited).toEqual({ exitCode: null, signal: 'SIGTERM' });
      expect(await stubborn.exited).toEqual({ exitCode: null, signal: 'SIGKILL' });
      expect(kept.exit).toBeUndefined();
      expect(await kept.stop()).toEqual({ exitCode: null, signal: 'SIGTERM' });
      await expect(spawnProcess('sleep', ['1'])).rejects.toThrow(/interrupted by SIGINT/);
    } finally {
      process.stderr.write = stderr;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
