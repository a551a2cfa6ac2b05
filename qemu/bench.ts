/**
 * bench/boot: seconds to multi-user.target for the latest fcos build next to the plain Debian baseline booted the
 * same way (same QEMU settings), in the same run, and the ratio (goal ≤ 1.3×).
 *
 * Per boot it records: wall-clock from QEMU start to SSH up, `systemd-analyze time`, and multi-user.target's
 * ActiveEnterTimestampMonotonic (seconds since the kernel started). The fcos image is booted twice on one overlay:
 * the first boot runs Ignition (reported, not compared); the second boot is the steady state the ratio uses.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { info } from '../lib/log.js';
import { withCleanup, installSignalHandlers } from '../lib/signals.js';
import { toFcosError } from '../lib/errors.js';
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
  if (!matched) throw new Error(`not a systemd time span: ${s}`);
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
}

export interface BootBench {
  accel: string;
  memoryMiB: number;
  cpus: number;
  baseline: BootMeasurement;
  fcosFirstBoot?: BootMeasurement;
  fcos?: BootMeasurement;
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
  };
}

export async function benchBoot(opts: { buildsDir: string; outDir?: string; memoryMiB?: number; cpus?: number }): Promise<BootBench> {
  const outDir = resolve(opts.outDir ?? join('tmp', 'bench-boot'));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const memoryMiB = opts.memoryMiB ?? 2048;
  const cpus = opts.cpus ?? 2;
  const common = { memoryMiB, cpus };
  return withCleanup(async (cleanup) => {
    // The same Debian release as the default manifest (trixie): the same kernel and systemd versions on both sides.
    const b = await ensureBaseline({ suite: BASELINE_SUITE });
    info('==> boot the Debian baseline');
    let t0 = Date.now();
    const bvm = await Vm.start({
      ...common,
      cleanup,
      name: 'baseline',
      dir: join(outDir, 'baseline'),
      disk: { path: b.disk, format: b.diskFormat },
      kernelBoot: { kernel: b.kernel, initrd: b.initrd, append: b.append },
      ssh: { key: b.sshKey },
    });
    const baseline = await measure(bvm, 'Debian baseline', b.disk, t0);
    await bvm.kill();
    const result: BootBench = { accel: bvm.accel, memoryMiB, cpus, baseline, goal: 1.3 };

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
    try {
      info('==> boot the fcos image (first boot, Ignition)');
      t0 = Date.now();
      const f1 = await Vm.start(spec);
      result.fcosFirstBoot = await measure(f1, 'fcos first boot', image, t0);
      await f1.poweroff(180_000);
      info('==> boot the fcos image again (second boot)');
      t0 = Date.now();
      const f2 = await Vm.start({ ...spec, reuseOverlay: true });
      result.fcos = await measure(f2, 'fcos', image, t0);
      await f2.kill();
    } catch (e) {
      // The baseline was measured: report it, and why fcos was not.
      result.note = `the fcos image (${image}) did not boot to SSH: ${toFcosError(e).message} (console: ${join(dir, 'console.txt')})`;
      return result;
    }
    if (result.fcos.multiUserSeconds && baseline.multiUserSeconds) result.ratio = Math.round((result.fcos.multiUserSeconds / baseline.multiUserSeconds) * 100) / 100;
    result.wallRatio = Math.round((result.fcos.wallSeconds / baseline.wallSeconds) * 100) / 100;
    return result;
  });
}

export function renderBench(r: BootBench): string {
  const f = (n?: number) => (n === undefined ? '-' : n.toFixed(1)).padStart(9);
  const rows = [r.baseline, r.fcosFirstBoot, r.fcos].filter((x): x is BootMeasurement => !!x);
  const lines = [
    `boot times (${r.accel}, ${r.cpus} vCPU, ${r.memoryMiB} MiB, same QEMU settings), seconds`,
    `${'image'.padEnd(20)}${'multi-user'.padStart(11)}${'kernel'.padStart(9)}${'initrd'.padStart(9)}${'userspace'.padStart(10)}${'ssh(wall)'.padStart(10)}`,
    ...rows.map((m) => `${m.name.padEnd(20)}${f(m.multiUserSeconds).padStart(11)}${f(m.analyze.kernel)}${f(m.analyze.initrd)}${f(m.analyze.userspace).padStart(10)}${f(m.wallSeconds).padStart(10)}`),
  ];
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
  benchBoot({ buildsDir: buildsDir(bi >= 0 ? argv[bi + 1] : undefined) }).then(
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
