/**
 * Cold reboots for a detached VM: a small supervisor process runs QEMU with -no-reboot and, when the guest rebooted
 * (its console since that launch ends on the kernel's "reboot: Restarting system", or a panic's "Rebooting in N
 * seconds"), starts the same QEMU command again: a new process on the same disk overlay, ports and console. A
 * power-off, QMP quit or a signal ends QEMU and the supervisor with it.
 *
 * Why: under TCG a warm reset of the same QEMU gets slower with every reboot (measured on one 1-vCPU VM, reboot to a
 * settled system: warm 58.7 s then 86.1 s, a new QEMU 53.2 s and 56.6 s; the cluster nodes' etcd answered 59–74 s
 * into a warm reboot against 42 s into a cold restart): QEMU's translated code of the last boot is still cached and
 * every page the new kernel writes over it invalidates blocks. `fcos cluster up` starts its nodes this way
 * (docs/cluster.md); the test harness restarts its VMs itself (noReboot + Vm.powerOn).
 *
 * The supervisor is the process `fcos cluster` records (state.json's pid): its command line holds QEMU's, SIGTERM /
 * SIGINT / SIGHUP reach QEMU through the runner's abort (the power cut the tests use), and QEMU shares its process
 * group, so a SIGKILL of the group stops both.
 *
 * Run as: node cold-reboot.js --console <console.txt> -- qemu-system-x86_64 <args…>
 */
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { BugError } from '../lib/errors.js';
import { spawnProcess } from '../lib/run.js';
import { installSignalHandlers, interrupted, signalExitCode } from '../lib/signals.js';

/** The kernel's last words before a reset (a reboot, or a panic with panic=N) and before a power-off. */
const RESET_LINE = /reboot: Restarting system|Rebooting in \d+ seconds/;
const STOP_LINE = /reboot: Power down|reboot: System halted/;

/** The supervisor's script (next to this module, in dist/ as in the sources). */
export const COLD_REBOOT_SCRIPT = fileURLToPath(new URL('./cold-reboot.js', import.meta.url));

/** The command line that runs `file args` under the supervisor (pure). */
export function coldRebootCommand(consolePath: string, file: string, args: readonly string[], node = process.execPath, script = COLD_REBOOT_SCRIPT): { file: string; args: string[] } {
  return { file: node, args: [script, '--console', consolePath, '--', file, ...args] };
}

/** Did the guest ask for a reset in this console text (one launch's)? The last reset or power-off line decides. */
export function guestAskedReset(console: string): boolean {
  let last: 'reset' | 'stop' | undefined;
  for (const line of console.split('\n')) {
    if (RESET_LINE.test(line)) last = 'reset';
    else if (STOP_LINE.test(line)) last = 'stop';
  }
  return last === 'reset';
}

export interface SuperviseOptions {
  consolePath: string;
  file: string;
  args: readonly string[];
  /** At most this many cold restarts (a guest in a reboot loop stops eventually). */
  maxRestarts?: number;
  /** A relaunch that fails within 3 s (a forwarded port not free yet) is tried again this many times. */
  startRetries?: number;
  retryDelayMs?: number;
}

function sizeOf(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

/** What was appended to the console from byte `offset` on (this launch's part). */
function readFrom(p: string, offset: number): string {
  try {
    return readFileSync(p).subarray(offset).toString('latin1');
  } catch {
    return '';
  }
}

/**
 * Run QEMU until it stops for another reason than a guest reset; returns the exit status to end with (QEMU's, or
 * 128+signo when a signal ended it). QEMU's stdout is the supervisor's; its stderr tail is written to the
 * supervisor's stderr when it fails.
 */
export async function superviseColdReboots(o: SuperviseOptions): Promise<number> {
  const maxRestarts = o.maxRestarts ?? 100;
  const startRetries = o.startRetries ?? 5;
  let restarts = 0;
  let quickFailures = 0;
  for (;;) {
    const from = sizeOf(o.consolePath);
    const t0 = Date.now();
    const proc = await spawnProcess(o.file, o.args, { purpose: 'QEMU', inheritStdio: true, killOnAbort: true });
    const e = await proc.exited;
    const status = e.signal ? signalExitCode(e.signal) : (e.exitCode ?? 1);
    if (status !== 0 && proc.outputTail().trim()) process.stderr.write(proc.outputTail().trimEnd() + '\n');
    if (interrupted()) return status;
    if (status !== 0) {
      // A relaunch that failed at once (e.g. a forwarded port still held by the last QEMU): try again a few times.
      if (restarts > 0 && Date.now() - t0 < 3000 && quickFailures < startRetries) {
        quickFailures++;
        await sleep(o.retryDelayMs ?? 1000);
        continue;
      }
      return status;
    }
    quickFailures = 0;
    if (!guestAskedReset(readFrom(o.consolePath, from))) return 0;
    if (restarts >= maxRestarts) {
      appendFileSync(o.consolePath, `\n--- fcos: the guest rebooted ${restarts + 1} times; not starting QEMU again ---\n`);
      return 0;
    }
    restarts++;
    appendFileSync(o.consolePath, `\n--- fcos: cold reboot ${restarts}: the guest rebooted; a new QEMU on the same disk ---\n`);
  }
}

/** The command line: --console <path> -- <qemu> <args…> */
export function parseSupervisorArgs(argv: readonly string[]): { consolePath: string; file: string; args: string[] } {
  const sep = argv.indexOf('--');
  const head = sep < 0 ? argv : argv.slice(0, sep);
  const ci = head.indexOf('--console');
  const consolePath = ci >= 0 ? head[ci + 1] : undefined;
  const [file, ...args] = sep < 0 ? [] : argv.slice(sep + 1);
  if (!consolePath || !file) throw new BugError('usage: cold-reboot.js --console <console.txt> -- <qemu> <args…> (fcos starts it so)');
  return { consolePath, file, args };
}

async function main(): Promise<void> {
  const a = parseSupervisorArgs(process.argv.slice(2));
  installSignalHandlers();
  process.exitCode = await superviseColdReboots(a);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`cold-reboot supervisor: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
