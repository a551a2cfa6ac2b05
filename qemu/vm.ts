/**
 * The VM runner: start QEMU in the background from buildQemuArgs(), stream the serial console into
 * `<dir>/console.txt` and scan it for failures as it grows, wait for SSH (or a console marker), run commands over
 * SSH, reboot (a new boot_id proves it), shut down (QMP system_powerdown) or kill. Everything has a time-out, and a
 * console failure or an unexpected QEMU exit makes every wait fail at once. What a launch prepares and the VM's
 * spec: qemu/vm-spec.ts (re-exported here).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { ExternalError, InterruptedError, UserError, toFcosError } from '../lib/errors.js';
import { abortSignal, interrupted } from '../lib/signals.js';
import { formatCommand, spawnProcess, tail, type ProcessHandle } from '../lib/run.js';
import { debug, info } from '../lib/log.js';
import { buildQemuArgs, type Accel, type QemuConfig } from './args.js';
import { coldRebootCommand } from './cold-reboot.js';
import { ConsoleScanner, describeFailure, type ConsoleFailure } from './console.js';
import { detectAccel } from './kvm.js';
import { freePort, portIsFree } from './net.js';
import { qmpExecute } from './qmp.js';
import { sshCommandLine, sshExec, type SshResult, type SshTarget } from './ssh.js';
import {
  expectGuestFailure,
  isEarlyTcgCrash,
  launchConfig,
  prepareDisk,
  prepareOvmf,
  qmpPath,
  recordLaunch,
  safeRead,
  VmError,
  type LaunchDisk,
  type VmInfo,
  type VmSpec,
} from './vm-spec.js';

export * from './vm-spec.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const RUN_INIT = /Run \/\S* as init process/;

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
    const disk = await prepareDisk(s);
    if (disk.overlay) this.overlay = disk.overlay;
    const ovmf = prepareOvmf(s);
    if (!s.reuseOverlay || !existsSync(this.consolePath)) writeFileSync(this.consolePath, '');
    else {
      this.offset = readFileSync(this.consolePath).length;
    }
    this.qmpSocket = qmpPath(s.dir, s.name);
    const userPort = s.ssh.port;
    if (userPort && !(await portIsFree(userPort))) throw new UserError(`port ${userPort} on 127.0.0.1 is in use`, 'pick another --ssh-port or leave it out');
    await this.spawnQemu(disk, ovmf, userPort);
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

  /** Start QEMU; a port taken between picking and binding makes QEMU exit at once: pick another (up to 4 tries). */
  private async spawnQemu(disk: LaunchDisk, ovmf: QemuConfig['ovmf'], userPort: number | undefined): Promise<void> {
    const s = this.spec;
    for (let attempt = 1; ; attempt++) {
      this.sshPort = userPort || (await freePort());
      rmSync(this.qmpSocket, { force: true });
      const config = launchConfig(s, { accel: this.accel, ovmf, disk, sshPort: this.sshPort, consolePath: this.consolePath, qmpSocket: this.qmpSocket });
      const args = buildQemuArgs(config);
      const cmd = s.coldReboots ? coldRebootCommand(this.consolePath, 'qemu-system-x86_64', args) : { file: 'qemu-system-x86_64', args };
      this.proc = await spawnProcess(cmd.file, cmd.args, {
        purpose: `QEMU (${s.name})`,
        inheritStdio: s.console,
        detached: s.detach ? { logFile: join(s.dir, 'qemu.log') } : undefined,
        killOnAbort: !s.detach && !s.gracefulOnAbort,
        ownProcessGroup: !!s.coldReboots || (!!s.gracefulOnAbort && !s.console),
      });
      this.command = this.proc.command;
      writeFileSync(join(s.dir, 'qemu-command.txt'), (s.coldReboots ? formatCommand('qemu-system-x86_64', args) : this.command) + '\n');
      const early = await this.exitWithin(s.coldReboots ? 1500 : 700); // the supervisor starts node first
      if (!early) return;
      const out = this.proc.outputTail() + (s.detach ? safeRead(join(s.dir, 'qemu.log')) : '');
      if (!userPort && attempt < 4 && /host forwarding rule|Address already in use/i.test(out)) continue;
      throw new ExternalError(`QEMU (${s.name}) failed to start`, this.command, early.exitCode ?? undefined, tail(out));
    }
  }

  /** QEMU again on the same overlay, OVMF vars and SSH port (after it stopped), with a note in console.txt. */
  private async relaunch(note: string): Promise<void> {
    this.spec.cleanup?.forget(`stop VM ${this.spec.name}`);
    this.stopping = false;
    this.spec.reuseOverlay = true;
    this.spec.ssh = { ...this.spec.ssh, port: this.sshPort };
    writeFileSync(this.consolePath, `\n--- fcos: ${note} ---\n`, { flag: 'a' });
    await this.launch();
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
      await this.relaunch('power cycle (cold reboot)');
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
      this.killNow();
      await this.proc.exited;
    }
    await this.stopTail();
  }

  /** SIGKILL QEMU; with coldReboots its supervisor's whole process group (the supervisor and QEMU). */
  private killNow(): void {
    try {
      process.kill(this.spec.coldReboots ? -this.proc.pid : this.proc.pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }

  /**
   * QEMU's exit within ms, or undefined. The timer is cleared either way: a pending one kept `fcos test` alive for
   * its whole length after the last VM was gone (2 minutes after the basic scenario's report, in every CI run).
   */
  private async exitWithin(ms: number): Promise<Awaited<typeof this.proc.exited> | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([this.proc.exited, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Wait until QEMU exited (after expectExit), up to timeoutMs; false on time-out. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    const t = await this.exitWithin(timeoutMs);
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
    this.killNow();
    await this.proc.exited;
    await this.stopTail();
    try {
      await this.relaunch(`started again after an early kernel crash (${f.line.slice(0, 80)})`);
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
    await this.relaunch(note);
  }

  /** Graceful power-off through QMP (ACPI); kill if it does not stop within timeoutMs. */
  async shutdown(timeoutMs = 120_000): Promise<void> {
    if (this.proc.exit) return this.stopTail();
    this.stopping = true;
    try {
      await qmpExecute(this.qmpSocket, 'system_powerdown');
      const t = await this.exitWithin(timeoutMs);
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
    const t = await this.exitWithin(timeoutMs);
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
      const t = asked ? await this.exitWithin(3000) : undefined;
      if (!t) await this.proc.stop(2000);
    }
    await this.stopTail();
    this.spec.cleanup?.forget(`stop VM ${this.spec.name}`);
  }

  /** Wait until QEMU exits by itself (after a poweroff inside the guest). */
  async waitExit(timeoutMs = 120_000): Promise<void> {
    this.stopping = true;
    const t = await this.exitWithin(timeoutMs);
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
