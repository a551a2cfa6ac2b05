/**
 * `fcos test`: a kola-style harness. Scenarios (test/scenarios/*.ts) say what they need and what they check; the
 * harness builds or finds the image, makes a per-run SSH key and puts it into the scenario's Ignition config, boots,
 * waits for SSH, runs the scenario's checks, then the machine checks every test gets (console failure patterns,
 * `systemctl is-system-running --wait`, `systemctl --failed`), and collects console.txt and journal.txt into
 * tmp/fcos-test/<scenario>/ (kola: tmp/kola/<test>/).
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve, dirname, isAbsolute } from 'node:path';
import { BugError, CheckError, UserError } from '../lib/errors.js';
import { run } from '../lib/run.js';
import { info } from '../lib/log.js';
import { checkInterrupted, withCleanup, type Cleanup } from '../lib/signals.js';
import type { Firmware } from './args.js';
import { describeFailure, type ConsoleFailure } from './console.js';
import { ensureBaseline, type BaselineImage } from './baseline.js';
import { Vm, VmError, type VmSpec } from './vm.js';
import { freePort } from './net.js';
import { readMeta } from '../ostree/builds.js';

/* ---------- the image build, injected (images/ buildImage after the merge) ---------- */

export interface HarnessBuildRequest {
  /** The scenario's Ignition config (written by the harness, SSH key included). */
  ignition: string;
  firmware: Firmware;
  buildsDir: string;
}

export interface HarnessImage {
  path: string;
  format: 'qcow2' | 'raw';
  buildId?: string;
}

/** Build (or reuse) an image for a scenario. Wired to images/buildImage() after the image branch merges. */
export type HarnessBuildFn = (req: HarnessBuildRequest) => Promise<HarnessImage>;

/** Without an injected build function: use the latest build's qcow2 image from builds/latest/meta.json. */
export function latestBuildImage(buildsDir: string): HarnessImage & { buildId: string } {
  const metaPath = join(buildsDir, 'latest', 'meta.json');
  if (!existsSync(metaPath)) throw new UserError(`no image built yet (no ${metaPath}); run fcos build`);
  const meta = readMeta(dirname(metaPath), { hint: 'run fcos build again' });
  const rel = meta.images?.qemu?.path;
  if (!rel) throw new UserError(`the latest build has no qemu image (images.qemu in ${metaPath}); run fcos build`);
  // The build's own directory, not builds/latest: a scenario may compose newer builds while the VM runs (upgrade),
  // and the VM's overlay must keep its backing file.
  const dir = realpathSync(dirname(metaPath));
  const path = isAbsolute(rel) ? rel : join(dir, rel);
  if (!existsSync(path)) throw new UserError(`the latest build's qemu image is missing: ${path}`, 'run fcos build again');
  return { path, format: path.endsWith('.qcow2') ? 'qcow2' : 'raw', buildId: meta.buildid ?? 'latest' };
}

/* ---------- scenarios ---------- */

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

export interface SetupContext {
  /** Serve files to the guest from a host HTTP server; the guest reaches it at http://10.0.2.2:PORT/NAME. */
  serve(files: Record<string, string | Buffer>, onRequest?: (path: string) => void): Promise<{ port: number; url: (name: string) => string }>;
  outDir: string;
}

export interface Scenario {
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
  /** The Ignition config; the harness adds the run's SSH key for user core. */
  ignition?: (ctx: SetupContext) => Promise<IgnitionConfig> | IgnitionConfig;
  /** The checks. The first VM is booted and on SSH when this runs. */
  run(ctx: TestContext): Promise<void>;
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

export interface TestContext {
  scenario: Scenario;
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

export interface HarnessOptions {
  scenarios: Scenario[];
  buildsDir: string;
  /** Where results go: <outRoot>/<scenario>/. Default tmp/fcos-test. */
  outRoot?: string;
  build?: HarnessBuildFn;
  /** Seconds to wait for SSH after a boot. Default 600 (TCG first boots are slow). */
  sshTimeoutSec?: number;
  /** Injected for tests. */
  baseline?: () => Promise<BaselineImage>;
}

async function makeKey(dir: string): Promise<{ key: string; pub: string }> {
  mkdirSync(dir, { recursive: true });
  const key = join(dir, 'id_ed25519');
  rmSync(key, { force: true });
  rmSync(key + '.pub', { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fcos-test', '-f', key], { purpose: 'make the test SSH key' });
  return { key, pub: readFileSync(key + '.pub', 'utf8').trim() };
}

function errText(e: unknown): string {
  if (e && typeof e === 'object' && 'render' in e && typeof (e as { render: unknown }).render === 'function') return (e as { render(): string }).render();
  return e instanceof Error ? e.message : String(e);
}

export async function runScenarios(opts: HarnessOptions): Promise<TestReport> {
  const outRoot = resolve(opts.outRoot ?? join('tmp', 'fcos-test'));
  mkdirSync(outRoot, { recursive: true });
  const { key, pub } = await makeKey(join(outRoot, '.ssh'));
  const results: ScenarioResult[] = [];
  for (const s of opts.scenarios) {
    checkInterrupted();
    info(`==> scenario ${s.name}: ${s.description}`);
    const r = await runScenario(s, opts, outRoot, key, pub);
    // Kept with the logs: every check with its time and detail (what a failed CI run is read from).
    writeFileSync(join(r.dir, 'result.json'), JSON.stringify(r, null, 2) + '\n');
    for (const c of r.checks) info(`    ${c.ok ? 'PASS' : 'FAIL'} ${c.name} (${c.seconds.toFixed(1)}s)${c.ok ? '' : `: ${(c.error ?? '').split('\n')[0]}`}`);
    info(`    scenario ${s.name}: ${r.ok ? 'PASS' : 'FAIL'} in ${r.seconds.toFixed(0)} s, ${r.boots} boot(s); logs in ${r.dir}`);
    results.push(r);
  }
  checkInterrupted();
  const passed = results.filter((r) => r.ok).length;
  return { ok: passed === results.length, passed, failed: results.length - passed, scenarios: results };
}

async function runScenario(s: Scenario, opts: HarnessOptions, outRoot: string, harnessKey: string, harnessPub: string): Promise<ScenarioResult> {
  const t0 = Date.now();
  const outDir = join(outRoot, s.name);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const checks: CheckResult[] = [];
  const servers: Server[] = [];
  const vms: Vm[] = [];
  const result: ScenarioResult = { name: s.name, ok: false, seconds: 0, boots: 0, dir: outDir, console: join(outDir, 'console.txt'), checks };

  const record = async (name: string, fn: () => Promise<string | void>): Promise<boolean> => {
    const c0 = Date.now();
    try {
      const detail = await fn();
      checks.push({ name, ok: true, seconds: (Date.now() - c0) / 1000, ...(detail ? { detail } : {}) });
      return true;
    } catch (e) {
      checks.push({ name, ok: false, seconds: (Date.now() - c0) / 1000, error: errText(e) });
      return false;
    }
  };

  const serve: SetupContext['serve'] = async (files, onRequest) => {
    const server = createServer((req, res) => {
      const name = decodeURIComponent((req.url ?? '/').split('?')[0]!.replace(/^\/+/, ''));
      onRequest?.(name);
      const body = files[name];
      if (body === undefined) {
        res.writeHead(404).end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(body) }).end(body);
    });
    servers.push(server);
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    return { port, url: (name: string) => `http://10.0.2.2:${port}/${name}` };
  };

  await withCleanup(async (cleanup) => {
    cleanup.push('stop the HTTP servers', () => {
      for (const sv of servers) sv.close();
    });
    try {
      // 1. The image and the key.
      let baseVmSpec: Omit<VmSpec, 'name' | 'dir'>;
      let sshKey = harnessKey;
      let sshPubKey = harnessPub;
      const setup: SetupContext = { serve, outDir };
      let config: IgnitionConfig | undefined;
      const writeConfig = (file: string, c: IgnitionConfig): string => {
        const p = join(outDir, file);
        writeFileSync(p, JSON.stringify(injectSshKey(c, sshPubKey), null, 2) + '\n');
        return p;
      };
      const buildFor = async (ignPath: string): Promise<HarnessImage> =>
        opts.build ? opts.build({ ignition: ignPath, firmware: s.needs.firmware ?? 'bios', buildsDir: opts.buildsDir }) : latestBuildImage(opts.buildsDir);

      if (s.needs.image === 'baseline') {
        const b = await (opts.baseline ?? (() => ensureBaseline()))();
        sshKey = b.sshKey;
        sshPubKey = readFileSync(b.sshKey + '.pub', 'utf8').trim();
        result.image = b.disk;
        baseVmSpec = {
          disk: { path: b.disk, format: b.diskFormat },
          kernelBoot: { kernel: b.kernel, initrd: b.initrd, append: [b.append, s.needs.appendKargs].filter(Boolean).join(' ') },
          ssh: { key: sshKey },
        };
      } else {
        config = s.ignition ? await s.ignition(setup) : { ignition: { version: '3.3.0' } };
        const ign = writeConfig('config.ign', config);
        const img = await buildFor(ign);
        result.image = img.path;
        baseVmSpec = { disk: { path: img.path, format: img.format }, ignition: ign, firmware: s.needs.firmware, ssh: { key: sshKey } };
      }
      const common = { ...baseVmSpec, memoryMiB: s.needs.memoryMiB, noReboot: s.needs.noReboot, cleanup: cleanup as Cleanup };

      const bootVm = async (name: string, dir: string, extra: Partial<VmSpec> = {}): Promise<Vm> => {
        const hostPorts = await Promise.all((s.needs.forwardPorts ?? []).map(() => freePort()));
        const net = scenarioNetwork(s.needs, hostPorts);
        const vm = await Vm.start({ ...common, ...net, ...extra, name: `${s.name}-${name}`, dir, ignoreConsole: [...(s.ignoreConsole ?? []), ...(extra.ignoreConsole ?? [])] });
        vms.push(vm);
        return vm;
      };

      // 2. First boot, SSH.
      const vm = await bootVm('1', outDir);
      const sshTimeout = (opts.sshTimeoutSec ?? 600) * 1000;
      const up = await record('boot and reach SSH', async () => {
        await vm.waitForSsh(sshTimeout);
        return `SSH up (accel ${vm.accel})`;
      });
      if (!up) {
        // Keep what there is: try SSH a little longer, ignoring console failures, for the journal.
        await collectJournal(vm, outDir, result, 60_000);
        if (result.journal && !vm.exited) {
          // SSH came up after all: name the failed units in full (the console shortens them).
          await record('system is running (no failed units)', async () => {
            const units = (await vm.ssh('systemctl --failed --no-legend --plain --no-pager')).stdout.trim();
            if (units) throw new CheckError(`failed units:\n${units}`);
          });
        }
        return;
      }

      // 3. The scenario's checks, under its time-out.
      const ctx: TestContext = {
        scenario: s,
        vm,
        hostPort: (g) => forwardedHostPort(vm.spec, g),
        outDir,
        sshKey,
        sshPubKey,
        check: record,
        boot: async (o) => {
          const dir = join(outDir, o.name);
          mkdirSync(dir, { recursive: true });
          let extra: Partial<VmSpec> = { ignoreConsole: o.ignoreConsole };
          if (o.ignition) {
            const p = writeConfig(join(o.name, 'config.ign'), o.ignition);
            if (s.needs.image === 'fcos') {
              const img = opts.build ? await buildFor(p) : undefined;
              extra = { ...extra, ignition: p, ...(img ? { disk: { path: img.path, format: img.format } } : {}) };
            }
          }
          return bootVm(o.name, dir, extra);
        },
        serve,
        log: (m) => info(`    ${m}`),
        buildsDir: resolve(opts.buildsDir),
      };
      const timeoutMs = (s.timeoutMin ?? 10) * 60_000;
      let timer: NodeJS.Timeout | undefined;
      await record('scenario checks finished in time', () =>
        Promise.race([
          s.run(ctx).then(() => undefined),
          new Promise<never>((_, rej) => {
            timer = setTimeout(() => rej(new CheckError(`scenario ${s.name} timed out after ${s.timeoutMin ?? 10} min`)), timeoutMs);
          }),
        ]).finally(() => clearTimeout(timer)),
      );

      // 4. Machine checks on the first VM (kola): the system settles, no failed units, no console failures.
      if (!vm.exited) {
        await record('system is running (no failed units)', async () => {
          const st = await vm.ssh('timeout 300 systemctl is-system-running --wait', { timeoutMs: 320_000 });
          const state = st.stdout.trim();
          const failed = await vm.ssh('systemctl --failed --no-legend --plain --no-pager');
          const units = failed.stdout.trim();
          if (units) throw new CheckError(`failed units:\n${units}`);
          if (state !== 'running') throw new CheckError(`systemctl is-system-running: ${state || st.stderr.trim()}`);
          return state;
        });
        await collectJournal(vm, outDir, result, 30_000);
      } else {
        // QEMU is gone (it died, or a scenario powered it off and left it off): the machine checks cannot run, and
        // a scenario whose machine cannot be checked has not passed.
        checks.push({
          name: 'system is running (no failed units)',
          ok: false,
          seconds: 0,
          error: `the VM was not running for the machine checks (${vm.failed ? errText(vm.failed).split('\n')[0] : 'QEMU exited'})`,
        });
      }
    } catch (e) {
      checks.push({ name: 'harness', ok: false, seconds: 0, error: errText(e) });
    } finally {
      // Console failures of every VM that was not expected to fail count (a VM's own check handles expected ones).
      for (const v of vms) {
        await v.kill().catch(() => undefined);
      }
      const seen = vms.flatMap((v) => v.scanner.failures.map((f) => ({ vm: v.spec.name, f })));
      const firstVm = vms[0];
      if (firstVm) {
        const own: ConsoleFailure[] = firstVm.scanner.failures;
        checks.push({
          name: 'console shows no failure',
          ok: own.length === 0,
          seconds: 0,
          ...(own.length ? { error: own.map(describeFailure).join('\n') } : {}),
        });
      }
      if (seen.length) writeFileSync(join(outDir, 'console-failures.txt'), seen.map((x) => `${x.vm}: ${describeFailure(x.f)}`).join('\n') + '\n');
    }
  });
  // Boots are QEMU launches (a cold reboot or a power-on after a cut starts QEMU again), not what a scenario says.
  result.boots = vms.reduce((n, v) => n + v.launches, 0);
  // Launches started again after an early TCG kernel crash (Vm.earlyCrashes): counted in boots, named here.
  const early = vms.flatMap((v) => v.earlyCrashes.map((c) => `${v.spec.name}: ${c}`));
  if (early.length) result.earlyCrashes = early;
  result.seconds = (Date.now() - t0) / 1000;
  result.ok = checks.length > 0 && checks.every((c) => c.ok);
  return result;
}

/** Console failures after which SSH never comes up: no point waiting for it to collect the journal. */
const FATAL = new Set(['kernel panic', 'kernel oops', 'emergency shell', 'dracut gave up', 'go panic']);

/** journalctl -b over SSH into journal.txt (best effort: the VM may be broken). */
async function collectJournal(vm: Vm, outDir: string, result: ScenarioResult, waitMs: number): Promise<void> {
  if (vm.exited) return;
  try {
    if (vm.failed) {
      // The boot failed on the console; SSH may still come up, unless the failure stops the boot for good.
      const f = vm.failed instanceof VmError ? vm.failed.consoleFailure : undefined;
      if (!f || FATAL.has(f.name)) return;
      await vm.guard('come up on SSH for the journal', waitMs, async (isDone) => {
        while (!isDone()) {
          const r = await vm.ssh('true', { timeoutMs: 15_000 }).catch(() => undefined);
          if (r?.exitCode === 0) return;
          await new Promise((res) => setTimeout(res, 2000));
        }
      }, { consoleFailures: false });
    }
    let j = await vm.ssh('sudo -n journalctl -b --no-pager -o short-monotonic', { timeoutMs: 120_000 });
    // Without sudo: what core may read (its own and, in group systemd-journal, the system journal).
    if (j.exitCode !== 0) j = await vm.ssh('journalctl -b --no-pager -o short-monotonic', { timeoutMs: 120_000 });
    if (j.exitCode === 0) {
      const p = join(outDir, 'journal.txt');
      writeFileSync(p, j.stdout);
      result.journal = p;
    }
  } catch {
    /* no journal */
  }
}

export { VmError };
