/**
 * Benchmark (issue 15 #8): validateConfig's time on the shapes of bench/validate-shapes.ts at growing sizes, in
 * seconds and seconds per MB (wall and CPU time of this process: CPU time is the steadier one on a busy host). The
 * goal is under 1 s per MB for every shape. Each shape is validated once small first (JIT, the spec's schema
 * compiled). Not a test: prints, asserts nothing.
 * Usage: bench/validate-scale [--json] [MB ...]   (default sizes 0.25 0.5 1 2 MB)
 */
import { validateConfig } from '../ignition/validate.js';
import { SHAPES, generate } from './validate-shapes.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const sizes = args.filter((a) => a !== '--json').map(Number);
const rows: { shape: string; bytes: number; findings: number; seconds: number; cpuSeconds: number; secondsPerMB: number }[] = [];
for (const shape of SHAPES) {
  validateConfig(Buffer.from(generate(shape, 20_000)));
  for (const mb of sizes.length ? sizes : [0.25, 0.5, 1, 2]) {
    const input = Buffer.from(generate(shape, Math.round(mb * 1e6)));
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const r = validateConfig(input);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    const cpuSeconds = (c.user + c.system) / 1e6;
    const row = { shape, bytes: input.length, findings: r.findings.length, seconds, cpuSeconds, secondsPerMB: seconds / (input.length / 1e6) };
    rows.push(row);
    if (!json) console.log(`${shape.padEnd(11)} ${(input.length / 1e6).toFixed(2).padStart(6)} MB  ${String(row.findings).padStart(7)} findings  ${seconds.toFixed(3).padStart(8)} s  ${row.secondsPerMB.toFixed(3).padStart(7)} s/MB  (CPU ${cpuSeconds.toFixed(3)} s)`);
  }
}
if (json) console.log(JSON.stringify(rows, null, 2));
