/**
 * What a scenario is (test/scenarios/*.ts implement it, qemu/harness.ts runs it): its needs, the contexts its
 * ignition() and run() get, the results; and the pure pieces the harness applies to them (the VM network a scenario
 * asks for, the run's SSH key in its config).
 */
import { BugError } from '../lib/errors.js';
import type { Firmware } from './args.js';
import type { Vm, VmSpec } from './vm.js';

export type IgnitionConfig = Record<string, unknown> & { ignition: { version: string } };

export interface ScenarioNeeds {
  /** An fcos image (built from the scenario's config) or the plain Debian baseline (direct kernel boot). */
  image: 'fcos' | 'baseline';
  firmware?: Firmware;
  memoryMiB?: number;
  /** Extra kernel arguments (baseline: direct kernel boot only). */
  appendKargs?: string;
  /** Guest TCP ports the host reaches through QEMU hostfwd on 127.0.0.1 (free host ports; ctx.hostPort(guest)). */
  forwardPorts?: number[];
  /**
   * QEMU user networking with restrict=on: the guest reaches nothing outside (no Internet, not even the host's
   * 10.0.2.2, so ctx.serve is unusable); only the forwarded ports (SSH, forwardPorts) come in.
   */
  restrictNetwork?: boolean;
  /** QEMU exits when the guest reboots (-no-reboot): the scenario powers it on again (a cold boot, faster under TCG). */
  noReboot?: boolean;
}

/** The VM network a scenario's needs ask for, given a host port for each of needs.forwardPorts (pure). */
export function scenarioNetwork(needs: ScenarioNeeds, hostPorts: readonly number[]): Pick<VmSpec, 'forwards' | 'restrict'> {
  const guest = needs.forwardPorts ?? [];
  if (hostPorts.length !== guest.length) throw new BugError(`${guest.length} forwarded port(s) but ${hostPorts.length} host port(s)`);
  if (new Set(guest).size !== guest.length) throw new BugError(`forwardPorts lists a port twice: ${guest.join(', ')}`);
  if (guest.includes(22)) throw new BugError('guest port 22 is always forwarded (SSH)');
  return {
    ...(guest.length ? { forwards: guest.map((g, i) => ({ hostPort: hostPorts[i]!, guestPort: g })) } : {}),
    ...(needs.restrictNetwork ? { restrict: true } : {}),
  };
}

/** The host port forwarded to a guest TCP port of a VM. */
export function forwardedHostPort(spec: Pick<VmSpec, 'forwards'>, guestPort: number): number {
  const f = spec.forwards?.find((x) => x.guestPort === guestPort && (x.proto ?? 'tcp') === 'tcp');
  if (!f) throw new BugError(`guest port ${guestPort} is not forwarded (forwarded: ${(spec.forwards ?? []).map((x) => x.guestPort).join(', ') || 'none'})`);
  return f.hostPort;
}

export interface SetupContext<S extends object = object> {
  /** Serve files to the guest from a host HTTP server; the guest reaches it at http://10.0.2.2:PORT/NAME. */
  serve(files: Record<string, string | Buffer>, onRequest?: (path: string) => void): Promise<{ port: number; url: (name: string) => string }>;
  outDir: string;
  /** This run's own state (Scenario.state), the same object in ignition() and run(). */
  state: S;
}

/** A scenario; S is its per-run state (no module-level state: each run starts from Scenario.state()). */
export interface Scenario<S extends object = object> {
  name: string;
  description: string;
  needs: ScenarioNeeds;
  /** How many boots it makes (planning: a TCG boot costs about a minute). */
  boots: number;
  timeoutMin?: number;
  /** Excluded from a bare `fcos test` (harness self-tests on the baseline). */
  selftest?: boolean;
  /** Run only when named (it changes the builds dir: e.g. `upgrade` composes new versions into it). */
  explicit?: boolean;
  /** Boot does not reach SSH on purpose (the harness still reports it as a failure: a negative control). */
  ignoreConsole?: RegExp[];
  /** A fresh state object for one run, handed to ignition() and run() as ctx.state (default: {}). */
  state?(): S;
  /** The Ignition config; the harness adds the run's SSH key for user core. */
  ignition?(ctx: SetupContext<S>): Promise<IgnitionConfig> | IgnitionConfig;
  /** The checks. The first VM is booted and on SSH when this runs. */
  run(ctx: TestContext<S>): Promise<void>;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  seconds: number;
  error?: string;
  detail?: string;
}

export interface ScenarioResult {
  name: string;
  ok: boolean;
  seconds: number;
  /** QEMU launches, those started again after an early kernel crash included. */
  boots: number;
  /** Launches started again after an early TCG kernel crash (qemu/vm.ts isEarlyTcgCrash). */
  earlyCrashes?: string[];
  dir: string;
  console: string;
  journal?: string;
  image?: string;
  checks: CheckResult[];
}

export interface TestReport {
  ok: boolean;
  passed: number;
  failed: number;
  scenarios: ScenarioResult[];
}

export interface BootOptions {
  /** Sub-directory name for this VM's files (console.txt...). Default: the scenario dir for the first VM. */
  name: string;
  ignition?: IgnitionConfig;
  /** Console patterns that are not failures for this VM. */
  ignoreConsole?: RegExp[];
}

export interface TestContext<S extends object = object> {
  scenario: Scenario<S>;
  /** The first VM, booted and on SSH. */
  vm: Vm;
  /** The host port (on 127.0.0.1) forwarded to a guest port listed in needs.forwardPorts, on the first VM. */
  hostPort(guestPort: number): number;
  outDir: string;
  sshKey: string;
  sshPubKey: string;
  /** Run one named check; a failing check is recorded and the scenario goes on. Returns whether it passed. */
  check(name: string, fn: () => Promise<string | void>): Promise<boolean>;
  /** Start another VM of the same image (with another config); not waited for. Killed at the end. */
  boot(opts: BootOptions): Promise<Vm>;
  serve: SetupContext['serve'];
  log(msg: string): void;
  /** The builds directory the image came from (scenarios that compose new versions into it). */
  buildsDir: string;
  /** This run's own state (Scenario.state), the same object ignition() had. */
  state: S;
}

/** The sudoers drop-in tests rely on (FCOS ships the same for its wheel group); added by injectSshKey. */
export const TEST_SUDOERS = { path: '/etc/sudoers.d/fcos-test-core', line: 'core ALL=(ALL) NOPASSWD: ALL\n' };

/**
 * Put the run's SSH key into a config for user core (added if absent), and, unless `sudo: false`, a sudoers
 * drop-in giving core passwordless sudo: the checks and the journal collection need root, whatever the image's
 * sudo policy is.
 */
export function injectSshKey(config: IgnitionConfig, pubKey: string, opts: { sudo?: boolean } = {}): IgnitionConfig {
  const c = JSON.parse(JSON.stringify(config)) as IgnitionConfig & {
    passwd?: { users?: { name: string; sshAuthorizedKeys?: string[]; groups?: string[] }[] };
    storage?: { files?: { path: string }[] };
  };
  if (opts.sudo ?? true) {
    c.storage ??= {};
    c.storage.files ??= [];
    if (!c.storage.files.some((f) => f.path === TEST_SUDOERS.path)) {
      c.storage.files.push({ path: TEST_SUDOERS.path, mode: 0o440, contents: { source: `data:,${encodeURIComponent(TEST_SUDOERS.line)}` } } as { path: string });
    }
  }
  c.passwd ??= {};
  c.passwd.users ??= [];
  let core = c.passwd.users.find((u) => u.name === 'core');
  if (!core) {
    core = { name: 'core' };
    c.passwd.users.unshift(core);
  }
  core.sshAuthorizedKeys = [...new Set([...(core.sshAuthorizedKeys ?? []), pubKey])];
  return c;
}
