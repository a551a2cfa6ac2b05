/**
 * KVM detection: really try it, fall back to TCG with a one-line notice, cache the answer per process.
 *
 * /dev/kvm may exist and even open, yet not work (or work so slowly that TCG is faster, as in some nested setups).
 * The probe opens /dev/kvm read-write, then boots QEMU's SeaBIOS with -accel kvm to its "no bootable device" reboot
 * (-no-reboot makes QEMU exit): a real vCPU run. It must finish within PROBE_BUDGET_MS; under working KVM it takes
 * well under a second.
 */
import { constants, openSync, closeSync } from 'node:fs';
import { run } from '../lib/run.js';
import { UserError } from '../lib/errors.js';
import { info } from '../lib/log.js';
import type { Accel } from './args.js';

export type AccelRequest = Accel | 'auto';

export interface ProbeResult {
  ok: boolean;
  reason?: string;
}

export type KvmProbe = () => Promise<ProbeResult>;

export const PROBE_BUDGET_MS = 4000;

export async function probeKvm(binary = 'qemu-system-x86_64'): Promise<ProbeResult> {
  try {
    const fd = openSync('/dev/kvm', constants.O_RDWR);
    closeSync(fd);
  } catch (e) {
    return { ok: false, reason: `/dev/kvm: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
  const t0 = Date.now();
  const r = await run(
    binary,
    ['-accel', 'kvm', '-machine', 'q35', '-cpu', 'host', '-m', '64', '-nodefaults', '-display', 'none', '-no-reboot', '-boot', 'strict=on,reboot-timeout=0'],
    { allowFailure: true, timeoutMs: PROBE_BUDGET_MS, purpose: 'probe KVM' },
  ).catch((e: Error) => ({ exitCode: -1, stderr: e.message, stdout: '' }));
  const ms = Date.now() - t0;
  if (r.exitCode !== 0) {
    const why = (r.stderr.split('\n').find((l) => /kvm|error/i.test(l)) ?? r.stderr.trim().split('\n')[0] ?? '').trim();
    return { ok: false, reason: why || `probe exited ${r.exitCode}` };
  }
  if (ms >= PROBE_BUDGET_MS) return { ok: false, reason: `a KVM test boot took ${ms} ms` };
  return { ok: true };
}

/**
 * Decide the accelerator. Pure apart from the injected probe: 'tcg' never probes; 'kvm' fails with a UserError if
 * the probe fails; 'auto' falls back to TCG and says so once (through `notice`).
 */
export async function decideAccel(request: AccelRequest, probe: KvmProbe, notice: (msg: string) => void = info): Promise<Accel> {
  if (request === 'tcg') return 'tcg';
  const p = await probe();
  if (p.ok) return 'kvm';
  if (request === 'kvm') throw new UserError(`KVM was requested but does not work here (${p.reason})`, 'use --accel tcg or auto');
  notice(`notice: KVM is not usable (${p.reason}); using TCG (software emulation, slower)`);
  return 'tcg';
}

let cached: Promise<Accel> | undefined;
let cachedFor: AccelRequest | undefined;

/** decideAccel with the real probe, once per process. FCOS_ACCEL=kvm|tcg|auto overrides the default 'auto'. */
export function detectAccel(request: AccelRequest = (process.env.FCOS_ACCEL as AccelRequest) || 'auto'): Promise<Accel> {
  if (!cached || cachedFor !== request) {
    cachedFor = request;
    cached = decideAccel(request, () => probeKvm());
  }
  return cached;
}

/** For tests. */
export function resetAccelCache(): void {
  cached = undefined;
  cachedFor = undefined;
}
