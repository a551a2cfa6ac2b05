/**
 * bench/boot (run by the bench/boot wrapper): seconds to multi-user.target for the latest fcos build next to the plain Debian baseline booted the
 * same way (same QEMU settings), in the same run, and the ratio (goal ≤ 1.3×).
 *
 * Per boot it records: wall-clock from QEMU start to SSH up, `systemd-analyze time`, and multi-user.target's
 * ActiveEnterTimestampMonotonic (seconds since the kernel started). The fcos image is booted on one overlay: the
 * first boot runs Ignition (reported, not compared); the later boots are the steady state the ratio uses.
 * With `--rounds N` the baseline and the fcos later boot alternate N times (baseline, fcos, baseline, fcos, …) and
 * the ratio is the one of the medians, so a host whose load changes during the run weighs on both sides alike.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { info } from '../lib/log.js';
import { withCleanup } from '../lib/signals.js';
import { toFcosError } from '../lib/errors.js';
import { buildsDir } from '../lib/paths.js';
import { ensureBaseline } from '../qemu/baseline.js';
import { injectSshKey, latestBuildImage } from '../qemu/harness.js';
import { measureBoot, medianRun, type BootMeasurement } from '../qemu/boot-time.js';
import { runKey } from '../qemu/run.js';
import { Vm, type VmSpec } from '../qemu/vm.js';
import { benchMain, UsageError } from './main.js';

/** The baseline's Debian release: the default manifest's suite, so both sides run the same kernel and systemd. */
export const BASELINE_SUITE = 'trixie';

export interface BootBench {
  accel: string;
  memoryMiB: number;
  cpus: number;
  /** The median baseline boot (by multi-user.target). */
  baseline: BootMeasurement;
  fcosFirstBoot?: BootMeasurement;
  /** The median fcos later boot. */
  fcos?: BootMeasurement;
  /** Every measured boot, in the order they ran (rounds > 1). */
  baselineRuns?: BootMeasurement[];
  fcosRuns?: BootMeasurement[];
  rounds?: number;
  /** fcos second boot / baseline, on multi-user.target. */
  ratio?: number;
  wallRatio?: number;
  goal: number;
  note?: string;
}

export async function benchBoot(opts: { buildsDir: string; outDir?: string; memoryMiB?: number; cpus?: number; rounds?: number }): Promise<BootBench> {
  const rounds = Math.max(1, opts.rounds ?? 1);
  const outDir = resolve(opts.outDir ?? join('tmp', 'bench-boot'));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const memoryMiB = opts.memoryMiB ?? 2048;
  const cpus = opts.cpus ?? 2;
  const common = { memoryMiB, cpus };
  return withCleanup(async (cleanup) => {
    // The same Debian release as the default manifest (trixie): the same kernel and systemd versions on both sides.
    const b = await ensureBaseline({ suite: BASELINE_SUITE });
    const baselineRuns: BootMeasurement[] = [];
    let accel = '';
    const bootBaseline = async (round: number) => {
      info(`==> boot the Debian baseline${rounds > 1 ? ` (round ${round}/${rounds})` : ''}`);
      const t0 = Date.now();
      const bvm = await Vm.start({
        ...common,
        cleanup,
        name: 'baseline',
        dir: join(outDir, `baseline${round > 1 ? `-${round}` : ''}`),
        disk: { path: b.disk, format: b.diskFormat },
        kernelBoot: { kernel: b.kernel, initrd: b.initrd, append: b.append },
        ssh: { key: b.sshKey },
      });
      accel = bvm.accel;
      baselineRuns.push(await measureBoot(bvm, 'Debian baseline', b.disk, t0));
      await bvm.kill();
    };
    await bootBaseline(1);
    const result: BootBench = { accel, memoryMiB, cpus, baseline: baselineRuns[0]!, goal: 1.3, rounds };
    if (rounds > 1) result.baselineRuns = baselineRuns;

    let image: string | undefined;
    try {
      image = latestBuildImage(opts.buildsDir).path;
    } catch (e) {
      result.note = `no fcos image measured: ${toFcosError(e).message}`;
      return result;
    }
    const { key, pub } = await runKey();
    const dir = join(outDir, 'fcos');
    mkdirSync(dir, { recursive: true });
    const ign = join(dir, 'config.ign');
    writeFileSync(ign, JSON.stringify(injectSshKey({ ignition: { version: '3.3.0' } }, pub), null, 2) + '\n');
    const spec: VmSpec = { ...common, cleanup, name: 'fcos', dir, disk: { path: image }, ignition: ign, ssh: { key } };
    const fcosRuns: BootMeasurement[] = [];
    try {
      info('==> boot the fcos image (first boot, Ignition)');
      const t0 = Date.now();
      const f1 = await Vm.start(spec);
      result.fcosFirstBoot = await measureBoot(f1, 'fcos first boot', image, t0);
      await f1.poweroff(180_000);
      for (let round = 1; round <= rounds; round++) {
        if (round > 1) await bootBaseline(round);
        info(`==> boot the fcos image again (later boot${rounds > 1 ? `, round ${round}/${rounds}` : ''})`);
        const t1 = Date.now();
        const f2 = await Vm.start({ ...spec, reuseOverlay: true });
        fcosRuns.push(await measureBoot(f2, 'fcos', image, t1));
        // A clean shutdown, so the next boot on this overlay is an ordinary one (no journal/fs recovery).
        await f2.poweroff(180_000);
      }
    } catch (e) {
      // The baseline was measured: report it, and why fcos was not.
      result.note = `the fcos image (${image}) did not boot to SSH: ${toFcosError(e).message} (console: ${join(dir, 'console.txt')})`;
      return result;
    }
    result.fcos = medianRun(fcosRuns);
    const baseline = (result.baseline = medianRun(baselineRuns));
    if (rounds > 1) {
      result.baselineRuns = baselineRuns;
      result.fcosRuns = fcosRuns;
    }
    if (result.fcos.multiUserSeconds && baseline.multiUserSeconds) result.ratio = Math.round((result.fcos.multiUserSeconds / baseline.multiUserSeconds) * 100) / 100;
    result.wallRatio = Math.round((result.fcos.wallSeconds / baseline.wallSeconds) * 100) / 100;
    return result;
  });
}

export function renderBench(r: BootBench): string {
  const f = (n?: number) => (n === undefined ? '-' : n.toFixed(1)).padStart(9);
  const rows = [r.baseline, r.fcosFirstBoot, r.fcos].filter((x): x is BootMeasurement => !!x);
  const many = (r.rounds ?? 1) > 1;
  const lines = [
    `boot times (${r.accel}, ${r.cpus} vCPU, ${r.memoryMiB} MiB, same QEMU settings), seconds${many ? `; baseline and fcos later boots alternated ${r.rounds} times, medians shown` : ''}`,
    `${'image'.padEnd(20)}${'multi-user'.padStart(11)}${'kernel'.padStart(9)}${'initrd'.padStart(9)}${'userspace'.padStart(10)}${'ssh(wall)'.padStart(10)}`,
    ...rows.map((m) => `${m.name.padEnd(20)}${f(m.multiUserSeconds).padStart(11)}${f(m.analyze.kernel)}${f(m.analyze.initrd)}${f(m.analyze.userspace).padStart(10)}${f(m.wallSeconds).padStart(10)}`),
  ];
  const runs = (xs?: BootMeasurement[]) => (xs ?? []).map((m) => m.multiUserSeconds?.toFixed(1) ?? '-').join(' ');
  if (many && r.baselineRuns) lines.push(`multi-user.target of each run: baseline ${runs(r.baselineRuns)}; fcos ${runs(r.fcosRuns)}`);
  for (const m of rows) if (m.nodeReadySeconds !== undefined) lines.push(`${m.name}: fcos-node.target (containerd, images, kubelet; not part of multi-user.target) at ${m.nodeReadySeconds.toFixed(1)}`);
  if (r.ratio !== undefined) lines.push(`ratio fcos/baseline (multi-user.target): ${r.ratio.toFixed(2)}x  (goal <= ${r.goal}x: ${r.ratio <= r.goal ? 'met' : 'NOT met'}); wall-clock to SSH: ${r.wallRatio?.toFixed(2)}x`);
  if (r.note) lines.push(r.note);
  for (const m of rows) {
    lines.push('', `--- ${m.name}: ${m.analyzeText.split('\n').join(' / ')}`);
    if (m.cmdline) lines.push(`cmdline: ${m.cmdline}`);
    if (m.criticalChain) lines.push('critical chain:', ...m.criticalChain.split('\n').filter((l) => l.trim() && !/^The time/.test(l)).map((l) => `  ${l}`));
    if (m.blame) lines.push('slowest units (blame):', ...m.blame.split('\n').map((l) => `  ${l.trim()}`));
  }
  return lines.join('\n');
}

// bench/boot [--json] [--builds DIR] [--rounds N]
benchMain('bench/boot', import.meta.url, async () => {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, builds: { type: 'string' }, rounds: { type: 'string', default: '1' } } });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new UsageError('--rounds takes a whole number from 1 to 9');
  const r = await benchBoot({ buildsDir: buildsDir(values.builds), rounds });
  return values.json ? JSON.stringify(r, null, 2) : renderBench(r);
});
