/**
 * What a VM is before it runs (qemu/vm.ts runs it): its spec, the files a launch prepares in its directory (the
 * disk overlay or empty disk, the OVMF vars, the QMP socket path), the QEMU configuration made from them, and the
 * pure rules the runner applies (a guest command that must fail, an early TCG crash, the launch log).
 */
import { appendFileSync, copyFileSync, existsSync, closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { CheckError, ExternalError, UserError } from '../lib/errors.js';
import { run, tail } from '../lib/run.js';
import type { Cleanup } from '../lib/signals.js';
import { OVMF_CODE, OVMF_VARS, type Accel, type Firmware, type KernelBoot, type NicSpec, type PortForward, type QemuConfig } from './args.js';
import type { ConsoleFailure } from './console.js';
import type { AccelRequest } from './kvm.js';
import type { SshResult } from './ssh.js';

export interface VmSpec {
  /** Short name (QEMU -name, messages). */
  name: string;
  /** Where console.txt, the overlay, OVMF vars and the QMP socket go. */
  dir: string;
  /** The boot disk image. Booted through a qcow2 overlay (the image stays pristine) unless persist. */
  disk?: { path: string; format?: 'qcow2' | 'raw' };
  /** Write to the image itself (no overlay). */
  persist?: boolean;
  /** Keep an existing overlay (and OVMF vars) in dir: a second boot of the same machine. */
  reuseOverlay?: boolean;
  kernelBoot?: KernelBoot;
  ignition?: string;
  firmware?: Firmware;
  machine?: 'q35' | 'pc';
  memoryMiB?: number;
  cpus?: number;
  accel?: AccelRequest;
  ssh: { key: string; user?: string; port?: number };
  forwards?: PortForward[];
  restrict?: boolean;
  guestfwd?: string[];
  netboot?: { tftp?: string; bootfile?: string };
  /** MAC address of the first NIC (PXE: per-machine configs are picked by MAC). */
  mac?: string;
  /** Create this empty qcow2 disk (GiB) in dir when there is no image: a machine to install to. */
  emptyDiskGiB?: number;
  extraNics?: NicSpec[];
  /** The serial console on the terminal too (interactive). */
  console?: boolean;
  /** QEMU outlives fcos. */
  detach?: boolean;
  /** Console lines matching these are not failures. */
  ignoreConsole?: RegExp[];
  noReboot?: boolean;
  /**
   * A guest reboot starts a new QEMU on the same disk (qemu/cold-reboot.ts: QEMU runs with -no-reboot under a small
   * supervisor process, which is then the VM's pid). For detached VMs that reboot by themselves (fcos cluster).
   */
  coldReboots?: boolean;
  extraArgs?: string[];
  /** Registered: kill the VM on failure or Ctrl-C. */
  cleanup?: Cleanup;
  /** On Ctrl-C, power the guest off through QMP instead of killing QEMU (fcos run). */
  gracefulOnAbort?: boolean;
}

export interface VmInfo {
  name: string;
  pid: number;
  accel: Accel;
  sshPort: number;
  sshCommand: string;
  qmpSocket: string;
  console: string;
  dir: string;
  overlay?: string;
  command: string;
}

/** A boot that went wrong: what the console showed (or why QEMU stopped), with the console's tail. */
export class VmError extends ExternalError {
  constructor(
    message: string,
    command: string,
    consoleTail: string,
    readonly consoleFailure?: ConsoleFailure,
    hint?: string,
  ) {
    super(message, command, undefined, consoleTail, hint);
  }
}

/**
 * Tests count boots as QEMU launches: with $FCOS_BOOT_LOG set, every QEMU start appends one JSON line
 * ({t, vm, pid}) to that file, whichever process (vitest, `fcos test`, `fcos cluster up`) started it.
 */
export function recordLaunch(vm: string, pid: number, file = process.env.FCOS_BOOT_LOG): void {
  appendBootLog({ vm, pid }, file);
}

function appendBootLog(entry: Record<string, unknown>, file: string | undefined): void {
  if (!file) return;
  try {
    appendFileSync(file, JSON.stringify({ t: Date.now(), ...entry }) + '\n');
  } catch {
    /* a missing tmp dir must not stop a VM */
  }
}

/**
 * An in-guest reboot seen by a test (the VM rebooted itself; QEMU went on): one JSON line {t, vm, kind: "reboot"} in
 * $FCOS_BOOT_LOG, counted apart from launches in tmp/test-report.json. `test` (the test's full name) ties it to that
 * test: a test that records its reboots as its last step can end a millisecond after the next one's start time.
 */
export function recordReboot(vm: string, o: { test?: string; file?: string } = {}): void {
  appendBootLog({ vm, kind: 'reboot', ...(o.test ? { test: o.test } : {}) }, o.file ?? process.env.FCOS_BOOT_LOG);
}

/** The rule behind Vm.sshFails, pure: exit 0 is "it succeeded", 255 is ssh's own failure, `want` pins the status. */
export function expectGuestFailure(vm: string, command: string, r: SshResult, want?: number): SshResult {
  if (r.exitCode === 255) throw new ExternalError(`ssh to VM ${vm} failed (exit 255): the command did not run`, command, 255, tail(r.stderr));
  if (r.exitCode === 0) throw new CheckError(`${command}: succeeded in VM ${vm}, but it must fail${r.stdout.trim() ? `:\n${tail(r.stdout)}` : ''}`);
  if (want !== undefined && r.exitCode !== want) throw new CheckError(`${command}: exit ${r.exitCode} in VM ${vm}, want ${want}:\n${tail(r.stderr || r.stdout)}`);
  return r;
}

/**
 * A kernel oops from an int3 trap before the kernel ran /init: under multi-threaded TCG with -smp 2 the trixie kernel's
 * int3-based code patching occasionally races a stale translated block ("Oops: int3" in a timer path, then "Fatal
 * exception in interrupt"; seen in ~1 of 100 boots here). Only GRUB has run, so the disk is as it was: such a launch is
 * started again once. Any other failure, and this one after /init or a second time, fails the boot as before.
 */
export function isEarlyTcgCrash(f: ConsoleFailure, initSeen: boolean): boolean {
  return !initSeen && f.name === 'kernel oops' && /\bOops: int3\b/.test(f.line);
}

export function qmpPath(dir: string, name: string): string {
  const p = join(dir, 'qmp.sock');
  // sun_path is 108 bytes.
  return p.length < 100 ? p : join(tmpdir(), `fcos-qmp-${process.pid}-${name.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 20)}-${Date.now() % 100000}.sock`);
}

/** The boot disk a launch uses: the image itself (persist), a qcow2 overlay over it, or a new empty disk. */
export interface LaunchDisk {
  path?: string;
  format?: 'qcow2' | 'raw';
  /** The overlay in the VM's dir, when the image is booted through one. */
  overlay?: string;
}

/** Make (or, with reuseOverlay, keep) the launch's disk in the VM's dir. */
export async function prepareDisk(s: VmSpec): Promise<LaunchDisk> {
  if (s.disk) {
    const image = resolve(s.disk.path);
    if (!existsSync(image)) throw new UserError(`disk image not found: ${image}`);
    const fmt = s.disk.format ?? (image.endsWith('.qcow2') ? 'qcow2' : 'raw');
    if (s.persist) return { path: image, format: fmt };
    const overlay = join(s.dir, 'overlay.qcow2');
    if (!(s.reuseOverlay && existsSync(overlay))) {
      rmSync(overlay, { force: true });
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', fmt, '-b', image, overlay], { purpose: 'create the VM disk overlay' });
    }
    return { path: overlay, format: 'qcow2', overlay };
  }
  if (!s.emptyDiskGiB) return {};
  const path = join(s.dir, 'disk.qcow2');
  if (!(s.reuseOverlay && existsSync(path))) {
    rmSync(path, { force: true });
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', path, `${s.emptyDiskGiB}G`], { purpose: 'create the empty VM disk' });
  }
  return { path, format: 'qcow2' };
}

/** UEFI: the firmware and the VM's own copy of its vars (kept with reuseOverlay). */
export function prepareOvmf(s: VmSpec): QemuConfig['ovmf'] {
  if (s.firmware !== 'uefi') return undefined;
  if (!existsSync(OVMF_CODE)) throw new UserError(`UEFI firmware not found: ${OVMF_CODE}`, 'install it with: apt-get install ovmf');
  const vars = join(s.dir, 'OVMF_VARS.fd');
  if (!(s.reuseOverlay && existsSync(vars))) copyFileSync(OVMF_VARS, vars);
  return { code: OVMF_CODE, vars };
}

/** The QEMU configuration of one launch (pure): the spec with what the launch prepared and picked. */
export function launchConfig(
  s: VmSpec,
  l: { accel: Accel; ovmf: QemuConfig['ovmf']; disk: LaunchDisk; sshPort: number; consolePath: string; qmpSocket: string },
): QemuConfig {
  return {
    name: `fcos-${s.name}`,
    accel: l.accel,
    machine: s.machine,
    memoryMiB: s.memoryMiB,
    cpus: s.cpus,
    firmware: s.firmware,
    ovmf: l.ovmf,
    disks: l.disk.path ? [{ path: l.disk.path, format: l.disk.format }] : [],
    kernelBoot: s.kernelBoot,
    ignition: s.ignition ? resolve(s.ignition) : undefined,
    nics: [
      {
        kind: 'user',
        forwards: [{ hostPort: l.sshPort, guestPort: 22 }, ...(s.forwards ?? [])],
        restrict: s.restrict,
        guestfwd: s.guestfwd,
        tftp: s.netboot?.tftp,
        bootfile: s.netboot?.bootfile,
        ...(s.mac ? { mac: s.mac } : {}),
      },
      ...(s.extraNics ?? []),
    ],
    netboot: !!s.netboot,
    serial: { logFile: l.consolePath, stdio: s.console },
    qmpSocket: l.qmpSocket,
    noReboot: s.noReboot || s.coldReboots,
    extraArgs: s.extraArgs,
  };
}

export function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Touch a file (for markers). */
export function touch(p: string): void {
  closeSync(openSync(p, 'a'));
}
