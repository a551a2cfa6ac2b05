/**
 * A boot's times, read from the booted VM: wall-clock from QEMU start to SSH up, `systemd-analyze time`,
 * multi-user.target's ActiveEnterTimestampMonotonic (seconds since the kernel started), the critical chain and the
 * slowest units; and the median of several boots. bench/boot compares them for fcos and the Debian baseline.
 */
import { CheckError } from '../lib/errors.js';
import type { Vm } from './vm.js';

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

export async function measureBoot(vm: Vm, name: string, image: string, t0: number): Promise<BootMeasurement> {
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
