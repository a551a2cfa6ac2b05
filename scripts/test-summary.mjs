// Merges the parts that scripts/vitest-report.mjs wrote (one per vitest run) with each run's exit status into
// tmp/test-report.json, and prints the plain closing line CI reads: "tests: N passed, N failed, N skipped".
// Exits non-zero when anything failed.
//
// Use: node scripts/test-summary.mjs OUT.json NAME=PART.json:EXITCODE [NAME=PART.json:EXITCODE ...]
//
// Counted as failures, not skips: a failed test; a file that failed outside its tests (beforeAll, import); a test
// still queued or running when its run ended (cancelled); each unhandled error; a run whose report is missing or
// unreadable (stale reports are deleted by `make test` before vitest starts); a run that exited non-zero although
// its report shows no failure.
import { readFileSync, writeFileSync } from 'node:fs';

export function summarize(runs) {
  const report = { passed: 0, failed: 0, skipped: 0, wall_s: 0, boots: 0, reboots: 0, runs: [], files: [] };
  for (const r of runs) {
    const reasons = [];
    let part;
    try {
      part = JSON.parse(readFileSync(r.part, 'utf8'));
    } catch (e) {
      reasons.push(`no report from vitest (${e.code ?? e.message})`);
    }
    let failed = 0;
    if (part) {
      report.passed += part.passed ?? 0;
      report.skipped += part.skipped ?? 0;
      failed += (part.failed ?? 0) + (part.failed_outside_tests ?? 0) + (part.cancelled ?? 0);
      if (part.cancelled) reasons.push(`${part.cancelled} test(s) cancelled (queued or running when the run ended: ${part.reason})`);
      for (const e of part.unhandled_errors ?? []) reasons.push(`unhandled error: ${e}`);
      failed += (part.unhandled_errors ?? []).length;
      report.wall_s += part.wall_s ?? 0;
      report.boots += part.boots ?? 0;
      report.reboots += part.reboots ?? 0;
      report.files.push(...(part.files ?? []).map((f) => ({ run: r.name, ...f })));
      for (const f of part.files ?? []) if (f.error) reasons.push(`${f.file} failed outside its tests: ${f.error}`);
    } else {
      failed += 1;
    }
    if (r.exitCode !== 0 && failed === 0) {
      reasons.push(`vitest exited with status ${r.exitCode} although its report shows no failure`);
      failed += 1;
    }
    report.failed += failed;
    report.runs.push({ name: r.name, exit_code: r.exitCode, failed, ...(reasons.length ? { reasons } : {}) });
  }
  report.wall_s = Math.round(report.wall_s * 10) / 10;
  return report;
}

export function closingLine(report) {
  return `tests: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`;
}

function parseArg(a) {
  const m = /^([^=]+)=(.+):(-?\d+)$/.exec(a);
  if (!m) throw new Error(`test-summary: bad argument ${a} (want NAME=PART.json:EXITCODE)`);
  return { name: m[1], part: m[2], exitCode: Number(m[3]) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [out, ...args] = process.argv.slice(2);
  const report = summarize(args.map(parseArg));
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  for (const r of report.runs) for (const why of r.reasons ?? []) console.error(`test-summary: ${r.name}: ${why}`);
  const table = report.files.filter((f) => f.run === 'e2e' || f.boots > 0 || f.wall_s >= 60);
  if (table.length) {
    console.error('test-summary: file                                   wall_s  tests  boots reboots');
    for (const f of table) console.error(`test-summary: ${f.file.padEnd(38)} ${String(f.wall_s).padStart(7)} ${String(f.tests).padStart(6)} ${String(f.boots).padStart(6)} ${String(f.reboots ?? 0).padStart(7)}`);
  }
  console.error(`test-summary: wall ${report.wall_s} s, ${report.boots} QEMU launch(es), ${report.reboots} in-guest reboot(s); report in ${out}`);
  console.log(closingLine(report));
  process.exit(report.failed > 0 ? 1 : 0);
}
