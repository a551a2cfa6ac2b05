// Prints the plain closing line CI reads: "tests: N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';
const file = process.argv[2];
let r;
try {
  r = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.log(`tests: 0 passed, 1 failed`);
  console.error(`test-summary: cannot read ${file}: ${e.message}`);
  process.exit(0);
}
const passed = r.numPassedTests ?? 0;
// A file whose beforeAll/afterAll throws (or that fails to load) fails with its tests marked skipped, not failed:
// count such a file as one failure, so that the closing line never says "0 failed" for a red run. (Vitest's
// numFailedTestSuites also counts every describe above a failed test, so it cannot simply be added.)
const failedFiles = (r.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'));
for (const f of failedFiles) console.error(`test-summary: ${f.name} failed outside its tests: ${String(f.message ?? '').split('\n')[0]}`);
const failed = (r.numFailedTests ?? 0) + failedFiles.length;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
