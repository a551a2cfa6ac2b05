/**
 * The upgrade scenario's run (test/scenarios/upgrade.ts): what its steps share (UpgradeRun, one per run), the
 * versions' constants, `fcos-update status` read over SSH, and the composes of v2…v5 (`fcos compose` processes).
 */
import { renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { IgnitionConfig, Scenario, TestContext } from '../../qemu/harness.js';
import type { Vm } from '../../qemu/vm.js';
import type { ComposeResult } from '../../ostree/compose.js';
import { derivedManifest } from '../../ostree/manifest.js';
import { forkBuildsDir, type LatestBuild } from '../../ostree/builds.js';
import { startUpdateServer, type UpdateServer } from '../../ostree/updates/serve.js';
import { run } from '../../lib/run.js';
import { projectRoot } from '../../lib/version.js';
import { guestFile } from './guest.js';
import { CheckError } from '../../lib/errors.js';

export const BROKEN_CHECK = '/usr/lib/fcos/health.d/50-fcos-test-broken';
/** v3's broken check waits (up to 50 s) for the test to record the trial boot over SSH, then fails. */
export const TRIAL_SEEN = '/run/fcos-test-trial-seen';
/** v3's broken health check (guest/upgrade-broken-check.sh): waits for TRIAL_SEEN, then fails. */
export function brokenScript(): string {
  return guestFile('upgrade-broken-check.sh');
}
/** ostree's messages (libostree 2025.x) for the refused updates, as fcos-update records them in "Last error". */
export const OSTREE_ERR = {
  unsigned: /GPG verification enabled, but no signatures found \(use gpg-verify=false in remote config to disable\)/,
  wrongKey: /Can't check signature: public key not found/,
  corrupt: /Corrupted dirtree object; checksum expected='[0-9a-f]{64}' actual='[0-9a-f]{64}'/,
};
/**
 * Boot tries of a new deployment (the image's default is 3). 1 here: one trial boot of v3 (GRUB's decrement 1 → 0),
 * then GRUB's fallback (0 → -1, the previous entry); both branches of 08_fcos_bootcount run, and every extra try
 * would cost a TCG boot without a new path (test/guest/bootcount.bats covers the counter from 9 down).
 */
export const TRIES = 1;

/** Extra files in v5, so that its pull (served slowly) can be cut in the middle. */
export const PULL_FILES = 24;

export type Files = Record<string, { text: string; mode: number }>;

/** What ignition() hands to run(): the update server's port (the config carries its URL). */
export interface UpgradeState {
  port: number;
}

/** One run of the scenario: what its steps share. */
export interface UpgradeRun {
  ctx: TestContext<UpgradeState>;
  vm: Vm;
  v1: LatestBuild;
  /** v1's SOURCE_DATE_EPOCH, for every later compose. */
  sde: number;
  srv: UpdateServer;
  /** The builds dir the server serves: a symlink to the published version's (publish()). */
  served: string;
  /** The served repo (through the symlink). */
  repo: string;
  /** The versions' composes (composeAhead), and the whole chain's end. */
  ahead: Record<string, Promise<ComposeResult>>;
  composing?: Promise<void>;
  /** File objects (.filez) the server sent since the last reset. */
  counts: { objectFiles: number };
  /** The version the VM runs from the fallback on: v1, the deployment it booted before v3 was staged. */
  home: { version: string; commit: string };
  v2?: ComposeResult;
  v3?: ComposeResult;
  v4?: ComposeResult;
  v5?: ComposeResult;
}

export function dataUrl(s: string): string {
  return `data:,${encodeURIComponent(s)}`;
}

/** `fcos-update status` as key → value (the "Key: value" lines). */
export function parseStatus(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split('\n')) {
    const m = /^([A-Z][A-Za-z ]+): (.*)$/.exec(l);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export async function status(vm: Vm): Promise<Record<string, string>> {
  return parseStatus(await vm.sshOk('sudo fcos-update status'));
}

/** Wait until fcos-update-health.service finished on this boot (active: healthy or handled). */
export async function waitHealth(vm: Vm, timeoutMs = 6 * 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    last = (await vm.ssh('systemctl is-active fcos-update-health.service', { timeoutMs: 30_000 }).catch(() => undefined))?.stdout.trim() ?? '';
    if (last === 'active') return;
    if (last === 'failed') {
      const j = await vm.ssh('sudo journalctl -b -u fcos-update-health.service --no-pager -o cat | tail -n 20');
      throw new CheckError(`fcos-update-health.service failed:\n${j.stdout}`);
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
  throw new CheckError(`fcos-update-health.service did not finish (state ${last})`);
}

/** The environment of the scenario's composes: v1's SOURCE_DATE_EPOCH, and v1's package indexes (a week old at most). */
export function composeEnv(sde: number, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { SOURCE_DATE_EPOCH: String(sde), FCOS_APT_MAX_AGE: env.FCOS_APT_MAX_AGE ?? String(7 * 24 * 3600) };
}

/**
 * `fcos compose` of a manifest into a builds dir, as a process of its own with the given SOURCE_DATE_EPOCH and
 * package-index age in its environment (composeEnv); returns its --json result.
 */
export async function composeManifest(manifest: string, buildsDir: string, sde: number, label: string): Promise<ComposeResult> {
  const out = await run(join(projectRoot(), 'bin', 'fcos'), ['compose', '--manifest', manifest, '--builds', buildsDir, '--json'], {
    env: composeEnv(sde),
    purpose: label,
    progress: label,
    // On Ctrl-C the compose gets SIGTERM and unwinds (unmounts, work dir, lock): give it time before SIGKILL.
    killGraceMs: 120_000,
  });
  return JSON.parse(out.stdout) as ComposeResult;
}

/** The builds dir a version is composed into: a fork of the previous version's (ctx.outDir/versions/NAME). */
export function versionDir(r: Pick<UpgradeRun, 'ctx'>, name: string): string {
  return join(r.ctx.outDir, 'versions', name);
}

/**
 * Compose the versions one after the other, in the background from the start of the run (the composes overlap the
 * first boot and the checks; 60-70 s of composes were on the critical path before): each into its own fork of the
 * previous version's builds dir (forkBuildsDir: hard-linked repo, same signing key), from a derived manifest with
 * the same package indexes and SOURCE_DATE_EPOCH as v1, so that only the overlay differs (a layered compose whose
 * parent is the previous version). Nothing is served until publish(). Returns one promise per version (a failed
 * compose rejects it and every later one); r.composing settles when the chain is done.
 */
export function composeAhead(r: UpgradeRun, plan: readonly (readonly [string, Files])[]): Record<string, Promise<ComposeResult>> {
  const { ctx } = r;
  const settle: Record<string, { ok: (c: ComposeResult) => void; fail: (e: unknown) => void }> = {};
  const out: Record<string, Promise<ComposeResult>> = {};
  for (const [name] of plan) {
    out[name] = new Promise<ComposeResult>((ok, fail) => (settle[name] = { ok, fail }));
    out[name].catch(() => undefined); // rejections are seen by the check that awaits the version
  }
  r.composing = (async () => {
    let prev = ctx.buildsDir;
    for (let i = 0; i < plan.length; i++) {
      const [name, files] = plan[i]!;
      try {
        const dir = versionDir(r, name);
        await forkBuildsDir(prev, dir);
        const c = await composeManifest(derivedManifest(join(ctx.outDir, 'manifests', name), { files }), dir, r.sde, `compose ${name}`);
        ctx.log(`composed ${name} = ${c.version} (${c.kind}, ${c.seconds.toFixed(0)} s, delta ${c.deltaSize ?? 0} bytes) in ${dir}`);
        settle[name]!.ok(c);
        prev = dir;
      } catch (e) {
        for (const [later] of plan.slice(i)) settle[later]!.fail(e);
        return;
      }
    }
  })();
  return out;
}

/**
 * Publish a version: the update server serves r.served, a symlink switched (atomically: a new link renamed over it)
 * to the version's builds dir once its compose is done. r.repo (the served repo) follows it.
 */
export async function publish(r: UpgradeRun, name: string): Promise<ComposeResult> {
  const c = await r.ahead[name]!;
  pointAt(r.served, versionDir(r, name));
  return c;
}

/** Make `link` a symlink to `target`, replacing what was there in one rename. */
export function pointAt(link: string, target: string): void {
  const tmp = `${link}.new`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, link);
}

export function eqOrThrow(what: string, got: string | undefined, want: string): void {
  if (got !== want) throw new CheckError(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

/** A cold reboot (the VM runs with -no-reboot), then the health checks of the new boot. */
export async function reboot(vm: Vm): Promise<void> {
  await vm.reboot(10 * 60_000, { cold: true });
  await waitHealth(vm);
}

/** A free port for the update server that run() starts later, once the repo exists (the config carries its URL). */
export async function updateServerPort(): Promise<number> {
  const probe = await startUpdateServer({ buildsDir: '/nonexistent', host: '127.0.0.1', allowMissingRepo: true });
  const port = probe.port;
  await probe.close();
  return port;
}

/** A config whose /etc/fcos/update.conf points at the update server on the host (the test drives every step). */
export function updateConfig(port: number, extra = ''): IgnitionConfig {
  const conf = `URL=http://10.0.2.2:${port}/repo\nSTRATEGY=off\n${extra}`;
  return {
    ignition: { version: '3.3.0' },
    storage: { files: [{ path: '/etc/fcos/update.conf', mode: 0o644, overwrite: true, contents: { source: dataUrl(conf) } }] },
  } as IgnitionConfig;
}

/**
 * state() and ignition() of a scenario that upgrades from the update server on the host: a free port for the server
 * run() starts (ctx.state.port), and the config's update.conf pointing at it (with `extra` lines).
 */
export function updateServerSetup(extra = ''): Required<Pick<Scenario<UpgradeState>, 'state' | 'ignition'>> {
  return {
    state: () => ({ port: 0 }),
    async ignition(ctx) {
      ctx.state.port = await updateServerPort();
      return updateConfig(ctx.state.port, extra);
    },
  };
}

