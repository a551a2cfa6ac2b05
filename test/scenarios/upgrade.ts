/**
 * Scenario `upgrade` (issue #6): transactional upgrades and automatic rollback, on one VM and its disk.
 *
 *   v1  the image under test (builds/latest), with /etc/fcos/update.conf from Ignition pointing at `fcos serve`
 *       (the library server, started here) and STRATEGY=off (the test drives every step)
 * v2…v5 are composed in the background from the start (layers, each in a fork of the previous version's builds dir
 * under the run's directory) and published in turn: the server serves a symlink switched to the version's builds dir.
 *
 *   v2  composed here (layered: one more file), signed, with a static delta → check, upgrade, cold reboot:
 *       v2 booted, v1 rollback, an /etc edit kept, the pull used the delta (server byte counts)
 *   rollback → v1; `fcos-update upgrade` stages v2 again (no reboot: the next step stages over it)
 *   v3  ships a required health check that fails; staged over the staged v2 → TRIES trial boots (the guest reboots
 *       itself; QEMU runs with -no-reboot and is powered on again, a cold boot), then GRUB boots v1, the deployment
 *       the VM ran before: v1 booted and default, counter cleared, the reason recorded
 *   v4  unsigned → refused; then signed only with another key → refused (the VM stays on v1, the refusal is in
 *       `fcos-update status` each time)
 *   v5  good, but one object (its root dirtree) tampered with in the served repo → refused; the object is restored
 *   power cuts (SIGKILL of QEMU, then a cold boot on the same disk) during an upgrade v1 → v5:
 *       - during the pull (the server holds each object 1.5 s; the cut comes after the 2nd file object): v1 boots
 *       - during the staging (`ostree admin deploy --stage` frozen with SIGSTOP 1 s into its work): v1 boots
 *       - during the finalization at shutdown (a drop-in, only in this test, freezes `ostree admin finalize-staged`
 *         0.3 s into its work and prints a console line; the cut comes on that line): v1 or v5 boots
 *       each time: the expected version is booted and healthy, `ostree admin status` shows it; after the three,
 *       `ostree fsck` of the whole repo is clean (once: ostree never rewrites an object it has, so an object an
 *       earlier cut left corrupt is still there to be found; a full fsck under TCG costs minutes)
 * Boots: v1, v2, v1, v3 × TRIES (1; the image's default is 3), v1, 3 after power cuts = 8.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Scenario } from '../../qemu/harness.js';
import type { Vm } from '../../qemu/vm.js';
import type { ComposeResult } from '../../ostree/compose.js';
import { readLatestBuild } from '../../ostree/builds.js';
import { startUpdateServer } from '../../ostree/updates/serve.js';
import { deltaDir } from '../../ostree/updates/publish.js';
import { commitSignatures, generateKey, signCommit } from '../../ostree/updates/sign.js';
import { updateSummary } from '../../ostree/repo.js';
import { run } from '../../lib/run.js';
import { bootedDeployments } from './ostree-status.js';
import { powerCuts } from './upgrade-power-cuts.js';
import {
  brokenScript,
  BROKEN_CHECK,
  composeAhead,
  eqOrThrow,
  OSTREE_ERR,
  PULL_FILES,
  pointAt,
  publish,
  reboot,
  status,
  TRIAL_SEEN,
  TRIES,
  updateServerSetup,
  waitHealth,
  type Files,
  type UpgradeRun,
  type UpgradeState,
} from './upgrade-run.js';
import { CheckError, UserError } from '../../lib/errors.js';

export { brokenScript, composeEnv, OSTREE_ERR, parseStatus, TRIAL_SEEN } from './upgrade-run.js';

export const upgrade: Scenario<UpgradeState> = {
  name: 'upgrade',
  description: 'v1 → v2 with a static delta, manual rollback, automatic rollback of a broken v3, unsigned/wrongly signed/tampered updates refused, power cuts during pull, staging and finalization',
  needs: { image: 'fcos', noReboot: true },
  explicit: true,
  boots: 9,
  timeoutMin: 110,
  ...updateServerSetup(`HEALTH_TIMEOUT=60\nBOOT_TRIES=${TRIES}\n`),
  async run(ctx) {
    const v1 = readLatestBuild(ctx.buildsDir);
    if (!v1) throw new UserError(`no build in ${ctx.buildsDir}`, 'run fcos compose and fcos build first');
    const counts = { objectFiles: 0 };
    // The server serves a symlink: v1's builds dir now, each version's own once the test publishes it.
    const served = join(ctx.outDir, 'served');
    rmSync(join(ctx.outDir, 'versions'), { recursive: true, force: true });
    mkdirSync(join(ctx.outDir, 'versions'), { recursive: true });
    pointAt(served, resolve(ctx.buildsDir));
    const srv = await startUpdateServer({
      buildsDir: served,
      host: '127.0.0.1',
      port: ctx.state.port,
      onRequest: (q) => {
        if (q.status === 200 && q.path.endsWith('.filez')) counts.objectFiles++;
      },
    });
    const r: UpgradeRun = {
      ctx,
      vm: ctx.vm,
      v1,
      sde: v1.meta['source-date-epoch'],
      srv,
      served,
      repo: join(served, 'repo'),
      ahead: {},
      counts,
      home: { version: v1.meta['ostree-version'], commit: v1.meta['ostree-commit'] },
    };
    // v2…v5 composed in the background from now on (each a layer on the one before, in a fork of its builds dir).
    r.ahead = composeAhead(r, [
      ['v2', v2Files()],
      ['v3', v3Files()],
      ['v4', v4Files()],
      ['v5', v5Files()],
    ]);
    try {
      if (!(await upgradeToV2(r))) return;
      if (!(await rollbackAndStageAgain(r))) return;
      if (!(await brokenV3FallsBack(r))) return;
      if (!(await badUpdatesRefused(r))) return;
      await powerCuts(r);
    } finally {
      await srv.close();
      await r.composing; // never rejects: a failed compose rejects its version's promise
    }
  },
};

/* ---------- 1. v1 → v2 ---------- */

async function upgradeToV2(r: UpgradeRun): Promise<boolean> {
  const { ctx, vm, v1, srv } = r;
  const up1 = await ctx.check('v1 booted and healthy', async () => {
    await waitHealth(vm);
    const st = await status(vm);
    eqOrThrow('Booted', st.Booted, v1.meta['ostree-version']);
    eqOrThrow('Boot counter', st['Boot counter'], 'none');
    return `booted ${st.Booted}`;
  });
  if (!up1) return false;
  const composed2 = await ctx.check('compose v2 (one more file): layered, signed, with a static delta', async () => {
    const v2 = (r.v2 = await publish(r, 'v2'));
    if (v2.kind !== 'layered') throw new CheckError(`expected a layered compose, got ${v2.kind}`);
    eqOrThrow('parent', v2.parent, v1.meta['ostree-commit']);
    if (!v2.deltaSize) throw new CheckError('no static delta');
    return `${v2.version}: delta ${v2.deltaSize} bytes`;
  });
  const v2 = r.v2;
  if (!composed2 || !v2) return false;
  await ctx.check('fcos-update check sees v2', async () => {
    await vm.sshOk('echo kept-across-upgrades | sudo tee /etc/fcos-upgrade-test >/dev/null');
    const out = await vm.sshOk('sudo fcos-update check');
    if (!out.includes(`update available: ${v2.version}`)) throw new CheckError(out);
    return out.trim();
  });
  srv.resetStats();
  const staged2 = await ctx.check('fcos-update upgrade stages v2 from the static delta', async () => {
    const out = await vm.sshOk('sudo fcos-update upgrade --no-reboot', { timeoutMs: 10 * 60_000 });
    if (!out.includes(`staged ${v2.version}`)) throw new CheckError(out);
    const s = { ...srv.stats };
    if (s.deltaRequests === 0 || s.deltaBytes === 0) throw new CheckError(`no delta fetched: ${JSON.stringify(s)}`);
    const st = await status(vm);
    eqOrThrow('Staged', st.Staged, v2.version);
    return `downloaded ${s.bytes} bytes: ${s.deltaBytes} in ${s.deltaRequests} delta files, ${s.objectBytes} in ${s.objectRequests} objects (the commit is ${v1.meta.artifacts?.tree?.size ?? '?'} bytes)`;
  });
  if (!staged2) return false;
  return ctx.check('reboot into v2: v1 is the rollback, /etc kept, the new file there', async () => {
    await reboot(vm);
    const st = await status(vm);
    eqOrThrow('Booted', st.Booted, v2.version);
    eqOrThrow('Rollback', st.Rollback, v1.meta['ostree-version']);
    eqOrThrow('Boot counter', st['Boot counter'], 'none');
    eqOrThrow('/etc edit', (await vm.sshOk('cat /etc/fcos-upgrade-test')).trim(), 'kept-across-upgrades');
    eqOrThrow('v2 file', (await vm.sshOk('cat /usr/share/fcos-test/v2.txt')).trim(), 'v2');
    return `booted ${st.Booted}, rollback ${st.Rollback}`;
  });
}

function v2Files(): Files {
  return { 'usr/share/fcos-test/v2.txt': { text: 'v2\n', mode: 0o644 } };
}

function v3Files(): Files {
  return { ...v2Files(), [BROKEN_CHECK.slice(1)]: { text: brokenScript(), mode: 0o755 } };
}

function v4Files(): Files {
  return { ...v3Files(), 'usr/share/fcos-test/v4.txt': { text: 'v4\n', mode: 0o644 } };
}

/** v5 makes the broken check pass again (a layer cannot delete it) and adds files for a pull that takes a while. */
function v5Files(): Files {
  const files: Files = { ...v4Files(), [BROKEN_CHECK.slice(1)]: { text: '#!/bin/sh\nexit 0\n', mode: 0o755 } };
  for (let i = 0; i < PULL_FILES; i++) files[`usr/share/fcos-test/v5/file-${i}.txt`] = { text: `v5 file ${i}\n`.repeat(50 + i), mode: 0o644 };
  return files;
}

/* ---------- 2. manual rollback and back ---------- */

async function rollbackAndStageAgain(r: UpgradeRun): Promise<boolean> {
  const { ctx, vm, v1 } = r;
  const v2 = r.v2!;
  const rolled = await ctx.check('fcos-update rollback + reboot brings back v1', async () => {
    const out = await vm.sshOk('sudo fcos-update rollback');
    if (!out.includes(v1.meta['ostree-version'])) throw new CheckError(out);
    await reboot(vm);
    const st = await status(vm);
    eqOrThrow('Booted', st.Booted, v1.meta['ostree-version']);
    // test's 1 (absent) only: ssh's own failure (255) is an error, not "absent".
    await vm.sshFails('test -e /usr/share/fcos-test/v2.txt', { want: 1 });
    return `booted ${st.Booted}`;
  });
  if (!rolled) return false;
  // No reboot into it: v3 is staged over it next (staging replaces a staged deployment), which saves a boot.
  return ctx.check('after the rollback, fcos-update upgrade stages v2 again', async () => {
    const out = await vm.sshOk('sudo fcos-update upgrade --no-reboot', { timeoutMs: 10 * 60_000 });
    if (!out.includes(`staged ${v2.version}`)) throw new CheckError(out);
    const st = await status(vm);
    eqOrThrow('Booted', st.Booted, v1.meta['ostree-version']);
    eqOrThrow('Staged', st.Staged, v2.version);
    return `booted ${st.Booted}, staged ${st.Staged}`;
  });
}

/* ---------- 3. v3 is broken: automatic rollback ---------- */

async function brokenV3FallsBack(r: UpgradeRun): Promise<boolean> {
  const { ctx, vm, home } = r;
  const composed3 = await ctx.check('compose v3 with a failing required health check', async () => {
    const v3 = (r.v3 = await publish(r, 'v3'));
    eqOrThrow('parent', v3.parent, r.v2!.commit);
    return `${v3.version} (${v3.kind})`;
  });
  const v3 = r.v3;
  if (!composed3 || !v3) return false;
  const fellBack = await ctx.check('v3 (staged over the staged v2) fails its checks, reboots up to the limit, and GRUB falls back to v1', () => v3TrialBoots(r, v3));
  if (fellBack) {
    await ctx.check('after the fallback: v1 booted and default, counter cleared, reason recorded', async () => {
      const st = await status(vm);
      eqOrThrow('Booted', st.Booted, home.version);
      eqOrThrow('Default', st.Default, home.version);
      eqOrThrow('Boot counter', st['Boot counter'], 'none');
      const fb = st['Last fallback'] ?? '';
      if (!fb.includes(`fell back from ${v3.version}`) || !fb.includes('50-fcos-test-broken') || !fb.includes('broken on purpose')) {
        throw new CheckError(`Last fallback: ${JSON.stringify(fb)}`);
      }
      const j = await vm.sshOk('sudo journalctl -b -t fcos-update --no-pager -o cat');
      if (!j.includes('automatic rollback')) throw new CheckError(`no "automatic rollback" in the journal:\n${j.slice(-2000)}`);
      return fb;
    });
  }
  return fellBack;
}

/** What each boot was, seen over SSH while it ran: its boot id and the booted commit. */
type SeenBoot = { boot: number; bootId: string; booted: string };

/** Stage v3, power on until GRUB falls back (each trial boot seen over SSH), then check what each boot ran. */
export async function v3TrialBoots(r: UpgradeRun, v3: ComposeResult): Promise<string> {
  const { ctx, vm, home } = r;
  await vm.sshOk('sudo fcos-update upgrade --no-reboot', { timeoutMs: 10 * 60_000 });
  const before = await status(vm);
  eqOrThrow('Boot counter before', before['Boot counter'], String(TRIES));
  eqOrThrow('Staged before', before.Staged, v3.version);
  await vm.poweroff();
  let boots = 0;
  const seen: SeenBoot[] = [];
  for (;;) {
    boots++;
    if (boots > 6) throw new CheckError('no fallback after 6 boots');
    await vm.powerOn(`power on (v3 trial, boot ${boots})`);
    vm.expectExit();
    const outcome = await trialBoot(vm, v3, boots, seen);
    ctx.log(`v3 trial: boot ${boots} ended with ${outcome}`);
    if (outcome === 'fallback') break;
  }
  // Every trial boot ran v3 (a boot of its own: distinct boot ids), and the boot after them ran v1.
  const short = (c: string) => c.slice(0, 12);
  for (let b = 1; b <= boots; b++) {
    const x = seen.find((y) => y.boot === b);
    const want = b <= TRIES ? v3.commit : home.commit;
    if (!x) throw new CheckError(`boot ${b} was never seen over SSH (want ${short(want)} booted)`);
    if (x.booted !== want) throw new CheckError(`boot ${b} booted ${short(x.booted)}, want ${short(want)} (${b <= TRIES ? 'v3 on trial' : 'v1 after the fallback'})`);
  }
  if (new Set(seen.map((x) => x.bootId)).size !== seen.length) throw new CheckError(`a boot id repeats: ${JSON.stringify(seen)}`);
  vm.expectExit(false);
  if (boots !== TRIES + 1) throw new CheckError(`fell back after ${boots} boots, want ${TRIES + 1} (${TRIES} tries of v3, then v1)`);
  return `${boots - 1} boots of v3, then v1: ${seen.map((x) => `boot ${x.boot} ${x.bootId.slice(0, 8)} ${short(x.booted)}`).join(', ')}`;
}

/** One boot of the trial: it ends with QEMU's exit (the guest rebooted itself) or with the fallback done. */
async function trialBoot(vm: Vm, v3: ComposeResult, boot: number, seen: SeenBoot[]): Promise<'exit' | 'fallback'> {
  const end = Date.now() + 10 * 60_000;
  while (Date.now() < end) {
    if (await vm.waitForExit(5000)) return 'exit';
    if (!seen.some((x) => x.boot === boot)) {
      // Record this boot before its broken check gives up (the check waits for the flag file, up to 50 s).
      const r = await vm.ssh('cat /proc/sys/kernel/random/boot_id && sudo ostree admin status', { timeoutMs: 20_000 }).catch(() => undefined);
      const booted = r?.exitCode === 0 ? bootedDeployments(r.stdout).booted : undefined;
      if (booted) {
        seen.push({ boot, bootId: r!.stdout.split('\n')[0]!.trim(), booted: booted.checksum });
        if (booted.checksum === v3.commit) await vm.ssh(`sudo touch ${TRIAL_SEEN}`, { timeoutMs: 20_000 }).catch(() => undefined);
      }
    }
    const r = await vm.ssh('test -s /var/lib/fcos-update/fallback && systemctl is-active fcos-update-health.service', { timeoutMs: 20_000 }).catch(() => undefined);
    if (r?.exitCode === 0 && r.stdout.trim() === 'active') return 'fallback';
  }
  throw new CheckError(`boot ${boot}: neither a reboot nor a fallback within 10 min`);
}

/* ---------- 4. v4 unsigned, then signed only with another key, then a v5 with a tampered object: all refused ---------- */

/** Try an upgrade that must be refused: it fails, nothing is staged, v1 stays booted, the refusal is in status. */
export async function refused(r: UpgradeRun, errRe: RegExp, commit: string, absent: 'absent' | 'incomplete'): Promise<string> {
  const { vm, home } = r;
  await vm.sshOk('sudo rm -f /var/lib/fcos-update/last-error');
  const res = await vm.sshFails('sudo fcos-update upgrade --no-reboot', { timeoutMs: 10 * 60_000 });
  const st = await status(vm);
  eqOrThrow('Booted', st.Booted, home.version);
  eqOrThrow('Default', st.Default, home.version);
  if (st.Staged) throw new CheckError(`something was staged: ${st.Staged}`);
  const err = st['Last error'] ?? '';
  // ostree's own words (libostree 2025.x), not any message that mentions a signature.
  if (!errRe.test(err)) throw new CheckError(`Last error is not ostree's message ${errRe}: ${JSON.stringify(err)}\n${res.stderr.slice(-1000)}`);
  // The refused commit never became usable in the VM's repo: not there at all (a refused signature), or at
  // most a partial pull (a corrupt object: the commit was fetched, the tree was not).
  const obj = `/ostree/repo/objects/${commit.slice(0, 2)}/${commit.slice(2)}.commit`;
  const partial = `/ostree/repo/state/${commit}.commitpartial`;
  if (absent === 'absent') await vm.sshFails(`sudo test -e ${obj}`, { want: 1 });
  else await vm.sshOk(`sudo sh -c 'test ! -e ${obj} || test -e ${partial}'`);
  return err;
}

async function badUpdatesRefused(r: UpgradeRun): Promise<boolean> {
  const { ctx } = r;
  const unsigned = await ctx.check('an unsigned v4 is refused; the VM stays on v1', () => unsignedV4(r));
  const wrongKey = unsigned && (await ctx.check('a v4 signed only with another key is refused; the VM stays on v1', () => wronglySignedV4(r, r.v4!)));
  if (!wrongKey) return false;
  const tampered = await ctx.check('a signed v5 with a tampered object in the served repo is refused', () => tamperedV5(r));
  return tampered && !!r.v5;
}

async function unsignedV4(r: UpgradeRun): Promise<string> {
  const { repo } = r;
  const v4 = (r.v4 = await publish(r, 'v4'));
  // Drop the detached metadata (the signatures) and the delta (its superblock carries a copy of them).
  rmSync(join(repo, 'objects', v4.commit.slice(0, 2), `${v4.commit.slice(2)}.commitmeta`), { force: true });
  rmSync(deltaDir(repo, v4.parent!, v4.commit), { recursive: true, force: true });
  await updateSummary(repo);
  if (await commitSignatures(repo, v4.commit)) throw new CheckError('v4 still carries a signature');
  return refused(r, OSTREE_ERR.unsigned, v4.commit, 'absent');
}

async function wronglySignedV4(r: UpgradeRun, v4: ComposeResult): Promise<string> {
  const { ctx, repo } = r;
  const wrongDir = join(ctx.outDir, 'wrong-key');
  rmSync(wrongDir, { recursive: true, force: true });
  mkdirSync(wrongDir, { recursive: true, mode: 0o700 });
  const wrong = await generateKey(wrongDir, 'not the fcos key <wrong@localhost>');
  await signCommit(repo, v4.commit, wrong);
  const shown = (await run('ostree', ['show', `--repo=${repo}`, v4.commit])).stdout;
  const ids = [...shown.matchAll(/key ID ([0-9A-F]{16})/g)].map((m) => m[1]);
  if (ids.length !== 1 || ids[0] !== wrong.keyId.slice(-16)) throw new CheckError(`v4's signatures are ${JSON.stringify(ids)}, want only ${wrong.keyId.slice(-16)}`);
  await updateSummary(repo);
  return refused(r, OSTREE_ERR.wrongKey, v4.commit, 'absent');
}

/** A good v5 with one object (its root dirtree) tampered with in the served repo; the object is restored after. */
async function tamperedV5(r: UpgradeRun): Promise<string> {
  const { repo } = r;
  const v5 = (r.v5 = await publish(r, 'v5'));
  const ls = (await run('ostree', ['ls', `--repo=${repo}`, '-d', '-C', v5.commit, '/'])).stdout;
  const tree = /\b([0-9a-f]{64}) [0-9a-f]{64} \/\s*$/m.exec(ls)?.[1];
  if (!tree) throw new CheckError(`no root dirtree in: ${ls}`);
  const obj = join(repo, 'objects', tree.slice(0, 2), `${tree.slice(2)}.dirtree`);
  const good = readFileSync(obj);
  const bad = Buffer.from(good);
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
  try {
    rmSync(obj); // a new file, never writing through a hard link
    writeFileSync(obj, bad, { mode: 0o644 });
    return await refused(r, OSTREE_ERR.corrupt, v5.commit, 'incomplete');
  } finally {
    rmSync(obj, { force: true });
    writeFileSync(obj, good, { mode: 0o644 });
  }
}
