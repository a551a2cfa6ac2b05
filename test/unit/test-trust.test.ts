/**
 * The pieces that decide whether a test run or an e2e check reports a pass (issue #14): the closing line and
 * tmp/test-report.json, negative checks over SSH, `ostree admin status` parsing, and the exact failure texts the
 * scenarios require. Each case here is the broken situation the check must catch.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { expectGuestFailure } from '../../qemu/vm.js';
import { bootedDeployments } from '../../test/scenarios/ostree-status.js';
import { HASH_ERROR } from '../../test/scenarios/basic.js';
import { brokenScript, OSTREE_ERR, TRIAL_SEEN } from '../../test/scenarios/upgrade.js';
// @ts-expect-error: a plain .mjs script without types
import { summarize, closingLine } from '../../scripts/test-summary.mjs';
// @ts-expect-error: a plain .mjs script without types
import FcosReportReporter, { readBootLog } from '../../scripts/vitest-report.mjs';

const ROOT = join(__dirname, '..', '..');
const tmp = () => made(mkdtempSync(join(tmpdir(), 'fcos-trust-')));
const part = (dir: string, name: string, o: object) => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify({ passed: 0, failed: 0, skipped: 0, cancelled: 0, failed_outside_tests: 0, unhandled_errors: [], wall_s: 1, boots: 0, files: [], ...o }));
  return p;
};

/** Temp dirs made here, removed after the file. */
const dirs: string[] = [];
const made = (d: string) => (dirs.push(d), d);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the closing line and tmp/test-report.json', () => {
  it('a green run: counts add up over the unit and e2e runs', () => {
    const d = tmp();
    const r = summarize([
      { name: 'unit', part: part(d, 'u.json', { passed: 5, skipped: 1, wall_s: 10 }), exitCode: 0 },
      { name: 'e2e', part: part(d, 'e.json', { passed: 2, wall_s: 100, boots: 4, files: [{ file: 'test/e2e/x.test.ts', wall_s: 100, tests: 2, boots: 4 }] }), exitCode: 0 },
    ]);
    expect(closingLine(r)).toBe('tests: 7 passed, 0 failed, 1 skipped');
    expect(r).toMatchObject({ wall_s: 110, boots: 4, files: [{ run: 'e2e', file: 'test/e2e/x.test.ts', wall_s: 100, tests: 2, boots: 4 }] });
  });

  it('a missing report (vitest never wrote one: the stale one was deleted) is a failure', () => {
    const r = summarize([{ name: 'e2e', part: join(tmp(), 'absent.json'), exitCode: 1 }]);
    expect(r.failed).toBe(1);
    expect(r.runs[0].reasons[0]).toMatch(/no report/);
  });

  it('vitest exiting non-zero with 0 failures in its report is a failure', () => {
    const d = tmp();
    const r = summarize([{ name: 'e2e', part: part(d, 'e.json', { passed: 5 }), exitCode: 1 }]);
    expect(closingLine(r)).toBe('tests: 5 passed, 1 failed, 0 skipped');
  });

  it('unhandled errors, cancelled tests and files failed outside their tests are failures, not skips', () => {
    const d = tmp();
    const r = summarize([
      { name: 'e2e', part: part(d, 'e.json', { passed: 1, cancelled: 2, failed_outside_tests: 1, unhandled_errors: ['boom'], reason: 'interrupted' }), exitCode: 1 },
    ]);
    expect(closingLine(r)).toBe('tests: 1 passed, 4 failed, 0 skipped');
    expect(r.runs[0].reasons.join('\n')).toMatch(/cancelled[\s\S]*unhandled error: boom/);
  });

  it('the script itself exits 1 on a red run and writes the report', () => {
    const d = tmp();
    const out = join(d, 'report.json');
    const res = spawnSync('node', [join(ROOT, 'scripts', 'test-summary.mjs'), out, `unit=${part(d, 'u.json', { passed: 3 })}:1`], { encoding: 'utf8' });
    expect(res.status).toBe(1);
    expect(res.stdout.trim().split('\n').pop()).toBe('tests: 3 passed, 1 failed, 0 skipped');
    expect(JSON.parse(execFileSync('cat', [out], { encoding: 'utf8' })).failed).toBe(1);
  });

  it('the reporter places QEMU launches in the file that was running', () => {
    const d = tmp();
    const log = join(d, 'boots.jsonl');
    // The reboot at 1049 names t1: it counts for t1 although it falls in t0's window (a test that records its
    // reboots as its last step can end after the next one's start time).
    writeFileSync(log, [1000, 1500, 2500, 9999].map((t) => JSON.stringify({ t, vm: 'x', pid: 1 })).join('\n') + '\n' + JSON.stringify({ t: 1200, vm: 'x', kind: 'reboot' }) + '\n' + JSON.stringify({ t: 1049, vm: 'x', kind: 'reboot', test: 'A > t1' }) + '\n{"t": 12');
    expect(readBootLog(log).map((b: { t: number }) => b.t)).toEqual([1000, 1500, 2500, 9999, 1200, 1049]);
    const out = join(d, 'part.json');
    const rep = new FcosReportReporter({ outputFile: out });
    rep.onInit({ config: { root: '/r' } });
    rep.t0 = 0; // the run's window: every line of the log
    const mod = (id: string, states: string[], state = 'passed', times: [number, number][] = []) => ({
      moduleId: id,
      state: () => state,
      errors: () => [{ message: 'beforeAll: compose failed\nstack' }],
      children: {
        *allTests() {
          for (const [i, s] of states.entries()) {
            const tm = times[i];
            yield { name: `t${i}`, fullName: `A > t${i}`, result: () => ({ state: s }), diagnostic: () => (tm ? { startTime: tm[0], duration: tm[1] } : undefined) };
          }
        },
      },
    });
    // a's tests ran from 950 to 1050 (the launch at 1000) and from 1100 to 1600 (the launch at 1500, the reboot at 1200).
    const a = mod('/r/test/e2e/a.test.ts', ['passed', 'passed'], 'passed', [[950, 100], [1100, 500]]);
    const b = mod('/r/test/e2e/b.test.ts', ['skipped', 'skipped'], 'failed');
    rep.started.set(a.moduleId, 900); rep.ended.set(a.moduleId, 2000);
    rep.started.set(b.moduleId, 2001); rep.ended.set(b.moduleId, 3000);
    const prev = process.env.FCOS_BOOT_LOG;
    process.env.FCOS_BOOT_LOG = log;
    try {
      rep.onTestRunEnd([a, b], [], 'failed');
    } finally {
      if (prev === undefined) delete process.env.FCOS_BOOT_LOG;
      else process.env.FCOS_BOOT_LOG = prev;
    }
    const p = JSON.parse(execFileSync('cat', [out], { encoding: 'utf8' }));
    expect(p.files).toEqual([
      {
        file: 'test/e2e/a.test.ts', wall_s: 1.1, tests: 2, passed: 2, failed: 0, skipped: 0, cancelled: 0, boots: 2, reboots: 2,
        cases: [
          { name: 't0', state: 'passed', wall_s: 0.1, boots: 1, reboots: 0 },
          { name: 't1', state: 'passed', wall_s: 0.5, boots: 1, reboots: 2 },
        ],
      },
      { file: 'test/e2e/b.test.ts', wall_s: 1, tests: 2, passed: 0, failed: 1, skipped: 2, cancelled: 0, boots: 1, reboots: 0, error: 'beforeAll: compose failed' },
    ]);
    expect([p.boots, p.reboots]).toEqual([4, 2]);
    expect(p.failed_outside_tests).toBe(1);
  });
});

describe('negative checks over SSH', () => {
  const r = (exitCode: number, stdout = '', stderr = '') => ({ exitCode, stdout, stderr });
  it('ssh exit 255 (no connection, VM gone) is an error, never "absent"', () => {
    expect(() => expectGuestFailure('vm', 'test -e /x', r(255, '', 'Connection refused'))).toThrow(/ssh .* failed \(exit 255\)/);
  });
  it('a command that succeeded fails the check', () => {
    expect(() => expectGuestFailure('vm', 'test -e /x', r(0))).toThrow(/must fail/);
  });
  it('a pinned status: curl 7 (refused) passes, 28 (time-out) does not', () => {
    expect(expectGuestFailure('vm', 'curl …', r(7)).exitCode).toBe(7);
    expect(() => expectGuestFailure('vm', 'curl …', r(28), 7)).toThrow(/exit 28 .* want 7/);
  });
});

describe('ostree admin status', () => {
  const c = (ch: string) => ch.repeat(64);
  it('counts every deployment, not only the booted line', () => {
    const two = `  fcos ${c('a')}.0 (staged)\n    Version: 2\n* fcos ${c('b')}.0\n    Version: 1\n  fcos ${c('d')}.1 (rollback)\n    origin refspec: x\n`;
    const d = bootedDeployments(two);
    expect(d.all.map((x) => [x.checksum[0], x.serial, x.flags])).toEqual([['a', 0, ['staged']], ['b', 0, []], ['d', 1, ['rollback']]]);
    expect(d.booted?.checksum).toBe(c('b'));
    const one = bootedDeployments(`* fcos ${c('e')}.0\n    Version: 1\n`);
    expect(one.all).toHaveLength(1);
  });
});

describe('the failure texts the scenarios require', () => {
  it("the wrong-hash boot must fail on Ignition's hash error, naming the expected hash", () => {
    const want = 'ab'.repeat(64);
    const line = `[   42.1] ignition[612]: files: createFilesystemsFiles: createFiles: op(6): [failed]   creating file "/sysroot/var/lib/fcos-test/fetched.bin": hash verification failed (calculated sha512-${'cd'.repeat(64)} but expected sha512-${want})`;
    expect(HASH_ERROR(want).test(line)).toBe(true);
    expect(HASH_ERROR(want).test('ignition[612]: files: op(6): [failed] fetching: connection refused')).toBe(false);
    expect(HASH_ERROR('ef'.repeat(64)).test(line)).toBe(false);
  });
  it("refused updates must show ostree's own messages", () => {
    expect(OSTREE_ERR.unsigned.test('2026-12-03T10:00:00Z upgrade refused or failed: error: GPG verification enabled, but no signatures found (use gpg-verify=false in remote config to disable)')).toBe(true);
    expect(OSTREE_ERR.unsigned.test('upgrade refused or failed: error: signature missing')).toBe(false);
    expect(OSTREE_ERR.corrupt.test(`error: Corrupted dirtree object; checksum expected='${'a'.repeat(64)}' actual='${'b'.repeat(64)}'`)).toBe(true);
    expect(OSTREE_ERR.corrupt.test('error: checksum mismatch')).toBe(false);
    expect(OSTREE_ERR.wrongKey.test("upgrade refused or failed: error: Can't check signature: public key not found")).toBe(true);
    expect(OSTREE_ERR.wrongKey.test('upgrade refused or failed: error: GPG: bad signature')).toBe(false);
  });
  it("v3's broken check waits for the test's flag, then fails with its message", () => {
    const d = tmp();
    const script = join(d, 'check');
    // The flag the scenario touches over SSH is the one the script waits for.
    expect(brokenScript()).toContain(`[ -e ${TRIAL_SEEN} ]`);
    writeFileSync(script, brokenScript().replace(TRIAL_SEEN, join(d, 'seen')).replace('seq 1 50', 'seq 1 2'), { mode: 0o755 });
    writeFileSync(join(d, 'seen'), '');
    const res = spawnSync(script, { encoding: 'utf8' });
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(/broken on purpose/);
  });
});
