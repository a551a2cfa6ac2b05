/**
 * The harness end to end on the plain Debian baseline (no fcos build needed): a good boot passes with its logs
 * collected, and three injected failures (a unit that fails, a kernel panic, QEMU gone before the machine checks)
 * are detected and reported.
 * Needs root, mmdebstrap and QEMU; builds the baseline once into the cache (a few minutes).
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScenarios, type TestReport } from '../../qemu/harness.js';
import { baselinePanic, baselineQemuDies, baselineSmoke, baselineUnitFailure } from '../../test/scenarios/selftest.js';
import { ensureBaseline } from '../../qemu/baseline.js';

const outRoot = join('tmp', 'e2e-harness');

describe('fcos test harness on the baseline image', () => {
  let report: TestReport;
  beforeAll(async () => {
    await ensureBaseline();
    // Two at a time (the harness's parallel mode, as `fcos test --parallel 2`): the baseline VMs are small.
    report = await runScenarios({ scenarios: [baselineSmoke, baselineUnitFailure, baselinePanic, baselineQemuDies], buildsDir: 'builds', outRoot, sshTimeoutSec: 600, parallel: 2 });
  });

  it('a good boot: SSH, commands, reboot, machine checks pass; console and journal collected', () => {
    const s = report.scenarios.find((x) => x.name === 'baseline-smoke')!;
    expect(s.checks.filter((c) => !c.ok)).toEqual([]);
    expect(s.ok).toBe(true);
    expect(s.boots).toBe(2);
    expect(s.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['boot and reach SSH', 'runs a command over SSH', 'system is running (no failed units)', 'console shows no failure']),
    );
    expect(readFileSync(join(s.dir, 'console.txt'), 'utf8')).toMatch(/Linux version/);
    expect(s.journal).toBe(join(s.dir, 'journal.txt'));
    expect(readFileSync(s.journal!, 'utf8')).toMatch(/systemd/);
  });

  it('a unit that fails at boot fails the scenario, named, and the journal is still collected', () => {
    const s = report.scenarios.find((x) => x.name === 'baseline-unit-failure')!;
    expect(s.ok).toBe(false);
    const boot = s.checks.find((c) => c.name === 'boot and reach SSH')!;
    expect(boot.ok).toBe(false);
    // The console shortens long unit names ("fcos-selft….service"); the machine check names it in full.
    expect(boot.error).toMatch(/failed unit on the console .*fcos-selft/);
    const units = s.checks.find((c) => c.name === 'system is running (no failed units)')!;
    expect(units.ok).toBe(false);
    expect(units.error).toMatch(/fcos-selftest-fail\.service/);
    expect(existsSync(join(s.dir, 'console-failures.txt'))).toBe(true);
    expect(s.journal && readFileSync(s.journal, 'utf8')).toMatch(/fcos-selftest-fail/);
  });

  it('a kernel panic fails the scenario at once', () => {
    const s = report.scenarios.find((x) => x.name === 'baseline-panic')!;
    expect(s.ok).toBe(false);
    const boot = s.checks.find((c) => c.name === 'boot and reach SSH')!;
    expect(boot.error).toMatch(/kernel panic on the console .*Kernel panic - not syncing/);
    // Fail fast: well under the 600 s SSH time-out.
    expect(boot.seconds).toBeLessThan(180);
    expect(s.journal).toBeUndefined();
  });

  it('a QEMU that is gone after the last check fails the scenario: the machine checks could not run', () => {
    const s = report.scenarios.find((x) => x.name === 'baseline-qemu-dies')!;
    expect(s.checks.find((c) => c.name === 'runs a command over SSH')?.ok).toBe(true);
    const machine = s.checks.find((c) => c.name === 'system is running (no failed units)')!;
    expect(machine.ok).toBe(false);
    expect(machine.error).toMatch(/not running for the machine checks/);
    expect(s.ok).toBe(false);
    expect(s.boots).toBe(1);
  });

  it('the report says not everything passed', () => {
    expect(report.ok).toBe(false);
    expect(report.passed).toBe(1);
    expect(report.failed).toBe(3);
  });
});
