import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, formatCommand, shellQuote } from '../../lib/run.js';
import { ExternalError, InterruptedError, UserError, toFcosError, BugError } from '../../lib/errors.js';

describe('run()', () => {
  it('returns stdout of a successful command', async () => {
    const r = await run('sh', ['-c', 'echo hello']);
    expect(r.stdout).toBe('hello\n');
    expect(r.exitCode).toBe(0);
  });

  it('throws ExternalError with the exact command and the stderr tail', async () => {
    const err = await run('sh', ['-c', 'for i in $(seq 1 40); do echo line$i >&2; done; exit 3'], { purpose: 'count lines' }).catch((e) => e);
    expect(err).toBeInstanceOf(ExternalError);
    expect(err.message).toBe('failed to count lines');
    expect(err.command).toBe(`sh -c 'for i in $(seq 1 40); do echo line$i >&2; done; exit 3'`);
    expect(err.exitStatus).toBe(3);
    expect(err.stderrTail.split('\n')).toHaveLength(20);
    expect(err.stderrTail).toContain('line40');
    expect(err.stderrTail).not.toContain('line20\n');
    expect(err.render()).toContain('exit status: 3');
  });

  it('names the Debian package of a missing tool', async () => {
    const err = await run('mmdebstrap-not-here', []).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toContain("'mmdebstrap-not-here' was not found");
  });

  it('a child killed by SIGINT (Ctrl-C to the process group, before our own handler ran) is an interruption, exit 130', async () => {
    const e = await run('sh', ['-c', 'kill -INT $$; sleep 5']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InterruptedError);
    expect((e as InterruptedError).exitCode).toBe(130);
    expect((e as Error).message).toContain('while running: sh -c');
    // Another signal is still the tool's failure, with the signal named.
    const t = await run('sh', ['-c', 'kill -TERM $$; sleep 5']).catch((x: unknown) => x);
    expect(t).toBeInstanceOf(ExternalError);
    expect((t as Error).message).toContain('killed by SIGTERM');
  });

  it('a timeout: SIGTERM, then SIGKILL after the grace for a child that ignores it; an ExternalError with the command', async () => {
    const t0 = Date.now();
    const err = await run('sh', ['-c', 'trap "" TERM; while :; do sleep 0.05; done'], { timeoutMs: 200, purpose: 'wait' }).catch((e) => e);
    expect(err).toBeInstanceOf(ExternalError);
    expect(err.message).toBe('wait timed out after 200 ms');
    expect(err.command).toBe(`sh -c 'trap "" TERM; while :; do sleep 0.05; done'`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5000);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it('killGraceMs: a child that cleans up after SIGTERM is given that long before SIGKILL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcos-run-grace-'));
    try {
      // On TERM: clean up for 1 s (longer than the 200 ms grace below, shorter than the 10 s one), then mark it done.
      const script = `trap 'sleep 1; echo done > "$1"; exit 3' TERM; while :; do sleep 0.05; done`;
      const long = await run('bash', ['-c', script, 'x', join(dir, 'long')], { timeoutMs: 200, killGraceMs: 10_000 }).catch((e) => e);
      expect(long).toBeInstanceOf(ExternalError);
      expect(readFileSync(join(dir, 'long'), 'utf8')).toBe('done\n');
      const short = await run('bash', ['-c', script, 'x', join(dir, 'short')], { timeoutMs: 200, killGraceMs: 200 }).catch((e) => e);
      expect(short).toBeInstanceOf(ExternalError);
      expect(existsSync(join(dir, 'short'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('allowFailure returns the exit code instead of throwing', async () => {
    const r = await run('sh', ['-c', 'exit 4'], { allowFailure: true });
    expect(r.exitCode).toBe(4);
  });

  it('reports a full disk as a user error', async () => {
    const err = await run('sh', ['-c', 'echo "write error: No space left on device" >&2; exit 1']).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/no space left on device/);
  });
});

describe('shell quoting', () => {
  it('quotes only what needs quoting', () => {
    expect(shellQuote('abc/def-1.2')).toBe('abc/def-1.2');
    expect(shellQuote('a b')).toBe(`'a b'`);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('')).toBe(`''`);
    expect(formatCommand('ostree', ['commit', '--subject=a b'])).toBe(`ostree commit '--subject=a b'`);
  });
});

describe('toFcosError', () => {
  it('maps errno codes to user errors and the rest to bugs', () => {
    const enospc = Object.assign(new Error('x'), { code: 'ENOSPC', path: '/tmp/x' });
    expect(toFcosError(enospc)).toBeInstanceOf(UserError);
    expect(toFcosError(enospc).message).toBe('no space left on device: /tmp/x');
    expect(toFcosError(new TypeError('boom'))).toBeInstanceOf(BugError);
    expect(toFcosError(new TypeError('boom')).exitCode).toBe(70);
  });
});
