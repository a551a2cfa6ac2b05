// A vitest reporter that writes one part of tmp/test-report.json: per test file its wall time (from the moment
// vitest starts the file, so beforeAll's composes and images count), its test counts and the QEMU launches made
// while it ran (read from $FCOS_BOOT_LOG, one JSON line per launch, written by qemu/vm.ts), the in-guest reboots the
// tests recorded there (lines with kind "reboot": a reboot inside a running VM is not a QEMU launch), and per e2e test
// its wall time, launches and reboots ("cases"), plus the run's unhandled errors and end reason. scripts/test-summary.mjs merges the parts and prints the closing line.
//
// Use: vitest run --reporter=default --reporter=./scripts/vitest-report.mjs (output file: $FCOS_REPORT_PART).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';

export function readBootLog(file) {
  if (!file || !existsSync(file)) return [];
  const out = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const b = JSON.parse(line);
      if (typeof b.t === 'number') out.push(b);
    } catch {
      /* a line cut by a crash: not a launch we can place */
    }
  }
  return out;
}

export default class FcosReportReporter {
  constructor(opts = {}) {
    this.out = opts.outputFile ?? process.env.FCOS_REPORT_PART ?? 'tmp/test-report-part.json';
    this.started = new Map();
    this.ended = new Map();
    this.t0 = Date.now();
  }

  onInit(ctx) {
    this.root = ctx.config.root;
    this.t0 = Date.now();
  }

  onTestModuleStart(m) {
    this.started.set(m.moduleId, Date.now());
  }

  onTestModuleEnd(m) {
    this.ended.set(m.moduleId, Date.now());
  }

  onTestRunEnd(modules, unhandledErrors, reason) {
    const t1 = Date.now();
    const log = readBootLog(process.env.FCOS_BOOT_LOG);
    const boots = log.filter((b) => b.kind === undefined);
    const reboots = log.filter((b) => b.kind === 'reboot');
    const within = (list, a, b) => list.filter((x) => x.t >= a && x.t <= b).length;
    // A line that names its test (recordReboot's `test`) counts for that test only; the others by time window.
    const ofCase = (list, t, a, b) => list.filter((x) => (x.test === undefined ? x.t >= a && x.t <= b : x.test === t.fullName)).length;
    const files = [];
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let cancelled = 0;
    let failedOutside = 0;
    for (const m of modules) {
      const start = this.started.get(m.moduleId);
      const end = this.ended.get(m.moduleId) ?? t1;
      const counts = { passed: 0, failed: 0, skipped: 0, cancelled: 0 };
      for (const t of m.children.allTests()) {
        const st = t.result().state;
        if (st === 'passed') counts.passed++;
        else if (st === 'failed') counts.failed++;
        // 'pending': queued or running when the run ended (cancelled, bailed, timed out): not a skip.
        else if (st === 'pending') counts.cancelled++;
        else counts.skipped++;
      }
      // A file whose beforeAll/afterAll threw, or that failed to load, marks its tests skipped: one failure.
      const outside = m.state() === 'failed' && counts.failed === 0 ? 1 : 0;
      passed += counts.passed;
      failed += counts.failed;
      skipped += counts.skipped;
      cancelled += counts.cancelled;
      failedOutside += outside;
      const fileBoots = start === undefined ? 0 : within(boots, start, end);
      const fileReboots = start === undefined ? 0 : within(reboots, start, end);
      // Per test of a file that boots VMs: its own wall time (beforeAll not included), launches and reboots.
      const cases = [];
      if (fileBoots || fileReboots) {
        for (const t of m.children.allTests()) {
          const d = t.diagnostic();
          if (!d) continue;
          const a = d.startTime;
          const b = d.startTime + d.duration;
          cases.push({ name: t.name, state: t.result().state, wall_s: Math.round(d.duration / 100) / 10, boots: ofCase(boots, t, a, b), reboots: ofCase(reboots, t, a, b) });
        }
      }
      files.push({
        file: relative(this.root ?? process.cwd(), m.moduleId),
        wall_s: start === undefined ? 0 : Math.round((end - start) / 100) / 10,
        tests: counts.passed + counts.failed + counts.skipped + counts.cancelled,
        passed: counts.passed,
        failed: counts.failed + outside,
        skipped: counts.skipped,
        cancelled: counts.cancelled,
        boots: fileBoots,
        reboots: fileReboots,
        ...(cases.length ? { cases } : {}),
        ...(outside ? { error: String(m.errors()[0]?.message ?? 'failed outside its tests').split('\n')[0] } : {}),
      });
    }
    const part = {
      passed,
      failed,
      skipped,
      cancelled,
      failed_outside_tests: failedOutside,
      unhandled_errors: unhandledErrors.map((e) => String(e.message ?? e).split('\n')[0]),
      reason,
      wall_s: Math.round((t1 - this.t0) / 100) / 10,
      boots: within(boots, this.t0, t1),
      reboots: within(reboots, this.t0, t1),
      files: files.sort((a, b) => a.file.localeCompare(b.file)),
    };
    mkdirSync(dirname(this.out), { recursive: true });
    writeFileSync(this.out, JSON.stringify(part, null, 2) + '\n');
  }
}
