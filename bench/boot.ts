/**
 * bench/boot: seconds to multi-user.target for the latest fcos build next to the plain Debian baseline booted the
 * same way (same QEMU settings), in the same run, and the ratio (goal ≤ 1.3×).
 *
 * Per boot it records: wall-clock from QEMU start to SSH up, `systemd-analyze time`, and multi-user.target's
 * ActiveEnterTimestampMonotonic (seconds since the kernel started). The fcos image is booted on one overlay: the
 * first boot runs Ignition (reported, not compared); the later boots are the steady state the ratio uses.
 * With `--rounds N` the baseline and the fcos later boot alternate N times (baseline, fcos, baseline, fcos, …) and
 * the ratio is the one of the medians, so a host whose load changes during the run weighs on both sides alike.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { info } from '../lib/log.js';
import { withCleanup, installSignalHandlers } from '../lib/signals.js';
import { CheckError, toFcosError } from '../lib/errors.js';
import { buildsDir } from '../lib/paths.js';
import { ensureBaseline } from './baseline.js';
import { injectSshKey, latestBuildImage } from './harness.js';
import { runKey } from './run.js';
import { Vm, type VmSpec } from './vm.js';

/** The baseline's Debian release: the default manifest's suite, so both sides run the same kernel and systemd. */
export const BASELINE_SUITE = 'trixie';

export interface AnalyzeTimes {
  firmware?: number;
  loader?: number;
  kernel?: number;
  initrd?: number;
  userspace?: number;
  total?: number;
  /** "graphical.target reached after 25.861s in userspace" */
  target?: string;
  targetInUserspace?: number;
}

/** "1min 2.345s", "812ms", "3.2s", "1h 2min 3s" → seconds. */
export function parseSystemdTime(s: string): number {
  let total = 0;
  let matched = false;
  for (const m of s.trim().matchAll(/([\d.]+)\s*(h|min|ms|us|µs|s)\b/g)) {
    matched = true;
    const v = Number(m[1]);
    total += m[2] === 'h' ? v * 3600 : m[2] === 'min' ? v * 60 : m[2] === 'ms' ? v / 1000 : m[2] === 'us' || m[2] === 'µs' ? v / 1e6 : v;
  }
  if (!matched) throw new CheckError(`not a systemd time span: ${s}`);
  return Math.round(total * 1000) / 1000;
}

export function parseSystemdAnalyze(text: string): AnalyzeTimes {
  const out: AnalyzeTimes = {};
  const startup = text.match(/Startup finished in (.+?) = ([^\n]+)/);
  if (startup) {
    for (const part of startup[1]!.split(' + ')) {
      const m = part.match(/^(.+?) \((firmware|loader|kernel|initrd|userspace)\)$/);
      if (m) out[m[2] as 'kernel'] = parseSystemdTime(m[1]!);
    }
    out.total = parseSystemdTime(startup[2]!);
  }
  const t = text.match(/(\S+\.target) reached after (.+?) in userspace/);
  if (t) {
    out.target = t[1];
    out.targetInUserspace = parseSystemdTime(t[2]!);
  }
  return out;
}

export interface BootMeasurement {
  name: string;
  image: string;
  /** QEMU start → SSH answers. */
  wallSeconds: number;
  /** multi-user.target ActiveEnterTimestampMonotonic: seconds since the kernel started. */
  multiUserSeconds?: number;
  analyze: AnalyzeTimes;
  analyzeText: string;
  /** `systemd-analyze critical-chain multi-user.target` (what the time went to). */
  criticalChain?: string;
  /** The slowest units (`systemd-analyze blame` without device units, first lines). */
  blame?: string;
  /** The kernel command line the machine booted with. */
  cmdline?: string;
  /** fcos-node.target (containerd, preloaded images, kubelet up), seconds since the kernel started, when present. */
  nodeReadySeconds?: number;
}

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

async function measure(vm: Vm, name: string, image: string, t0: number): Promise<BootMeasurement> {
  await vm.waitForSsh(15 * 60_000);
  const wallSeconds = (Date.now() - t0) / 1000;
  await vm.ssh('timeout 300 systemctl is-system-running --wait', { timeoutMs: 320_000 });
  const a = await vm.ssh('systemd-analyze time');
  const mu = await vm.ssh('systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target');
  const us = Number(mu.stdout.trim());
  const chain = await vm.ssh('systemd-analyze critical-chain --no-pager multi-user.target');
  // Units only: device units' times are when udev announced them, not work that delayed the boot.
  const blame = await vm.ssh("systemd-analyze blame --no-pager | grep -v '\\.device$' | head -n 15");
  const cmdline = await vm.ssh('cat /proc/cmdline');
  const node = await vm.ssh('systemctl show -p ActiveEnterTimestampMonotonic --value fcos-node.target');
  const nodeUs = Number(node.stdout.trim());
  return {
    name,
    image,
    wallSeconds: Math.round(wallSeconds * 10) / 10,
    ...(us > 0 ? { multiUserSeconds: Math.round(us / 1e4) / 100 } : {}),
    analyze: parseSystemdAnalyze(a.stdout),
    analyzeText: a.stdout.trim(),
    criticalChain: chain.stdout.trim(),
    blame: blame.stdout.trim(),
    cmdline: cmdline.stdout.trim(),
    ...(nodeUs > 0 ? { nodeReadySeconds: Math.round(nodeUs / 1e4) / 100 } : {}),
  };
}

/** The run with the median multi-user.target time (the lower middle one for an even count). */
export function medianRun(runs: BootMeasurement[]): BootMeasurement {
  const timed = runs.filter((r) => r.multiUserSeconds !== undefined).sort((a, b) => a.multiUserSeconds! - b.multiUserSeconds!);
  const pool = timed.length ? timed : runs;
  return pool[Math.floor((pool.length - 1) / 2)]!;
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
      baselineRuns.push(await measure(bvm, 'Debian baseline', b.disk, t0));
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
      result.fcosFirstBoot = await measure(f1, 'fcos first boot', image, t0);
      await f1.poweroff(180_000);
      for (let round = 1; round <= rounds; round++) {
        if (round > 1) await bootBaseline(round);
        info(`==> boot the fcos image again (later boot${rounds > 1 ? `, round ${round}/${rounds}` : ''})`);
        const t1 = Date.now();
        const f2 = await Vm.start({ ...spec, reuseOverlay: true });
        fcosRuns.push(await measure(f2, 'fcos', image, t1));
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

// `node dist/qemu/bench.js [--json] [--builds DIR]` (bench/boot)
if (import.meta.url === `file://${process.argv[1]}`) {
  installSignalHandlers();
  const argv = process.argv.slice(2);
  const bi = argv.indexOf('--builds');
  const ri = argv.indexOf('--rounds');
  const rounds = ri >= 0 ? Number(argv[ri + 1]) : 1;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) {
    process.stderr.write('bench/boot: --rounds takes a whole number from 1 to 9\n');
    process.exit(2);
  }
  benchBoot({ buildsDir: buildsDir(bi >= 0 ? argv[bi + 1] : undefined), rounds }).then(
    (r) => {
      process.stdout.write((argv.includes('--json') ? JSON.stringify(r, null, 2) : renderBench(r)) + '\n');
      process.exit(0);
    },
    (e) => {
      process.stderr.write(`bench/boot: ${toFcosError(e).render()}\n`);
      process.exit(toFcosError(e).exitCode);
    },
  );
}
