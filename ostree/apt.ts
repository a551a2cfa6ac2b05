/**
 * A private apt state (lists, package cache) in the fcos cache, used to resolve package versions cheaply
 * (no chroot, no download of .debs) and shared with mmdebstrap (its lists are synced in, so the bootstrap does
 * not download the indexes again).
 *
 * Nothing here touches the host's apt configuration: APT_CONFIG points at our own apt.conf, which does not
 * include /etc/apt/apt.conf.d.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../lib/paths.js';
import { run } from '../lib/run.js';
import { UserError } from '../lib/errors.js';
import { debug } from '../lib/log.js';
import { aptSources, type Manifest } from './manifest.js';

export interface AptState {
  dir: string;
  lists: string;
  conf: string;
  sources: string[];
}

const KEYRINGS = '/usr/share/keyrings';

export function aptState(m: Manifest): AptState {
  const sources = aptSources(m);
  const key = createHash('sha256').update(`${m.architecture}\n${sources.join('\n')}`).digest('hex').slice(0, 16);
  const dir = cacheDir('apt', `${m.suite}-${m.architecture}-${key}`);
  const lists = join(dir, 'lists');
  for (const d of [join(lists, 'partial'), join(dir, 'cache', 'archives', 'partial'), join(dir, 'etc')]) mkdirSync(d, { recursive: true });
  writeIfChanged(join(dir, 'etc', 'sources.list'), sources.map((s) => s.replace(/^deb /, `deb [signed-by=${keyringFor(s)}] `)).join('\n') + '\n');
  if (!existsSync(join(dir, 'status'))) writeFileSync(join(dir, 'status'), '');
  const conf = join(dir, 'apt.conf');
  const lines = [
    `Dir::Etc::SourceList "${dir}/etc/sources.list";`,
    `Dir::Etc::SourceParts "${dir}/etc/sources.list.d";`,
    `Dir::Etc::Parts "${dir}/etc/apt.conf.d";`,
    `Dir::Etc::Preferences "${dir}/etc/preferences";`,
    `Dir::Etc::PreferencesParts "${dir}/etc/preferences.d";`,
    `Dir::State "${dir}";`,
    `Dir::State::Lists "${lists}";`,
    `Dir::State::status "${dir}/status";`,
    `Dir::Cache "${dir}/cache";`,
    `Dir::Cache::pkgcache "${dir}/cache/pkgcache.bin";`,
    `Dir::Cache::srcpkgcache "${dir}/cache/srcpkgcache.bin";`,
    `APT::Architecture "${m.architecture}";`,
    `APT::Architectures { "${m.architecture}"; };`,
    `APT::Install-Recommends "false";`,
    `Acquire::Languages "none";`,
    `Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";`,
    `Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";`,
    `Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled "false";`,
    `Acquire::IndexTargets::deb::CNF::DefaultEnabled "false";`,
    `Acquire::Retries "3";`,
  ];
  for (const d of ['sources.list.d', 'apt.conf.d', 'preferences.d']) mkdirSync(join(dir, 'etc', d), { recursive: true });
  writeIfChanged(conf, lines.join('\n') + '\n');
  return { dir, lists, conf, sources };
}

/** apt rebuilds its package cache (seconds) when its configuration files are newer: leave them alone if unchanged. */
function writeIfChanged(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text) return;
  } catch {
    /* missing */
  }
  writeFileSync(path, text);
}

function keyringFor(source: string): string {
  // debian-archive-keyring holds the keys of every current release (stable, security, automatic).
  return join(KEYRINGS, 'debian-archive-keyring.gpg');
}

function aptEnv(st: AptState): Record<string, string> {
  return { APT_CONFIG: st.conf, LC_ALL: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive' };
}

/** How long downloaded indexes count as current (seconds): $FCOS_APT_MAX_AGE, default 300. */
export function indexMaxAge(): number {
  const v = Number(process.env.FCOS_APT_MAX_AGE);
  return Number.isFinite(v) && v >= 0 && process.env.FCOS_APT_MAX_AGE !== '' && process.env.FCOS_APT_MAX_AGE !== undefined ? v : 300;
}

/**
 * apt-get update against the private state (conditional GETs when warm: one to a few seconds, network-bound).
 * Skipped when the last successful update is younger than indexMaxAge(), so back-to-back composes stay fast.
 * Returns whether it ran.
 */
export async function aptUpdate(st: AptState, maxAge = indexMaxAge()): Promise<boolean> {
  const stamp = join(st.dir, 'updated');
  try {
    const age = (Date.now() - statSync(stamp).mtimeMs) / 1000;
    if (age >= 0 && age < maxAge && listFiles(st).length > 0) {
      debug(`package indexes are ${age.toFixed(0)}s old (< ${maxAge}s): not refreshed`);
      return false;
    }
  } catch {
    /* never updated */
  }
  const r = await run('apt-get', ['update', '-q'], {
    env: aptEnv(st),
    purpose: 'download the Debian package indexes',
    hint: 'check the network and the mirror in the manifest',
  });
  const errs = (r.stdout + r.stderr).split('\n').filter((l) => /^(E|Err):/.test(l));
  if (errs.length) throw new UserError(`apt-get update failed:\n  ${errs.join('\n  ')}`, 'check the network and the mirror/suite in the manifest');
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  return true;
}

/** Candidate versions of packages ("Candidate: (none)" / unknown → undefined). */
export async function candidateVersions(st: AptState, names: string[]): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  if (names.length === 0) return out;
  for (const n of names) out.set(n, undefined);
  const r = await run('apt-cache', ['policy', ...names], { env: aptEnv(st), allowFailure: true, purpose: 'resolve package versions' });
  let cur: string | undefined;
  for (const line of r.stdout.split('\n')) {
    const h = /^(\S+):$/.exec(line);
    if (h) {
      cur = h[1]!.replace(/:amd64$/, '');
      continue;
    }
    const c = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (c && cur) out.set(cur, c[1] === '(none)' ? undefined : c[1]);
  }
  return out;
}

/** Fail with apt's own words when a manifest package cannot be installed from the configured archive. */
export async function checkPackagesExist(st: AptState, m: Manifest): Promise<void> {
  const names = m.packages.map((p) => p.replace(/[=].*$/, '').replace(/:amd64$/, ''));
  const cands = await candidateVersions(st, names);
  const missing = names.filter((n) => cands.get(n) === undefined);
  if (missing.length === 0) return;
  // Ask apt for the reason (Unable to locate package / has no installation candidate / virtual package …).
  const r = await run('apt-get', ['install', '--simulate', '-q', ...missing], { env: aptEnv(st), allowFailure: true });
  const reasons = (r.stderr + r.stdout)
    .split('\n')
    .filter((l) => /^E:|has no installation candidate|is a virtual package|is not available|but it is not/.test(l))
    .map((l) => l.trim());
  throw new UserError(
    `package${missing.length > 1 ? 's' : ''} not installable from ${m.suite}: ${missing.join(', ')}\n  apt: ${(reasons.length ? reasons : ['Unable to locate package']).join('\n  apt: ')}`,
    'check the package names in the manifest (apt-cache search NAME on a Debian machine)',
  );
}

/** The Date of the suite's InRelease, as seconds since the epoch: the default SOURCE_DATE_EPOCH. */
export function suiteDate(st: AptState, m: Manifest): number | undefined {
  let files: string[] = [];
  try {
    files = readdirSync(st.lists);
  } catch {
    return undefined;
  }
  const host = m.mirror.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '').replace(/\//g, '_');
  const f = files.find((x) => x === `${host}_dists_${m.suite}_InRelease`) ?? files.find((x) => x.endsWith(`_dists_${m.suite}_InRelease`));
  if (!f) return undefined;
  const text = readFileSync(join(st.lists, f), 'utf8');
  const d = /^Date:\s*(.+)$/m.exec(text);
  if (!d) return undefined;
  const t = Date.parse(d[1]!.trim());
  return Number.isFinite(t) ? Math.floor(t / 1000) : undefined;
}

/** Index files (InRelease and Packages) of the private state: what mmdebstrap needs to skip its own update. */
export function listFiles(st: AptState): string[] {
  try {
    return readdirSync(st.lists).filter((f) => /_(InRelease|Release|Release\.gpg|Packages(\.[a-z0-9]+)?)$/.test(f));
  } catch {
    return [];
  }
}
