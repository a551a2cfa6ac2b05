/**
 * What the e2e files share: the real CLI (`bin/fcos`), the README's main job (`fcos build` of examples/config.ign
 * into a builds dir kept between runs) and `fcos test <scenario> --json` with its report checked.
 */
import { expect } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { forkBuildsDir, type BuildMeta } from '../../ostree/builds.js';
import { cacheDir } from '../../lib/paths.js';

export const ROOT = resolve(__dirname, '../..');
export const FCOS = join(ROOT, 'bin', 'fcos');
export const EXAMPLE_CONFIG = join(ROOT, 'examples', 'config.ign');

/**
 * The builds dirs kept between runs, under the one cache dir ($FCOS_CACHE_DIR, /var/cache/fcos for root) next to
 * the Debian packages, Go modules and kubelet: a warm CI reuses their compose, an emptied cache makes a cold run.
 * The boot, cluster and PXE tests share one (the default image); the upgrade and build tests work in forks of it
 * (forkDefaultBuild), so a run composes the default manifest once.
 */
export const BOOT_BUILDS = process.env.FCOS_E2E_BOOT_BUILDS ?? join(cacheDir('e2e'), 'boot-builds');
export const UPGRADE_BUILDS = process.env.FCOS_E2E_UPGRADE_BUILDS ?? join(cacheDir('e2e'), 'upgrade-builds');

export interface ScenarioResult {
  name: string;
  ok: boolean;
  boots: number;
  earlyCrashes?: string[];
  seconds: number;
  checks: { name: string; ok: boolean; error?: string; detail?: string }[];
}

/**
 * `fcos build --ignition examples/config.ign` into builds (extra arguments, e.g. `--format all`, appended); throws
 * with the stderr tail when it fails. Returns the new latest build's meta.json, whose qemu image must exist.
 */
export async function buildDefaultImage(builds: string, extra: string[] = []): Promise<BuildMeta> {
  const r = await execa(FCOS, ['build', '--ignition', EXAMPLE_CONFIG, '--builds', builds, ...extra, '--json'], { reject: false });
  if (r.exitCode !== 0) throw new Error(`fcos build failed (exit ${r.exitCode}):\n${r.stderr.slice(-4000)}`);
  const meta = JSON.parse(readFileSync(join(builds, 'latest', 'meta.json'), 'utf8')) as BuildMeta;
  const qemu = meta.images?.qemu;
  expect(qemu, 'meta.json images.qemu').toBeDefined();
  expect(existsSync(join(builds, 'latest', qemu!.path))).toBe(true);
  return meta;
}

/**
 * The run's one compose of the default manifest, in BOOT_BUILDS: `fcos compose` there (nothing to do when its
 * inputs are unchanged, which is every warm run), then `forkBuildsDir` gives a file a builds dir of its own that
 * starts from it (repo hard-linked, no second compose). With `images`, the default image is built (or reused: same
 * compose, config and image code) first and linked into the fork too.
 */
export async function forkDefaultBuild(dst: string, o: { images?: boolean } = {}): Promise<BuildMeta> {
  mkdirSync(BOOT_BUILDS, { recursive: true });
  if (o.images) await buildDefaultImage(BOOT_BUILDS);
  else {
    const r = await execa(FCOS, ['compose', '--builds', BOOT_BUILDS, '--json'], { reject: false });
    if (r.exitCode !== 0) throw new Error(`fcos compose failed (exit ${r.exitCode}):\n${r.stderr.slice(-4000)}`);
  }
  return (await forkBuildsDir(BOOT_BUILDS, dst, o)).meta;
}

/**
 * `fcos test <name> --json`: the scenario's report must say ok with no failed check (the failed ones are listed,
 * with the logs' directory), and the command must exit 0. Returns the scenario's result for further checks.
 */
export async function runScenario(name: string, o: { builds: string; out: string }): Promise<ScenarioResult> {
  return expectPassed(await testRun([name], o), name);
}

/** One `fcos test NAMES… --json` run: its report, exit status and stderr (what expectPassed checks a scenario of). */
export interface TestRun {
  names: string[];
  report: { ok: boolean; scenarios: ScenarioResult[] };
  exitCode: number | undefined;
  stderr: string;
  out: string;
}

/**
 * `fcos test NAMES… --json` once (with `parallel`: `--parallel N`, the scenarios at once); throws when it printed no
 * JSON report. Each scenario's result is checked apart with expectPassed, so that one failing does not fail the others.
 */
export async function testRun(names: string[], o: { builds: string; out: string; parallel?: number }): Promise<TestRun> {
  const args = ['test', ...names, '--builds', o.builds, '--out', o.out, ...(o.parallel ? ['--parallel', String(o.parallel)] : []), '--json'];
  const r = await execa(FCOS, args, { reject: false });
  let report: TestRun['report'];
  try {
    report = JSON.parse(r.stdout) as TestRun['report'];
  } catch {
    throw new Error(`fcos ${args.join(' ')} printed no JSON report (exit ${r.exitCode}):\n${r.stderr.slice(-3000)}`);
  }
  return { names, report, exitCode: r.exitCode, stderr: r.stderr, out: o.out };
}

/**
 * A scenario of a test run passed: its report says ok with no failed check (the failed ones are listed, with the
 * logs' directory), and the exit status is the report's: 0 when every scenario of the run passed (so always for a run of
 * this one), 1 otherwise (another scenario's failure is that scenario's test's to report). Returns the scenario's result for further checks.
 */
export function expectPassed(run: TestRun, name: string): ScenarioResult {
  const { report } = run;
  const s = report.scenarios.find((x) => x.name === name);
  if (!s) throw new Error(`fcos test ${run.names.join(' ')}: no result for ${name} in the report`);
  const failed = s.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error}`);
  expect(failed, `failed checks of ${name} (logs in ${join(run.out, name)})`).toEqual([]);
  expect(s.ok).toBe(true);
  // The scenarios in the order given, each once.
  expect(report.scenarios.map((x) => x.name)).toEqual(run.names);
  expect(run.exitCode, `exit status of fcos test ${run.names.join(' ')} (report ok: ${report.ok})`).toBe(report.ok ? 0 : 1);
  return s;
}

/** A scenario's boots without the launches started again after an early TCG kernel crash (Vm.earlyCrashes). */
export function plannedBoots(s: ScenarioResult): number {
  return s.boots - (s.earlyCrashes?.length ?? 0);
}
