/**
 * bench/upgrade (issue #6, item 6; run by the bench/upgrade wrapper): what an upgrade costs for a one-package change, next to baselines from the same run.
 *
 *   1. v1: `fcos build` with examples/config.ign (the default manifest; a warm cache reuses the compose and the disk).
 *   2. v2: a full compose of the default manifest plus one small Debian package (`tree` unless --package), signed,
 *      with a static delta from v1. Printed: the delta's size next to the full commit's size (the archive objects a
 *      host without v1 would pull), and the ratio.
 *   3. One TCG VM on v1 (update.conf from Ignition points at the library server of `fcos serve`, STRATEGY=off):
 *      - baseline: a plain cold reboot (clean power-off, fresh QEMU on the same disk) until SSH answers;
 *      - measured: `fcos-update check`, `fcos-update upgrade --no-reboot`, the same cold reboot (the staged
 *        deployment is finalized during the power-off), until SSH answers and `fcos-update status` says v2.
 *      Printed: both times, the ratio, and the bytes the VM downloaded.
 * Not a test, not in CI. Usage: bench/upgrade [--builds DIR] [--package NAME] [--json] [--compose-only] [--reuse]
 *   --compose-only: stop after the sizes; --reuse: the newest build is a previous run's v2, measure the VM part only
 *   (default builds dir: tmp/fcos-bench-upgrade/builds; it is kept between runs)
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../lib/version.js';
import { run } from '../lib/run.js';
import type { ComposeResult } from '../ostree/compose.js';
import { derivedManifest } from '../ostree/manifest.js';
import { readBuildsJson, readLatestBuild, readMeta, resetToImagedBuild, type LatestBuild } from '../ostree/builds.js';
import { startUpdateServer } from '../ostree/updates/serve.js';
import { runScenarios, type Scenario, type TestContext } from '../qemu/harness.js';
import { parseStatus } from '../test/scenarios/upgrade.js';
import { composeManifest, updateServerSetup, type UpgradeState } from '../test/scenarios/upgrade-run.js';
import { CheckError, UserError } from '../lib/errors.js';
import { benchMain, UsageError } from './main.js';

interface Result {
  package: string;
  v1: string;
  v2: string;
  compose2Seconds: number;
  deltaBytes: number;
  fullCommitBytes: number;
  deltaRatio: number;
  plainRebootSeconds: number;
  checkToBootedSeconds: number;
  timeRatio: number;
  downloadedBytes: number;
  downloadedDeltaBytes: number;
}

type V2 = Pick<ComposeResult, 'version' | 'commit' | 'parent' | 'seconds' | 'deltaSize'>;

/** What the VM part measured. */
interface Times {
  plain: number;
  upgrade: number;
  bytes: number;
  deltaBytes: number;
}

/** Bytes of the archive objects of a commit (what a pull without any previous commit downloads, less HTTP overhead). */
async function commitObjectBytes(repo: string, commit: string): Promise<number> {
  const ls = (await run('ostree', ['ls', `--repo=${repo}`, '-R', '-C', commit], { purpose: 'list the commit' })).stdout;
  const seen = new Set<string>();
  let total = 0;
  const add = (csum: string, ext: string) => {
    const key = `${csum}.${ext}`;
    if (seen.has(key)) return;
    seen.add(key);
    const p = join(repo, 'objects', csum.slice(0, 2), `${csum.slice(2)}.${ext}`);
    if (existsSync(p)) total += statSync(p).size;
  };
  add(commit, 'commit');
  for (const line of ls.split('\n')) {
    // d00755 0 0 0 <contents> <meta> /path   |   -00644 0 0 123 <checksum> /path   |   l00777 0 0 0 <checksum> /path -> target
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    if (f[0]!.startsWith('d')) {
      add(f[4]!, 'dirtree');
      add(f[5]!, 'dirmeta');
    } else {
      add(f[4]!, 'filez');
    }
  }
  return total;
}

const say = (s: string) => process.stderr.write(`bench/upgrade: ${s}\n`);

/** --reuse: the newest build is a previous run's v2 (it has the package and a delta from its parent, v1). */
function reusedVersions(B: string, latest: LatestBuild): { v1: LatestBuild; v2: V2 } {
  const parentId = readBuildsJson(B).builds.map((b) => b.id).find((id) => readMeta(join(B, id))['ostree-commit'] === latest.meta['ostree-parent']);
  if (!parentId) throw new UserError(`--reuse: no build for ${latest.meta['ostree-parent']}`);
  const v1 = { ...latest, id: parentId, meta: readMeta(join(B, parentId)) } as LatestBuild;
  const delta = latest.meta['fcos.delta'] as { size: number };
  const v2 = { version: latest.meta['ostree-version'], commit: latest.meta['ostree-commit'], parent: latest.meta['ostree-parent'], seconds: 0, deltaSize: delta.size };
  say(`--reuse: v1 ${v1.meta['ostree-version']}, v2 ${v2.version}`);
  return { v1, v2 };
}

/** v1 (`fcos build`: composed and imaged, or reused), then v2 = v1 + one package (a full compose). */
async function builtVersions(B: string, out: string, pkg: string): Promise<{ v1: LatestBuild; v2: V2 }> {
  const root = projectRoot();
  await resetToImagedBuild(B);
  say(`v1: fcos build in ${B}`);
  await run(join(root, 'bin', 'fcos'), ['build', '--ignition', join(root, 'examples', 'config.ign'), '--builds', B], { purpose: 'build v1 (fcos build)', timeoutMs: 60 * 60_000 });
  const v1 = readLatestBuild(B);
  if (!v1) throw new UserError(`no build in ${B}`, 'run fcos compose and fcos build first');
  say(`v2: full compose with one more package (${pkg}); minutes`);
  const v2 = await composeManifest(derivedManifest(join(out, 'manifest-v2'), { packages: [pkg] }), B, v1.meta['source-date-epoch'], 'compose v2');
  return { v1, v2 };
}

/** The VM part: a plain cold reboot, then check → upgrade → cold reboot into v2 (the harness runs it). */
function vmScenario(B: string, v1: LatestBuild, v2: V2, times: Times): Scenario<UpgradeState> {
  return {
    name: 'upgrade-bench',
    description: 'bench/upgrade: a plain cold reboot, then check → upgrade → cold reboot into v2',
    needs: { image: 'fcos', noReboot: true },
    explicit: true,
    boots: 3,
    timeoutMin: 60,
    ...updateServerSetup(),
    run: (ctx) => vmChecks(ctx, B, v1, v2, times),
  };
}

async function vmChecks(ctx: TestContext<UpgradeState>, B: string, v1: LatestBuild, v2: V2, times: Times): Promise<void> {
  const vm = ctx.vm;
  const server = await startUpdateServer({ buildsDir: B, host: '127.0.0.1', port: ctx.state.port });
  try {
    const status = async () => parseStatus(await vm.sshOk('sudo fcos-update status'));
    const settled = async () => {
      // The boot's start jobs done (the health service runs last), so that both measurements start alike.
      await vm.sshOk('for i in $(seq 1 300); do s=$(systemctl is-active fcos-update-health.service); [ "$s" = active ] || [ "$s" = failed ] && exit 0; sleep 2; done; exit 1', { timeoutMs: 15 * 60_000 });
    };
    await ctx.check('v1 booted', async () => {
      await settled();
      const st = await status();
      if (st.Booted !== v1.meta['ostree-version']) throw new CheckError(`booted ${st.Booted}, want ${v1.meta['ostree-version']}`);
      return `booted ${st.Booted}`;
    });
    await ctx.check('baseline: a plain cold reboot until SSH answers', async () => {
      const t0 = Date.now();
      await vm.reboot(15 * 60_000, { cold: true });
      times.plain = (Date.now() - t0) / 1000;
      await settled();
      return `${times.plain.toFixed(1)} s`;
    });
    await ctx.check('check → upgrade → cold reboot until SSH answers on v2', async () => {
      server.resetStats();
      const t0 = Date.now();
      const chk = await vm.sshOk('sudo fcos-update check');
      if (!chk.includes(`update available: ${v2.version}`)) throw new CheckError(chk);
      await vm.sshOk('sudo fcos-update upgrade --no-reboot', { timeoutMs: 30 * 60_000 });
      await vm.reboot(15 * 60_000, { cold: true });
      const st = await status();
      times.upgrade = (Date.now() - t0) / 1000;
      if (st.Booted !== v2.version) throw new CheckError(`booted ${st.Booted}, want ${v2.version}`);
      times.bytes = server.stats.bytes;
      times.deltaBytes = server.stats.deltaBytes;
      return `${times.upgrade.toFixed(1)} s; downloaded ${times.bytes} bytes (${times.deltaBytes} in delta files)`;
    });
  } finally {
    await server.close();
  }
}

/** Boot v1's disk image (latest is v2 now, which has none) and run the VM part. */
async function measureVm(B: string, out: string, v1: LatestBuild, v2: V2): Promise<Times> {
  const times: Times = { plain: 0, upgrade: 0, bytes: 0, deltaBytes: 0 };
  const rel = v1.meta.images?.qemu?.path;
  if (!rel) throw new UserError(`v1 (${v1.meta['ostree-version']}) has no qemu image`, 'run fcos build');
  const v1Image = isAbsolute(rel) ? rel : join(B, v1.meta.buildid ?? v1.meta['ostree-version'], rel);
  const report = await runScenarios({
    scenarios: [vmScenario(B, v1, v2, times)],
    buildsDir: B,
    outRoot: out,
    build: async () => ({ path: v1Image, format: v1Image.endsWith('.qcow2') ? 'qcow2' : 'raw' }),
  });
  const s = report.scenarios[0]!;
  if (!report.ok) {
    for (const c of s.checks) if (!c.ok) say(`FAIL ${c.name}: ${c.error}`);
    throw new CheckError(`the VM part failed (logs in ${s.dir})`);
  }
  return times;
}

function render(r: Result): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  return [
    `one-package change: ${r.v1} → ${r.v2} (+${r.package}, full compose ${r.compose2Seconds} s)`,
    `  static delta       ${mb(r.deltaBytes).padStart(10)}   (${r.deltaBytes} bytes)`,
    `  full commit        ${mb(r.fullCommitBytes).padStart(10)}   (${r.fullCommitBytes} bytes of archive objects)`,
    `  delta / full       ${(r.deltaRatio * 100).toFixed(1).padStart(9)} %`,
    `  VM downloaded      ${mb(r.downloadedBytes).padStart(10)}   (${r.downloadedDeltaBytes} bytes in delta files)`,
    `TCG, same VM, cold reboots (clean power-off, fresh QEMU):`,
    `  plain reboot → SSH                      ${r.plainRebootSeconds.toFixed(1).padStart(7)} s`,
    `  check → upgrade → reboot → SSH on v2    ${r.checkToBootedSeconds.toFixed(1).padStart(7)} s`,
    `  ratio                                   ${r.timeRatio.toFixed(2).padStart(7)} x`,
    '',
  ].join('\n');
}

benchMain('bench/upgrade', import.meta.url, async () => {
  const { values } = parseArgs({
    options: {
      builds: { type: 'string' },
      package: { type: 'string', default: 'tree' },
      json: { type: 'boolean', default: false },
      'compose-only': { type: 'boolean', default: false },
      reuse: { type: 'boolean', default: false },
    },
  });
  const B = resolve(values.builds ?? join(projectRoot(), 'tmp', 'fcos-bench-upgrade', 'builds'));
  const out = join(B, '..', 'out');
  const pkg = values.package;
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(pkg)) throw new UsageError(`not a Debian package name: ${pkg}`);
  mkdirSync(B, { recursive: true });
  const latest = readLatestBuild(B);
  const reuse = values.reuse && latest?.meta['ostree-parent'] && latest.meta.packages?.[pkg] && latest.meta['fcos.delta'];
  const { v1, v2 } = reuse ? reusedVersions(B, latest!) : await builtVersions(B, out, pkg);
  if (v2.parent !== v1.meta['ostree-commit']) throw new CheckError(`v2's parent is ${v2.parent}, not v1 ${v1.meta['ostree-commit']}`);
  if (!v2.deltaSize) throw new CheckError('v2 has no static delta');
  const full = await commitObjectBytes(join(B, 'repo'), v2.commit);
  say(`delta ${v2.deltaSize} bytes, full commit ${full} bytes of archive objects (v2 composed in ${Math.round(v2.seconds)} s)`);
  if (values['compose-only']) return;
  const times = await measureVm(B, out, v1, v2);
  const r: Result = {
    package: pkg,
    v1: v1.meta['ostree-version'],
    v2: v2.version,
    compose2Seconds: Math.round(v2.seconds),
    deltaBytes: v2.deltaSize,
    fullCommitBytes: full,
    deltaRatio: v2.deltaSize / full,
    plainRebootSeconds: times.plain,
    checkToBootedSeconds: times.upgrade,
    timeRatio: times.upgrade / times.plain,
    downloadedBytes: times.bytes,
    downloadedDeltaBytes: times.deltaBytes,
  };
  return values.json ? JSON.stringify(r, null, 2) : render(r);
});
