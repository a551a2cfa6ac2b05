/**
 * Issue 15 #12: long steps (a cold kubelet build, a cold bootstrap) printed nothing between "==>" and "done".
 * The progress logic with a fake clock, then run() with a real short subprocess and short intervals.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Progress, formatElapsed, progressMode, setProgressJson } from '../../lib/progress.js';
import { run } from '../../lib/run.js';
import { ExternalError, UserError } from '../../lib/errors.js';
import { GO_PACKAGES_BUILT, ensureKubelet } from '../../ostree/k8s/kubelet.js';
import { useTempCacheDir } from './cache-helpers.js';

function fake() {
  let t = 1_000_000;
  const out: string[] = [];
  return { now: () => t, advance: (ms: number) => (t += ms), write: (s: string) => void out.push(s), out };
}

describe('progress of long steps (issue 15 #12)', () => {
  it('formats elapsed time', () => {
    expect(formatElapsed(0)).toBe('0s');
    expect(formatElapsed(59_999)).toBe('59s');
    expect(formatElapsed(187_000)).toBe('3m07s');
    expect(formatElapsed(3_723_000)).toBe('1h02m03s');
  });

  it('picks the mode: json under --json, a live line on a terminal, plain lines in CI or a pipe', () => {
    setProgressJson(true);
    expect(progressMode({}, true)).toBe('json');
    setProgressJson(false);
    expect(progressMode({}, true)).toBe('tty');
    expect(progressMode({ CI: 'true' }, true)).toBe('lines');
    expect(progressMode({ TERM: 'dumb' }, true)).toBe('lines');
    expect(progressMode({}, false)).toBe('lines');
  });

  it('lines mode (CI, a pipe): a line once the interval has passed, with elapsed time, the count and the last line', () => {
    const f = fake();
    const p = new Progress({ label: 'bootstrap the rootfs', mode: 'lines', intervalMs: 30_000, now: f.now, write: f.write, count: { pattern: /^Unpacking /, noun: 'packages unpacked' } });
    p.data('I: extracting archives...\nUnpacking libc6 (2.41-1) ...\nUnpacking bash');
    f.advance(29_000);
    p.tick();
    expect(f.out).toEqual([]); // not yet 30 s
    f.advance(1_000);
    p.tick();
    expect(f.out).toEqual(['    bootstrap the rootfs: still running after 30s, 1 packages unpacked, last: Unpacking libc6 (2.41-1) ...\n']);
    p.data(' (5.2.37-1) ...\n');
    f.advance(31_000);
    p.tick();
    expect(f.out[1]).toBe('    bootstrap the rootfs: still running after 1m01s, 2 packages unpacked, last: Unpacking bash (5.2.37-1) ...\n');
    p.end(true);
    f.advance(60_000);
    p.tick();
    expect(f.out).toHaveLength(2); // nothing after the end (the step prints "done" itself)
  });

  it('stdout and stderr chunks that interleave mid-line stay separate lines', () => {
    const f = fake();
    const p = new Progress({ label: 'x', mode: 'json', now: f.now, write: f.write });
    p.data('Unpacking li', 'out');
    p.data('warning: sl', 'err');
    p.data('bc6\n', 'out');
    p.data('ow\n', 'err');
    p.end(true);
    expect(JSON.parse(f.out.at(-1)!)).toMatchObject({ event: 'end', lines: 2, last: 'warning: slow' });
  });

  it('tty mode: a live line redrawn in place, cut to the terminal width, erased at the end', () => {
    const f = fake();
    const p = new Progress({ label: 'build kubelet', mode: 'tty', now: f.now, write: f.write, columns: 60, count: { pattern: /^k8s\.io\//, noun: 'Go packages built' } });
    p.tick();
    expect(f.out.at(-1)).toBe('\r\x1b[2K    build kubelet: 0s');
    f.advance(5_000);
    p.line('k8s.io/apimachinery/pkg/util/sets');
    expect(f.out.at(-1)).toBe('\r\x1b[2K    build kubelet: 5s · 1 Go packages built · k8s.io/apima…');
    expect(f.out.at(-1)!.length - '\r\x1b[2K'.length).toBe(59);
    f.advance(50);
    p.line('k8s.io/kubernetes/pkg/kubelet'); // redraws at most every 100 ms on output
    expect(f.out).toHaveLength(2);
    f.advance(1_000);
    p.tick();
    expect(f.out.at(-1)).toContain('6s · 2 Go packages built · k8s.io/kub');
    f.advance(100);
    p.line('\x1b[1mbold\x1b[0m\tx');
    expect(f.out.at(-1)).toMatch(/ · bold x$/);
    p.end(true);
    expect(f.out.at(-1)).toBe('\r\x1b[2K');
  });

  it('json mode: one JSON event per line: start, progress every interval, end', () => {
    const f = fake();
    const p = new Progress({ label: 'build kubelet', mode: 'json', intervalMs: 30_000, now: f.now, write: f.write });
    p.line('k8s.io/a');
    f.advance(30_000);
    p.tick();
    f.advance(2_500);
    p.end(false);
    expect(f.out.every((s) => s.endsWith('\n') && s.indexOf('\n') === s.length - 1)).toBe(true);
    expect(f.out.map((s) => JSON.parse(s))).toEqual([
      { event: 'start', step: 'build kubelet', elapsedSeconds: 0 },
      { event: 'progress', step: 'build kubelet', elapsedSeconds: 30, lines: 1, last: 'k8s.io/a' },
      { event: 'end', step: 'build kubelet', elapsedSeconds: 32.5, lines: 1, last: 'k8s.io/a', ok: false },
    ]);
  });

  const script = 'for i in 1 2 3; do echo line$i; sleep 0.3; done';

  it('run() with a real subprocess, lines mode: heartbeats while it runs, output still captured', async () => {
    const out: string[] = [];
    const r = await run('bash', ['-c', script], { progress: { label: 'count', mode: 'lines', intervalMs: 250, tickMs: 50, write: (s) => void out.push(s) } });
    expect(r.stdout).toBe('line1\nline2\nline3\n');
    expect(out.length).toBeGreaterThanOrEqual(2);
    expect(out.length).toBeLessThanOrEqual(5);
    for (const l of out) expect(l).toMatch(/^ {4}count: still running after \ds, \d lines of output, last: line[123]\n$/);
    expect(out.some((l) => l.includes('last: line2') || l.includes('last: line3'))).toBe(true);
  });

  it('run() with a real subprocess, json mode: every stderr line is a JSON event; a failure ends with ok false', async () => {
    const out: string[] = [];
    const err = await run('bash', ['-c', `${script}; echo oops >&2; exit 4`], { progress: { label: 'fail', mode: 'json', intervalMs: 200, tickMs: 50, write: (s) => void out.push(s) } }).catch((e) => e);
    expect(err).toBeInstanceOf(ExternalError);
    const events = out.map((s) => JSON.parse(s));
    expect(events[0]).toMatchObject({ event: 'start', step: 'fail' });
    expect(events.filter((e) => e.event === 'progress').length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)).toMatchObject({ event: 'end', ok: false, lines: 4, last: 'oops' });
  });

  it('run() with a real subprocess, tty mode: the live line shows the last output line and is erased', async () => {
    const out: string[] = [];
    await run('bash', ['-c', script], { progress: { label: 'tty', mode: 'tty', tickMs: 50, columns: 80, write: (s) => void out.push(s) } });
    expect(out.some((s) => /^\r\x1b\[2K {4}tty: 0s · line2$/.test(s))).toBe(true);
    expect(out.at(-1)).toBe('\r\x1b[2K');
  });

  it('no progress output with inherit (verbose: the output itself is shown)', async () => {
    const out: string[] = [];
    await run('true', [], { inherit: true, progress: { label: 'x', mode: 'json', write: (s) => void out.push(s) } });
    expect(out).toEqual([]);
  });

  it('go build -v lines count as Go packages built; downloads and errors do not', () => {
    for (const l of ['runtime', 'internal/goarch', 'k8s.io/kubernetes/pkg/kubelet', 'github.com/google/cadvisor/container/crio', 'gopkg.in/yaml.v3']) expect(GO_PACKAGES_BUILT.pattern.test(l), l).toBe(true);
    for (const l of ['go: downloading k8s.io/api v0.35.4', '# k8s.io/kubernetes/pkg/x', 'pkg/x/y.go:3:1: syntax error']) expect(GO_PACKAGES_BUILT.pattern.test(l), l).toBe(false);
  });

  describe('wired into the kubelet build', () => {
    let dir = '';
    useTempCacheDir('fcos-progress-test-', (d) => (dir = d));
    it('a cold kubelet build reports its download as JSON events under --json', async () => {
      const goroot = join(dir, 'goroot');
      mkdirSync(join(goroot, 'bin'), { recursive: true });
      writeFileSync(join(goroot, 'VERSION'), 'go1.99.1\ntime 2030-01-01T00:00:00Z\n');
      writeFileSync(join(goroot, 'bin', 'go'), '#!/bin/sh\necho "go: downloading k8s.io/kubernetes v1.35.4" >&2\nexit 1\n');
      chmodSync(join(goroot, 'bin', 'go'), 0o755);
      const written: string[] = [];
      const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (written.push(String(s)), true));
      setProgressJson(true);
      try {
        await expect(ensureKubelet({ version: 'v1.35.4', goBin: join(goroot, 'bin', 'go') })).rejects.toThrow(UserError);
      } finally {
        setProgressJson(false);
        spy.mockRestore();
      }
      const events = written.filter((s) => s.startsWith('{')).map((s) => JSON.parse(s));
      expect(events[0]).toMatchObject({ event: 'start', step: 'download k8s.io/kubernetes@v1.35.4' });
      expect(events.at(-1)).toMatchObject({ event: 'end', step: 'download k8s.io/kubernetes@v1.35.4', ok: false, last: 'go: downloading k8s.io/kubernetes v1.35.4' });
    });
  });
});
