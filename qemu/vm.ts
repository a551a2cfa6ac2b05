/**
 * The VM runner: start QEMU in the background from buildQemuArgs(), stream the serial console into
 * `<dir>/console.txt` and scan it for failures as it grows, wait for SSH (or a console marker), run commands over
 * SSH, reboot (a new boot_id proves it), shut down (QMP system_powerdown) or kill. Everything has a time-out, and a
 * console failure or an unexpected QEMU exit makes every wait fail at once.
 */
import { appendFileSync, copyFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { CheckError, ExternalError, InterruptedError, UserError, toFcosError } from '../lib/errors.js';
import { abortSignal, interrupted } from '../lib/signals.js';
import { run, spawnProcess, tail, type ProcessHandle } from '../lib/run.js';
import { debug, info } from '../lib/log.js';
import type { Cleanup } from '../lib/signals.js';
import { buildQemuArgs, OVMF_CODE, OVMF_VARS, type Accel, type Firmware, type KernelBoot, type NicSpec, type PortForward, type QemuConfig } from './args.js';
import { ConsoleScanner, describeFailure, type ConsoleFailure } from './console.js';
import { detectAccel, type AccelRequest } from './kvm.js';
import { freePort, portIsFree } from './net.js';
import { qmpExecute } from './qmp.js';
import { sshCommandLine, sshExec, type SshResult, type SshTarget } from './ssh.js';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Tests count boots as QEMU launches: with $FCOS_BOOT_LOG set, every QEMU start appends one JSON line
 * ({t, vm, pid}) to that file, whichever process (vitest, `fcos test`, `fcos cluster up`) started it.
 */
export function recordLaunch(vm: string, pid: number, file = process.env.FCOS_BOOT_LOG): void {
  if (!file) return;
  try {
    appendFileSync(file, JSON.stringify({ t: Date.now(), vm, pid }) + '\n');
  } catch {
    /* a missing tmp dir must not stop a VM */
  }
}

/** The rule behind Vm.sshFails, pure: exit 0 is "it succeeded", 255 is ssh's own failure, `want` pins the status. */
export function expectGuestFailure(vm: string, command: string, r: SshResult, want?: number): SshResult {
  if (r.exitCode === 255) throw new ExternalError(`ssh to VM ${vm} failed (exit 255): the command did not run`, command, 255, tail(r.stderr));
  if (r.exitCode === 0) throw new CheckError(`${command}: succeeded in VM ${vm}, but it must fail${r.stdout.trim() ? `:\n${tail(r.stdout)}` : ''}`);
  if (want !== undefined && r.exitCode !== want) throw new CheckError(`${command}: exit ${r.exitCode} in VM ${vm}, want ${want}:\n${tail(r.stderr || r.stdout)}`);
  return r;
}

const RUN_INIT = /Run \/\S* as init process/;

/**
 * A kernel oops from an int3 trap before the kernel ran /init: under multi-threaded TCG with -smp 2 the trixie kernel's
 * int3-based code patching occasionally races a stale translated block ("Oops: int3" in a timer path, then "Fatal
 * exception in interrupt"; seen in ~1 of 100 boots here). Only GRUB has run, so the disk is as it was: such a launch is
 * started again once. Any other failure, and this one after /init or a second time, fails the boot as before.
 */
export function isEarlyTcgCrash(f: ConsoleFailure, initSeen: boolean): boolean {
  return !initSeen && f.name === 'kernel oops' && /\bOops: int3\b/.test(f.line);
}

function qmpPath(dir: string, name: string): string {
  const p = join(dir, 'qmp.sock');
  // sun_path is 108 bytes.
  return p.length < 100 ? p : join(tmpdir(), `fcos-qmp-${process.pid}-${name.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 20)}-${Date.now() % 100000}.sock`);
}

export class Vm {
  readonly consolePath: string;
  readonly scanner: ConsoleScanner;
  private proc!: ProcessHandle;
  private offset = 0;
  private tailTimer?: NodeJS.Timeout;
  private tailing = false;
  private consoleFh?: FileHandle;
  private failure?: Error;
  private failListeners: ((e: Error) => void)[] = [];
  private stopping = false;
  accel!: Accel;
  sshPort!: number;
  qmpSocket!: string;
  overlay?: string;
  command = '';
  /** QEMU processes started for this VM (a cold reboot or a power-on after a cut starts another). */
  launches = 0;
  /** Launches started again after an early kernel crash (isEarlyTcgCrash): what was seen, for the report. */
  readonly earlyCrashes: string[] = [];
  /** This launch's kernel ran /init (its console said so). */
  private initSeen = false;
  /** This launch was started again once already / is being started again now. */
  private retriedLaunch = false;
  private restarting = false;

  private constructor(readonly spec: VmSpec) {
    this.consolePath = join(spec.dir, 'console.txt');
    this.scanner = new ConsoleScanner({ ignore: spec.ignoreConsole });
  }

  get target(): SshTarget {
    return { key: this.spec.ssh.key, user: this.spec.ssh.user ?? 'core', port: this.sshPort };
  }

  get pid(): number {
    return this.proc.pid;
  }

  info(): VmInfo {
    return {
      name: this.spec.name,
      pid: this.proc.pid,
      accel: this.accel,
      sshPort: this.sshPort,
      sshCommand: sshCommandLine(this.target),
      qmpSocket: this.qmpSocket,
      console: this.consolePath,
      dir: this.spec.dir,
      overlay: this.overlay,
      command: this.command,
    };
  }

  /** Create the overlay/vars, pick ports, start QEMU. Resolves once QEMU runs (not booted yet). */
  static async start(spec: VmSpec): Promise<Vm> {
    const vm = new Vm({ ...spec, dir: resolve(spec.dir) });
    await vm.launch();
    return vm;
  }

  private async launch(): Promise<void> {
    const s = this.spec;
    this.initSeen = false;
    this.retriedLaunch = false;
    mkdirSync(s.dir, { recursive: true });
    this.accel = await detectAccel(s.accel);
    let diskPath: string | undefined;
    let diskFormat: 'qcow2' | 'raw' | undefined;
    if (s.disk) {
      const image = resolve(s.disk.path);
      if (!existsSync(image)) throw new UserError(`disk image not found: ${image}`);
      const fmt = s.disk.format ?? (image.endsWith('.qcow2') ? 'qcow2' : 'raw');
      if (s.persist) {
        diskPath = image;
        diskFormat = fmt;
      } else {
        this.overlay = join(s.dir, 'overlay.qcow2');
        if (!(s.reuseOverlay && existsSync(this.overlay))) {
          rmSync(this.overlay, { force: true });
          await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', fmt, '-b', image, this.overlay], { purpose: 'create the VM disk overlay' });
        }
        diskPath = this.overlay;
        diskFormat = 'qcow2';
      }
    }
    if (!s.disk && s.emptyDiskGiB) {
      diskPath = join(s.dir, 'disk.qcow2');
      diskFormat = 'qcow2';
      if (!(s.reuseOverlay && existsSync(diskPath))) {
        rmSync(diskPath, { force: true });
        await run('qemu-img', ['create', '-q', '-f', 'qcow2', diskPath, `${s.emptyDiskGiB}G`], { purpose: 'create the empty VM disk' });
      }
    }
    let ovmf: QemuConfig['ovmf'];
    if (s.firmware === 'uefi') {
      if (!existsSync(OVMF_CODE)) throw new UserError(`UEFI firmware not found: ${OVMF_CODE}`, 'install it with: apt-get install ovmf');
      const vars = join(s.dir, 'OVMF_VARS.fd');
      if (!(s.reuseOverlay && existsSync(vars))) copyFileSync(OVMF_VARS, vars);
      ovmf = { code: OVMF_CODE, vars };
    }
    if (!s.reuseOverlay || !existsSync(this.consolePath)) writeFileSync(this.consolePath, '');
    else {
      this.offset = readFileSync(this.consolePath).length;
    }
    this.qmpSocket = qmpPath(s.dir, s.name);
    const userPort = s.ssh.port;
    if (userPort && !(await portIsFree(userPort))) throw new UserError(`port ${userPort} on 127.0.0.1 is in use`, 'pick another --ssh-port or leave it out');

    for (let attempt = 1; ; attempt++) {
      this.sshPort = userPort || (await freePort());
      rmSync(this.qmpSocket, { force: true });
      const config: QemuConfig = {
        name: `fcos-${s.name}`,
        accel: this.accel,
        machine: s.machine,
        memoryMiB: s.memoryMiB,
        cpus: s.cpus,
        firmware: s.firmware,
        ovmf,
        disks: diskPath ? [{ path: diskPath, format: diskFormat }] : [],
        kernelBoot: s.kernelBoot,
        ignition: s.ignition ? resolve(s.ignition) : undefined,
        nics: [
          {
            kind: 'user',
            forwards: [{ hostPort: this.sshPort, guestPort: 22 }, ...(s.forwards ?? [])],
            restrict: s.restrict,
            guestfwd: s.guestfwd,
            tftp: s.netboot?.tftp,
            bootfile: s.netboot?.bootfile,
            ...(s.mac ? { mac: s.mac } : {}),
          },
          ...(s.extraNics ?? []),
        ],
        netboot: !!s.netboot,
        serial: { logFile: this.consolePath, stdio: s.console },
        qmpSocket: this.qmpSocket,
        noReboot: s.noReboot,
        extraArgs: s.extraArgs,
      };
      const args = buildQemuArgs(config);
      this.proc = await spawnProcess('qemu-system-x86_64', args, {
        purpose: `QEMU (${s.name})`,
        inheritStdio: s.console,
        detached: s.detach ? { logFile: join(s.dir, 'qemu.log') } : undefined,
        killOnAbort: !s.detach && !s.gracefulOnAbort,
        ownProcessGroup: !!s.gracefulOnAbort && !s.console,
      });
      this.command = this.proc.command;
      writeFileSync(join(s.dir, 'qemu-command.txt'), this.command + '\n');
      // A port taken between picking and binding makes QEMU exit at once: pick another.
      const early = await Promise.race([this.proc.exited, sleep(700).then(() => undefined)]);
      if (early) {
        const out = this.proc.outputTail() + (s.detach ? safeRead(join(s.dir, 'qemu.log')) : '');
        if (!userPort && attempt < 4 && /host forwarding rule|Address already in use/i.test(out)) continue;
        throw new ExternalError(`QEMU (${s.name}) failed to start`, this.command, early.exitCode ?? undefined, tail(out));
      }
      break;
    }
    this.launches++;
    recordLaunch(s.name, this.proc.pid);
    s.cleanup?.push(`stop VM ${s.name}`, () => this.kill());
    this.proc.exited.then((e) => {
      if (!this.stopping) {
        const how = e.signal ? `was killed by ${e.signal}` : `exited with status ${e.exitCode}`;
        this.fail(new VmError(`QEMU (${s.name}) ${how} unexpectedly${this.proc.outputTail(3).trim() ? `: ${this.proc.outputTail(3).trim()}` : ''}`, this.command, this.consoleTail()));
      }
    });
    this.tailTimer = setInterval(() => void this.pump(), 250);
    debug(`VM ${s.name}: pid ${this.proc.pid}, ssh port ${this.sshPort}, accel ${this.accel}`);
  }

  /** Read what QEMU appended to console.txt and scan it. */
  private async pump(): Promise<void> {
    if (this.tailing) return;
    this.tailing = true;
    try {
      this.consoleFh ??= await open(this.consolePath, 'r');
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await this.consoleFh.read(buf, 0, buf.length, this.offset);
        if (bytesRead <= 0) break;
        this.offset += bytesRead;
        if (this.restarting) continue; // the rest of a crashed launch's console: not this machine's state
        const text = buf.subarray(0, bytesRead).toString('utf8');
        const before = this.scanner.failures.length;
        const found = this.scanner.feed(text);
        if (found.length && !this.retriedLaunch && isEarlyTcgCrash(found[0]!, this.initSeen || RUN_INIT.test(text.slice(0, text.indexOf(found[0]!.line.slice(0, 40)))))) {
          // Not the image's fault (see isEarlyTcgCrash): forget it and start QEMU again, once per launch.
          this.scanner.failures.splice(before);
          this.restarting = true;
          void this.restartAfterEarlyCrash(found[0]!);
          continue;
        }
        if (RUN_INIT.test(text)) this.initSeen = true;
        if (found.length) this.fail(new VmError(`VM ${this.spec.name}: ${describeFailure(found[0]!)}`, this.command, this.consoleTail(), found[0]));
      }
    } catch (e) {
      debug(`console tail: ${String(e)}`);
    } finally {
      this.tailing = false;
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const l of this.failListeners) l(e);
    this.failListeners = [];
  }

  /** The first failure seen (a console failure pattern or an unexpected QEMU exit). */
  get failed(): Error | undefined {
    return this.failure;
  }

  get exited(): boolean {
    return !!this.proc.exit;
  }

  consoleText(): string {
    return safeRead(this.consolePath);
  }

  consoleTail(lines = 30): string {
    return tail(this.consoleText().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''), lines);
  }

  /** Race `p` against a VM failure and a time-out. */
  async guard<T>(what: string, timeoutMs: number, body: (isDone: () => boolean) => Promise<T>, opts: { consoleFailures?: boolean } = {}): Promise<T> {
    const watchConsole = opts.consoleFailures ?? true;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let listener: ((e: Error) => void) | undefined;
    const signal = abortSignal();
    let onAbort: (() => void) | undefined;
    const failure = new Promise<never>((_, reject) => {
      onAbort = () => reject(new InterruptedError(`interrupted by ${interrupted() ?? 'signal'} while waiting to ${what}`));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      listener = (e) => {
        if (watchConsole || !(e instanceof VmError && e.consoleFailure)) reject(e);
      };
      if (this.failure) listener(this.failure);
      else this.failListeners.push(listener);
      timer = setTimeout(
        () => reject(new VmError(`VM ${this.spec.name}: timed out after ${Math.round(timeoutMs / 1000)} s waiting to ${what}`, this.command, this.consoleTail())),
        timeoutMs,
      );
    });
    // Handled from the start: a failure found by the pump below would otherwise be an unhandled rejection until the
    // race attaches its handler.
    failure.catch(() => undefined);
    try {
      await this.pump();
      return await Promise.race([body(() => done), failure]);
    } finally {
      done = true;
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
      this.failListeners = this.failListeners.filter((l) => l !== listener);
      failure.catch(() => undefined);
    }
  }

  /** Wait until `true` runs over SSH. */
  async waitForSsh(timeoutMs = 5 * 60_000): Promise<void> {
    await this.guard('come up on SSH', timeoutMs, async (isDone) => {
      while (!isDone()) {
        const r = await sshExec(this.target, 'true', { timeoutMs: 30_000, connectTimeoutSec: 5 }).catch(() => undefined);
        if (r?.exitCode === 0) return;
        await sleep(1500);
      }
    });
  }

  /** Wait for a console line matching `re`; returns the line. */
  async waitForConsole(re: RegExp, timeoutMs = 5 * 60_000, opts: { consoleFailures?: boolean } = {}): Promise<string> {
    return this.guard(`see ${re} on the console`, timeoutMs, async (isDone) => {
      while (!isDone()) {
        const line = this.consoleText().split('\n').find((l) => re.test(l));
        if (line) return line.replace(/\r/g, '');
        await sleep(500);
      }
      return '';
    }, opts);
  }

  /** Run a shell command over SSH. Never throws on a non-zero exit; throws if the VM died or on time-out. */
  async ssh(command: string, opts: { timeoutMs?: number; input?: string } = {}): Promise<SshResult> {
    const timeoutMs = opts.timeoutMs ?? 120_000;
    return this.guard(`run ${command}`, timeoutMs + 5000, () => sshExec(this.target, command, { timeoutMs, input: opts.input }), { consoleFailures: false });
  }

  /** Run a command over SSH and throw unless it exits 0. Returns stdout. */
  /**
   * A command that must fail in the guest (a negative check: "the file is absent", "the port is closed"). Resolves
   * with its result when it ran and exited non-zero; throws when it succeeded, and when ssh itself failed (exit 255:
   * no connection, the guest gone), so that a dead VM is never read as "absent".
   */
  async sshFails(command: string, opts: { timeoutMs?: number; input?: string; want?: number } = {}): Promise<SshResult> {
    const r = await this.ssh(command, opts);
    return expectGuestFailure(this.spec.name, command, r, opts.want);
  }
  async sshOk(command: string, opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
    const r = await this.ssh(command, opts);
    if (r.exitCode !== 0) {
      throw new ExternalError(`command in VM ${this.spec.name} failed`, command, r.exitCode, tail(r.stderr || r.stdout));
    }
    return r.stdout;
  }

  async bootId(): Promise<string> {
    return (await this.sshOk('cat /proc/sys/kernel/random/boot_id')).trim();
  }

  /**
   * Reboot and wait until SSH answers from a new boot (a new boot_id); returns the new boot_id.
   * - warm (default): `systemctl reboot` inside the guest; QEMU stays.
   * - cold: `systemctl poweroff` inside the guest (a clean shutdown), then QEMU starts again on the same overlay,
   *   OVMF vars and SSH port. Under TCG a warm reset boots much slower than a fresh QEMU (measured here with the
   *   baseline: 127 s vs 55 s to SSH), so scenarios that only need "the machine booted again" use cold.
   */
  async reboot(timeoutMs = 6 * 60_000, opts: { cold?: boolean } = {}): Promise<string> {
    const before = await this.bootId();
    if (opts.cold) {
      await this.poweroff(Math.min(timeoutMs, 180_000));
      this.spec.cleanup?.forget(`stop VM ${this.spec.name}`);
      this.stopping = false;
      this.spec.reuseOverlay = true;
      this.spec.ssh = { ...this.spec.ssh, port: this.sshPort };
      writeFileSync(this.consolePath, '\n--- fcos: power cycle (cold reboot) ---\n', { flag: 'a' });
      await this.launch();
      await this.waitForSsh(timeoutMs);
      const id = await this.bootId();
      if (id === before) throw new VmError(`VM ${this.spec.name}: boot_id unchanged after a power cycle`, this.command, this.consoleTail());
      return id;
    }
    await this.ssh('sudo systemctl reboot', { timeoutMs: 30_000 });
    return this.guard('reboot', timeoutMs, async (isDone) => {
      while (!isDone()) {
        await sleep(2000);
        const r = await sshExec(this.target, 'cat /proc/sys/kernel/random/boot_id', { timeoutMs: 30_000 }).catch(() => undefined);
        const id = r?.exitCode === 0 ? r.stdout.trim() : '';
        if (id && id !== before) return id;
      }
      return '';
    });
  }

  /**
   * A guest-initiated stop is coming (a reboot with noReboot, or a power cut): QEMU's exit is not a failure.
   * Call before the guest reboots itself; powerOn() starts it again.
   */
  expectExit(on = true): void {
    this.stopping = on;
  }

  /** Power cut: SIGKILL QEMU now (no guest shutdown, no QMP). */
  async powerCut(): Promise<void> {
    this.stopping = true;
    if (!this.proc.exit) {
      try {
        process.kill(this.proc.pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
      await this.proc.exited;
    }
    await this.stopTail();
  }

  /** Wait until QEMU exited (after expectExit), up to timeoutMs; false on time-out. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    const t = await Promise.race([this.proc.exited, sleep(timeoutMs).then(() => undefined)]);
    if (t) await this.stopTail();
    return !!t;
  }

  /**
   * The kernel crashed before it ran /init (isEarlyTcgCrash): nothing on the disk has changed since GRUB, so QEMU is
   * killed and started again on the same overlay, ports and vars. The caller's wait (waitForSsh …) goes on.
   */
  private async restartAfterEarlyCrash(f: ConsoleFailure): Promise<void> {
    const what = `${describeFailure(f)}`;
    this.earlyCrashes.push(what);
    info(`VM ${this.spec.name}: ${what} before the kernel ran /init (a TCG flake, not the image); starting QEMU again once`);
    this.stopping = true;
    try {
      process.kill(this.proc.pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
    await this.proc.exited;
    await this.stopTail();
    this.spec.cleanup?.forget(`stop VM ${this.spec.name}`);
    this.stopping = false;
    this.spec.reuseOverlay = true;
    this.spec.ssh = { ...this.spec.ssh, port: this.sshPort };
    writeFileSync(this.consolePath, `\n--- fcos: started again after an early kernel crash (${f.line.slice(0, 80)}) ---\n`, { flag: 'a' });
    try {
      await this.launch();
      this.retriedLaunch = true;
    } catch (e) {
      this.fail(e instanceof Error ? e : toFcosError(e));
    } finally {
      this.restarting = false;
    }
  }

  /** Start QEMU again on the same overlay, SSH port and OVMF vars after it stopped (power on); not waited for. */
  async powerOn(note = 'power on'): Promise<void> {
    if (!this.proc.exit) throw new VmError(`VM ${this.spec.name} is still running`, this.command, this.consoleTail());
    await this.stopTail();
    this.spec.cleanup?.forget(`stop VM ${this.spec.name}`);
    this.stopping = false;
    this.spec.reuseOverlay = true;
    this.spec.ssh = { ...this.spec.ssh, port: this.sshPort };
    writeFileSync(this.consolePath, `\n--- fcos: ${note} ---\n`, { flag: 'a' });
    await this.launch();
  }

  /** Graceful power-off through QMP (ACPI); kill if it does not stop within timeoutMs. */
  async shutdown(timeoutMs = 120_000): Promise<void> {
    if (this.proc.exit) return this.stopTail();
    this.stopping = true;
    try {
      await qmpExecute(this.qmpSocket, 'system_powerdown');
      const t = await Promise.race([this.proc.exited, sleep(timeoutMs).then(() => undefined)]);
      if (!t) {
        info(`VM ${this.spec.name} did not power off within ${Math.round(timeoutMs / 1000)} s; killing it`);
        await this.proc.stop(2000);
      }
    } catch (e) {
      debug(`QMP powerdown failed: ${String(e)}`);
      await this.proc.stop(2000);
    }
    await this.stopTail();
  }

  /** Power off from inside (`systemctl poweroff` over SSH), so the disk is clean for the next boot; QMP, then kill, as fall-backs. */
  async poweroff(timeoutMs = 180_000): Promise<void> {
    if (this.proc.exit) return this.stopTail();
    this.stopping = true;
    await sshExec(this.target, 'sudo systemctl poweroff', { timeoutMs: 30_000 }).catch(() => undefined);
    const t = await Promise.race([this.proc.exited, sleep(timeoutMs).then(() => undefined)]);
    if (!t) return this.shutdown(30_000);
    await this.stopTail();
  }

  /** Kill QEMU now (the overlay is thrown away anyway). */
  async kill(): Promise<void> {
    this.stopping = true;
    if (!this.proc.exit) {
      // QMP quit is clean and fast; SIGTERM/SIGKILL otherwise.
      const asked = await qmpExecute(this.qmpSocket, 'quit', undefined, 3000).then(
        () => true,
        () => false,
      );
      const t = asked ? await Promise.race([this.proc.exited, sleep(3000).then(() => undefined)]) : undefined;
      if (!t) await this.proc.stop(2000);
    }
    await this.stopTail();
    this.spec.cleanup?.forget(`stop VM ${this.spec.name}`);
  }

  /** Wait until QEMU exits by itself (after a poweroff inside the guest). */
  async waitExit(timeoutMs = 120_000): Promise<void> {
    this.stopping = true;
    const t = await Promise.race([this.proc.exited, sleep(timeoutMs).then(() => undefined)]);
    if (!t) throw new VmError(`VM ${this.spec.name} did not power off within ${Math.round(timeoutMs / 1000)} s`, this.command, this.consoleTail());
    await this.stopTail();
  }

  /** Stop watching (for --detach: QEMU keeps running). */
  async release(): Promise<void> {
    this.stopping = true;
    await this.stopTail(false);
    this.spec.cleanup?.forget(`stop VM ${this.spec.name}`);
  }

  private async stopTail(removeSocket = true): Promise<void> {
    if (this.tailTimer) clearInterval(this.tailTimer);
    this.tailTimer = undefined;
    await this.pump();
    const rest = this.scanner.flush();
    if (rest.length && !this.failure) this.fail(new VmError(`VM ${this.spec.name}: ${describeFailure(rest[0]!)}`, this.command, this.consoleTail(), rest[0]));
    await this.consoleFh?.close().catch(() => undefined);
    this.consoleFh = undefined;
    if (removeSocket && this.qmpSocket.startsWith(tmpdir())) rmSync(this.qmpSocket, { force: true });
  }
}

function safeRead(p: string): string {
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
