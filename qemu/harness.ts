/**
 * `fcos test`: a kola-style harness. Scenarios (test/scenarios/*.ts) say what they need and what they check; the
 * harness builds or finds the image, makes a per-run SSH key and puts it into the scenario's Ignition config, boots,
 * waits for SSH, runs the scenario's checks, then the machine checks every test gets (console failure patterns,
 * `systemctl is-system-running --wait`, `systemctl --failed`), and collects console.txt and journal.txt into
 * tmp/fcos-test/<scenario>/ (kola: tmp/kola/<test>/). With `parallel` > 1 (kola's --parallel) up to that many
 * scenarios run at once: every VM has its own ports and directory, and what the scenarios of a run share is made once
 * (the SSH key) or serialised (the baseline build) or pinned (builds/latest), see RunShared.
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
import { forwardedHostPort, injectSshKey, scenarioNetwork, type CheckResult, type IgnitionConfig, type Scenario, type ScenarioResult, type SetupContext, type TestContext, type TestReport } from './scenario.js';

export * from './scenario.js';

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
  /**
   * Run up to this many scenarios at once (kola's --parallel). Default 1: one after the other. The report lists the
   * scenarios in the order given either way.
   */
  parallel?: number;
}

/**
 * What the scenarios of one run share, safe for several at once: the baseline image is built by one scenario at a
 * time (two baseline scenarios starting together would both find no cache and mmdebstrap into the same directory; the
 * second then finds it done), and builds/latest is read once (a scenario that composes, `upgrade`, moves latest to a
 * build without images while the others may still be starting: every scenario of a run boots the same build).
 */
interface RunShared {
  baseline: () => Promise<BaselineImage>;
  latestImage: () => HarnessImage;
  /** Prefixes a log line with the scenario's name when scenarios run at once (their lines interleave). */
  tag: (s: Scenario) => string;
}

/** fn, one call at a time: a call starts when the previous one has settled. */
function serialised<T>(fn: () => Promise<T>): () => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return () => {
    const p = last.then(() => fn());
    last = p.catch(() => undefined);
    return p;
  };
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
  const parallel = opts.parallel ?? 1;
  if (!Number.isInteger(parallel) || parallel < 1) throw new BugError(`runScenarios: parallel must be an integer >= 1, not ${parallel}`);
  const scenarios = opts.scenarios;
  if (parallel > 1) {
    // Each scenario writes <outRoot>/<name>/ (overlays, console, QMP socket): the same name twice at once would share it.
    const twice = scenarios.map((s) => s.name).filter((n, i, all) => all.indexOf(n) !== i);
    if (twice.length) throw new UserError(`scenario ${twice[0]} is named twice`, 'name each scenario once with --parallel');
  }
  const outRoot = resolve(opts.outRoot ?? join('tmp', 'fcos-test'));
  mkdirSync(outRoot, { recursive: true });
  // One key for the run, made before any scenario starts (they only read it).
  const { key, pub } = await makeKey(join(outRoot, '.ssh'));
  let latest: HarnessImage | undefined;
  const shared: RunShared = {
    baseline: serialised(opts.baseline ?? (() => ensureBaseline())),
    latestImage: () => (latest ??= latestBuildImage(opts.buildsDir)),
    tag: (s) => (parallel > 1 ? `[${s.name}] ` : ''),
  };
  const results: ScenarioResult[] = new Array(scenarios.length);
  let next = 0;
  // A small worker pool: each worker takes the next scenario until none is left; none starts after an interrupt.
  const worker = async (): Promise<void> => {
    while (next < scenarios.length) {
      checkInterrupted();
      const i = next++;
      const s = scenarios[i]!;
      const tag = shared.tag(s);
      info(`${tag}==> scenario ${s.name}: ${s.description}`);
      const r = await runScenario(s, opts, outRoot, key, pub, shared);
      // Kept with the logs: every check with its time and detail (what a failed CI run is read from).
      writeFileSync(join(r.dir, 'result.json'), JSON.stringify(r, null, 2) + '\n');
      for (const c of r.checks) info(`${tag}    ${c.ok ? 'PASS' : 'FAIL'} ${c.name} (${c.seconds.toFixed(1)}s)${c.ok ? '' : `: ${(c.error ?? '').split('\n')[0]}`}`);
      info(`${tag}    scenario ${s.name}: ${r.ok ? 'PASS' : 'FAIL'} in ${r.seconds.toFixed(0)} s, ${r.boots} boot(s); logs in ${r.dir}`);
      results[i] = r;
    }
  };
  // Every worker ends (its scenario's VMs stopped and cleanups run) before an error, an interrupt among them, is thrown.
  const settled = await Promise.allSettled(Array.from({ length: Math.min(parallel, scenarios.length) }, () => worker()));
  checkInterrupted();
  const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed) throw failed.reason;
  const passed = results.filter((r) => r.ok).length;
  return { ok: passed === results.length, passed, failed: results.length - passed, scenarios: results };
}

/** One scenario's run: what its steps below share (the results, the HTTP servers and VMs to stop, the key). */
interface ScenarioRun {
  s: Scenario;
  opts: HarnessOptions;
  outDir: string;
  result: ScenarioResult;
  checks: CheckResult[];
  servers: Server[];
  vms: Vm[];
  /** The scenario's own state for this run (Scenario.state). */
  state: object;
  sshKey: string;
  sshPubKey: string;
  shared: RunShared;
  /** The VM settings every boot of this run shares (the image, the key, memory …), once the image is known. */
  common?: Omit<VmSpec, 'name' | 'dir'>;
}

async function runScenario(s: Scenario, opts: HarnessOptions, outRoot: string, harnessKey: string, harnessPub: string, shared: RunShared): Promise<ScenarioResult> {
  const t0 = Date.now();
  const outDir = join(outRoot, s.name);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const checks: CheckResult[] = [];
  const result: ScenarioResult = { name: s.name, ok: false, seconds: 0, boots: 0, dir: outDir, console: join(outDir, 'console.txt'), checks };
  const r: ScenarioRun = { s, opts, outDir, result, checks, servers: [], vms: [], state: s.state?.() ?? {}, sshKey: harnessKey, sshPubKey: harnessPub, shared };

  await withCleanup(async (cleanup) => {
    cleanup.push('stop the HTTP servers', () => {
      for (const sv of r.servers) sv.close();
    });
    try {
      await bootAndCheck(r, cleanup);
    } catch (e) {
      checks.push({ name: 'harness', ok: false, seconds: 0, error: errText(e) });
    } finally {
      await stopVms(r);
    }
  });
  // Boots are QEMU launches (a cold reboot or a power-on after a cut starts QEMU again), not what a scenario says.
  result.boots = r.vms.reduce((n, v) => n + v.launches, 0);
  // Launches started again after an early TCG kernel crash (Vm.earlyCrashes): counted in boots, named here.
  const early = r.vms.flatMap((v) => v.earlyCrashes.map((c) => `${v.spec.name}: ${c}`));
  if (early.length) result.earlyCrashes = early;
  result.seconds = (Date.now() - t0) / 1000;
  result.ok = checks.length > 0 && checks.every((c) => c.ok);
  return result;
}

/** Run one named check into the run's results; a failure is recorded, not thrown. Returns whether it passed. */
async function recordCheck(r: ScenarioRun, name: string, fn: () => Promise<string | void>): Promise<boolean> {
  const c0 = Date.now();
  try {
    const detail = await fn();
    r.checks.push({ name, ok: true, seconds: (Date.now() - c0) / 1000, ...(detail ? { detail } : {}) });
    return true;
  } catch (e) {
    r.checks.push({ name, ok: false, seconds: (Date.now() - c0) / 1000, error: errText(e) });
    return false;
  }
}

/** A host HTTP server for the guest (http://10.0.2.2:PORT/NAME), stopped at the end of the run. */
async function serveFiles(r: ScenarioRun, files: Record<string, string | Buffer>, onRequest?: (path: string) => void): Promise<{ port: number; url: (name: string) => string }> {
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
  r.servers.push(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { port, url: (name: string) => `http://10.0.2.2:${port}/${name}` };
}

/** A config with the run's SSH key, written into the scenario's directory; returns its path. */
function writeConfig(r: ScenarioRun, file: string, c: IgnitionConfig): string {
  const p = join(r.outDir, file);
  writeFileSync(p, JSON.stringify(injectSshKey(c, r.sshPubKey), null, 2) + '\n');
  return p;
}

async function buildFor(r: ScenarioRun, ignPath: string): Promise<HarnessImage> {
  const { opts, s } = r;
  return opts.build ? opts.build({ ignition: ignPath, firmware: s.needs.firmware ?? 'bios', buildsDir: opts.buildsDir }) : r.shared.latestImage();
}

/** 1. The image and the key: the baseline (its own key, direct kernel boot) or an fcos image for the scenario's config. */
async function prepareImage(r: ScenarioRun, cleanup: Cleanup): Promise<void> {
  const { s } = r;
  let base: Omit<VmSpec, 'name' | 'dir'>;
  if (s.needs.image === 'baseline') {
    const b = await r.shared.baseline();
    r.sshKey = b.sshKey;
    r.sshPubKey = readFileSync(b.sshKey + '.pub', 'utf8').trim();
    r.result.image = b.disk;
    base = {
      disk: { path: b.disk, format: b.diskFormat },
      kernelBoot: { kernel: b.kernel, initrd: b.initrd, append: [b.append, s.needs.appendKargs].filter(Boolean).join(' ') },
      ssh: { key: r.sshKey },
    };
  } else {
    const setup: SetupContext = { serve: (files, onRequest) => serveFiles(r, files, onRequest), outDir: r.outDir, state: r.state };
    const config = s.ignition ? await s.ignition(setup) : { ignition: { version: '3.3.0' } };
    const ign = writeConfig(r, 'config.ign', config);
    const img = await buildFor(r, ign);
    r.result.image = img.path;
    base = { disk: { path: img.path, format: img.format }, ignition: ign, firmware: s.needs.firmware, ssh: { key: r.sshKey } };
  }
  r.common = { ...base, memoryMiB: s.needs.memoryMiB, noReboot: s.needs.noReboot, cleanup };
}

/** Start a VM of the run's image (its network as the scenario needs it); killed at the end of the run. */
async function bootVm(r: ScenarioRun, name: string, dir: string, extra: Partial<VmSpec> = {}): Promise<Vm> {
  const { s } = r;
  if (!r.common) throw new BugError('bootVm before prepareImage');
  const hostPorts = await Promise.all((s.needs.forwardPorts ?? []).map(() => freePort()));
  const net = scenarioNetwork(s.needs, hostPorts);
  const vm = await Vm.start({ ...r.common, ...net, ...extra, name: `${s.name}-${name}`, dir, ignoreConsole: [...(s.ignoreConsole ?? []), ...(extra.ignoreConsole ?? [])] });
  r.vms.push(vm);
  return vm;
}

/** The image, the first boot and SSH, the scenario's checks, then the machine checks. */
async function bootAndCheck(r: ScenarioRun, cleanup: Cleanup): Promise<void> {
  await prepareImage(r, cleanup);
  // 2. First boot, SSH.
  const vm = await bootVm(r, '1', r.outDir);
  const sshTimeout = (r.opts.sshTimeoutSec ?? 600) * 1000;
  const up = await recordCheck(r, 'boot and reach SSH', async () => {
    await vm.waitForSsh(sshTimeout);
    return `SSH up (accel ${vm.accel})`;
  });
  if (!up) return noSsh(r, vm);
  // 3. The scenario's checks, under its time-out.
  await scenarioChecks(r, testContext(r, vm));
  // 4. Machine checks on the first VM (kola): the system settles, no failed units, no console failures.
  await machineChecks(r, vm);
}

/** SSH never came up: keep what there is (try SSH a little longer, ignoring console failures, for the journal). */
async function noSsh(r: ScenarioRun, vm: Vm): Promise<void> {
  await collectJournal(vm, r.outDir, r.result, 60_000);
  if (r.result.journal && !vm.exited) {
    // SSH came up after all: name the failed units in full (the console shortens them).
    await recordCheck(r, 'system is running (no failed units)', async () => {
      const units = (await vm.ssh('systemctl --failed --no-legend --plain --no-pager')).stdout.trim();
      if (units) throw new CheckError(`failed units:\n${units}`);
    });
  }
}

/** What a scenario's run() gets: the first VM, checks, more VMs, HTTP servers, its state. */
function testContext(r: ScenarioRun, vm: Vm): TestContext {
  const { s, outDir, opts } = r;
  return {
    scenario: s,
    vm,
    hostPort: (g) => forwardedHostPort(vm.spec, g),
    outDir,
    sshKey: r.sshKey,
    sshPubKey: r.sshPubKey,
    check: (name, fn) => recordCheck(r, name, fn),
    boot: async (o) => {
      const dir = join(outDir, o.name);
      mkdirSync(dir, { recursive: true });
      let extra: Partial<VmSpec> = { ignoreConsole: o.ignoreConsole };
      if (o.ignition) {
        const p = writeConfig(r, join(o.name, 'config.ign'), o.ignition);
        if (s.needs.image === 'fcos') {
          const img = opts.build ? await buildFor(r, p) : undefined;
          extra = { ...extra, ignition: p, ...(img ? { disk: { path: img.path, format: img.format } } : {}) };
        }
      }
      return bootVm(r, o.name, dir, extra);
    },
    serve: (files, onRequest) => serveFiles(r, files, onRequest),
    log: (m) => info(`${r.shared.tag(s)}    ${m}`),
    buildsDir: resolve(opts.buildsDir),
    state: r.state,
  };
}

/** The scenario's run() as one check, failed when it does not end within the scenario's time-out. */
async function scenarioChecks(r: ScenarioRun, ctx: TestContext): Promise<void> {
  const { s } = r;
  const timeoutMs = (s.timeoutMin ?? 10) * 60_000;
  let timer: NodeJS.Timeout | undefined;
  await recordCheck(r, 'scenario checks finished in time', () =>
    Promise.race([
      s.run(ctx).then(() => undefined),
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new CheckError(`scenario ${s.name} timed out after ${s.timeoutMin ?? 10} min`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer)),
  );
}

/** kola's machine checks on the first VM: the system settles with no failed unit; then the journal is collected. */
async function machineChecks(r: ScenarioRun, vm: Vm): Promise<void> {
  if (vm.exited) {
    // QEMU is gone (it died, or a scenario powered it off and left it off): the machine checks cannot run, and
    // a scenario whose machine cannot be checked has not passed.
    r.checks.push({
      name: 'system is running (no failed units)',
      ok: false,
      seconds: 0,
      error: `the VM was not running for the machine checks (${vm.failed ? errText(vm.failed).split('\n')[0] : 'QEMU exited'})`,
    });
    return;
  }
  await recordCheck(r, 'system is running (no failed units)', async () => {
    const st = await vm.ssh('timeout 300 systemctl is-system-running --wait', { timeoutMs: 320_000 });
    const state = st.stdout.trim();
    const failed = await vm.ssh('systemctl --failed --no-legend --plain --no-pager');
    const units = failed.stdout.trim();
    if (units) throw new CheckError(`failed units:\n${units}`);
    if (state !== 'running') throw new CheckError(`systemctl is-system-running: ${state || st.stderr.trim()}`);
    return state;
  });
  await collectJournal(vm, r.outDir, r.result, 30_000);
}

/** Kill every VM; the first VM's console failures are a check, every VM's go into console-failures.txt. */
async function stopVms(r: ScenarioRun): Promise<void> {
  // Console failures of every VM that was not expected to fail count (a VM's own check handles expected ones).
  for (const v of r.vms) {
    await v.kill().catch(() => undefined);
  }
  const seen = r.vms.flatMap((v) => v.scanner.failures.map((f) => ({ vm: v.spec.name, f })));
  const firstVm = r.vms[0];
  if (firstVm) {
    const own: ConsoleFailure[] = firstVm.scanner.failures;
    r.checks.push({
      name: 'console shows no failure',
      ok: own.length === 0,
      seconds: 0,
      ...(own.length ? { error: own.map(describeFailure).join('\n') } : {}),
    });
  }
  if (seen.length) writeFileSync(join(r.outDir, 'console-failures.txt'), seen.map((x) => `${x.vm}: ${describeFailure(x.f)}`).join('\n') + '\n');
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
