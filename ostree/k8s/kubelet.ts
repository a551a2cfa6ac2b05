/**
 * kubelet for fcos images, from one of two sources:
 *
 * 1. the Go module proxy (ensureKubelet): k8s.io/kubernetes@vX is a Go module, but its go.mod replaces the ~30
 *    k8s.io staging modules with ./staging/… paths, so `go install k8s.io/kubernetes/cmd/kubelet@vX` refuses it.
 *    We generate a tiny wrapper module that requires k8s.io/kubernetes vX and replaces every staging module with its
 *    published v0.<minor>.<patch> version (the list is read from kubernetes' own go.mod at that version), then
 *    `go build k8s.io/kubernetes/cmd/kubelet` inside it, static and with the version stamped like upstream does.
 * 2. a URL plus its sha256 (fetchKubelet): an official release binary, file:// or http(s)://.
 *
 * Both cache their result under cacheDir('kubelet', …) with a metadata JSON, written atomically (build in a temp
 * directory on the same filesystem, then rename), so an interrupted build never leaves a half-written binary.
 * A warm ensureKubelet() runs no subprocess at all.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { cacheDir } from '../../lib/paths.js';
import { run } from '../../lib/run.js';
import { BugError, UserError } from '../../lib/errors.js';
import { step, debug } from '../../lib/log.js';
import { withCleanup, type Cleanup } from '../../lib/signals.js';
import { goEnv, goVersion as readGoVersion, requireGoVersion, resolveGoBin } from './go.js';

/**
 * The pinned default: the newest v1.35 patch release the Go module proxy serves (checked with
 * `go list -m -versions k8s.io/kubernetes`; v1.35.4 needs go >= 1.25.0 and builds with go1.26).
 */
export const DEFAULT_KUBELET_VERSION = 'v1.35.4';

/** `go build -v` names each package it builds on a line of its own (import paths; "go: downloading …" is not one). */
export const GO_PACKAGES_BUILT = { pattern: /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~+-]+)*$/, noun: 'Go packages built' };

export interface KubeletBinary {
  /** Absolute path of the cached kubelet binary. Copy it, don't move it. */
  path: string;
  /** "v1.35.4" */
  version: string;
  /** Where it came from. */
  source: 'go-module-proxy' | 'url';
  /** sha256 (hex) of the binary. */
  sha256: string;
  /** true when it came from the cache without building/downloading. */
  cached: boolean;
  /** go-module-proxy: the toolchain that built it ("go1.26.8"). */
  goVersion?: string;
  /** go-module-proxy: the module hash of k8s.io/kubernetes from go.sum ("h1:…"). */
  moduleHash?: string;
  /** go-module-proxy: resolved k8s.io/* and sigs.k8s.io/* module versions (`go list -m all`). */
  modules?: string[];
  /** go-module-proxy: the buildDate stamped into the binary (RFC 3339). */
  buildDate?: string;
  /** url: the URL it was fetched from. */
  url?: string;
  /** Path of the build/fetch log kept next to the binary. */
  log: string;
  /** The first line of `kubelet --version` ("Kubernetes v1.35.4"). */
  versionOutput: string;
}

export interface EnsureKubeletOptions {
  /** "v1.35.4"; default DEFAULT_KUBELET_VERSION. */
  version?: string;
  /** The go binary; default $FCOS_GO, /usr/local/go/bin/go, `go` on PATH. */
  goBin?: string;
  /**
   * Seconds since the epoch for the stamped buildDate; default $SOURCE_DATE_EPOCH, else the release time of the
   * k8s.io/kubernetes module version (from the proxy's .info), so rebuilding gives the same binary.
   */
  sourceDateEpoch?: number;
}

const VERSION_RE = /^v1\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$/;

export function parseKubeVersion(version: string): { major: string; minor: string; patch: string; pre: string } {
  const m = VERSION_RE.exec(version);
  if (!m) throw new UserError(`not a Kubernetes version: '${version}'`, 'use a release tag such as v1.35.4');
  return { major: '1', minor: m[1]!, patch: m[2]!, pre: m[3] ?? '' };
}

/** v1.35.4 → v0.35.4 (the staging modules' tags), v1.35.0-rc.1 → v0.35.0-rc.1. */
export function stagingVersion(version: string): string {
  const v = parseKubeVersion(version);
  return `v0.${v.minor}.${v.patch}${v.pre}`;
}

export interface KubernetesGoMod {
  /** The `go` directive ("1.25.0"). */
  go: string;
  /** `godebug` directives, verbatim ("default=go1.25"). */
  godebug: string[];
  /** Modules replaced by a local ./staging path, in file order. */
  staging: string[];
}

/** Parse the parts of k8s.io/kubernetes's go.mod that the wrapper module needs. */
export function parseKubernetesGoMod(text: string): KubernetesGoMod {
  const lines = text.split('\n').map((l) => l.replace(/\/\/.*$/, '').trim());
  let go = '';
  const godebug: string[] = [];
  const staging: string[] = [];
  let block: string | undefined;
  for (const line of lines) {
    if (!line) continue;
    if (block) {
      if (line === ')') {
        block = undefined;
        continue;
      }
      if (block === 'replace') addReplace(line);
      else if (block === 'godebug') godebug.push(line);
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^go\s+(\S+)$/.exec(line))) go = m[1]!;
    else if ((m = /^(replace|godebug)\s*\($/.exec(line))) block = m[1];
    else if ((m = /^replace\s+(.*)$/.exec(line))) addReplace(m[1]!);
    else if ((m = /^godebug\s+(.*)$/.exec(line))) godebug.push(m[1]!);
  }
  function addReplace(spec: string) {
    // "k8s.io/api => ./staging/src/k8s.io/api"   or   "k8s.io/api v0.0.0 => ./staging/src/k8s.io/api"
    const m = /^(\S+)(?:\s+\S+)?\s*=>\s*(\S+)(?:\s+\S+)?$/.exec(spec);
    if (!m) return;
    if (m[2]!.startsWith('./') || m[2]!.startsWith('../')) staging.push(m[1]!);
  }
  if (!go) throw new UserError('k8s.io/kubernetes go.mod has no go directive (not a Kubernetes go.mod?)');
  if (staging.length === 0) throw new UserError('k8s.io/kubernetes go.mod has no ./staging replace directives (not a Kubernetes go.mod?)');
  return { go, godebug, staging };
}

/** The wrapper module's go.mod: require k8s.io/kubernetes vX, replace each staging module by its v0.Y.Z tag. */
export function wrapperGoMod(version: string, k8s: KubernetesGoMod): string {
  const sv = stagingVersion(version);
  const width = Math.max(...k8s.staging.map((s) => s.length));
  const out = [
    '// Generated by fcos (ostree/k8s/kubelet.ts): builds k8s.io/kubernetes/cmd/kubelet from the Go module proxy.',
    'module fcos.local/kubelet-build',
    '',
    `go ${k8s.go}`,
    '',
  ];
  for (const g of k8s.godebug) out.push(`godebug ${g}`);
  if (k8s.godebug.length) out.push('');
  out.push(`require k8s.io/kubernetes ${version}`, '', 'replace (');
  for (const s of k8s.staging) out.push(`\t${s.padEnd(width)} => ${s} ${sv}`);
  out.push(')', '');
  return out.join('\n');
}

/** The h1: hash of a module from go.sum text (the zip hash, not the /go.mod one). */
export function moduleHashFromGoSum(goSum: string, module: string, version: string): string | undefined {
  for (const line of goSum.split('\n')) {
    const [m, v, h] = line.trim().split(/\s+/);
    if (m === module && v === version && h?.startsWith('h1:')) return h;
  }
  return undefined;
}

/** -ldflags stamping the version into k8s.io/component-base/version and k8s.io/client-go/pkg/version. */
export function versionLdflags(version: string, buildDate: string): string {
  const v = parseKubeVersion(version);
  const vars: Record<string, string> = {
    gitVersion: version,
    gitMajor: v.major,
    gitMinor: v.minor,
    gitTreeState: 'clean',
    buildDate,
  };
  const parts = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    for (const [k, val] of Object.entries(vars)) parts.push(`-X ${pkg}.${k}=${val}`);
  }
  return parts.join(' ');
}

import { sha256File } from '../../lib/hash.js';
export { sha256File };

function isoDate(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Directory names in the kubelet cache. */
function goCacheKey(version: string, goVer: string): string {
  return `${version}-${goVer}`;
}

interface Meta extends Omit<KubeletBinary, 'path' | 'cached' | 'log'> {
  size: number;
}

/** Read a cache entry: metadata present, binary present with the recorded size. No subprocess. */
function readCacheEntry(dir: string): KubeletBinary | undefined {
  const metaPath = join(dir, 'kubelet.json');
  const bin = join(dir, 'kubelet');
  if (!existsSync(metaPath) || !existsSync(bin)) return undefined;
  try {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Meta;
    if (statSync(bin).size !== meta.size) return undefined;
    const { size: _size, ...rest } = meta;
    return { ...rest, path: bin, cached: true, log: join(dir, 'build.log') };
  } catch {
    return undefined;
  }
}

/** Move a finished temp directory into place; if another process won the race, keep theirs. */
async function publish(tmp: string, final: string): Promise<void> {
  if (existsSync(final)) {
    if (readCacheEntry(final)) {
      // another fcos process finished the same build first: keep theirs (it may be in use), drop ours
      await rm(tmp, { recursive: true, force: true });
      return;
    }
    await rm(final, { recursive: true, force: true }); // stale/invalid entry
  }
  try {
    await rename(tmp, final);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && readCacheEntry(final)) return;
    throw e;
  }
}

async function kubeletVersionOutput(bin: string): Promise<string> {
  const r = await run(bin, ['--version'], { purpose: 'run kubelet --version', timeoutMs: 60_000 });
  return r.stdout.trim().split('\n')[0] ?? '';
}

/** Only the cache lookup: the kubelet for (version, toolchain) if it was built before, else undefined. */
export async function cachedKubelet(opts: EnsureKubeletOptions = {}): Promise<KubeletBinary | undefined> {
  const version = opts.version ?? DEFAULT_KUBELET_VERSION;
  parseKubeVersion(version);
  const goBin = resolveGoBin(opts.goBin);
  const goVer = await readGoVersion(goBin);
  return readCacheEntry(join(cacheDir('kubelet'), goCacheKey(version, goVer)));
}

/** Write an entry's log and metadata into its temp directory, move it into place (c forgets `cleanup`), read it back. */
async function finishEntry(c: Cleanup, cleanup: string, tmp: string, final: string, meta: Meta, log: string): Promise<KubeletBinary> {
  await writeFile(join(tmp, 'build.log'), log);
  await writeFile(join(tmp, 'kubelet.json'), JSON.stringify(meta, null, 2) + '\n');
  await publish(tmp, final);
  c.forget(cleanup);
  const entry = readCacheEntry(final);
  if (!entry) throw new BugError(`kubelet cache entry ${final} unreadable right after writing it`);
  return { ...entry, cached: false };
}

interface BuildContext {
  version: string;
  goBin: string;
  goVer: string;
  /** The wrapper module's directory. */
  work: string;
  env: Record<string, string>;
  log: (s: string) => void;
}

/**
 * Step 1: k8s.io/kubernetes itself (its go.mod lists the staging modules; its go.sum seeds ours), and the wrapper
 * module written. Returns what `go mod download` said about it.
 */
async function prepareWrapperModule(b: BuildContext): Promise<DownloadJson & { Sum: string }> {
  const { version, goBin, work, env, log } = b;
  const dl = await run(goBin, ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], {
    cwd: work,
    env,
    allowFailure: true,
    purpose: `download k8s.io/kubernetes@${version} from the Go module proxy`,
    progress: `download k8s.io/kubernetes@${version}`,
  });
  const info = parseDownloadJson(dl.stdout);
  if (dl.exitCode !== 0 || info.Error) {
    throw new UserError(
      `cannot download k8s.io/kubernetes@${version} from the Go module proxy: ${(info.Error ?? dl.stderr).trim().split('\n').slice(-3).join(' ')}`,
      'check the version (go list -m -versions k8s.io/kubernetes) and GOPROXY',
    );
  }
  if (!info.GoMod || !info.Dir || !info.Sum) throw new BugError(`go mod download -json gave no GoMod/Dir/Sum: ${dl.stdout}`);
  log(`k8s.io/kubernetes ${version} ${info.Sum}`);
  const k8s = parseKubernetesGoMod(await readFile(info.GoMod, 'utf8'));
  requireGoVersion(b.goVer, k8s.go, `kubelet ${version}`);
  log(`staging modules (${k8s.staging.length}) → ${stagingVersion(version)}: ${k8s.staging.join(' ')}`);
  await writeFile(join(work, 'go.mod'), wrapperGoMod(version, k8s));
  const upstreamSum = join(info.Dir, 'go.sum');
  if (existsSync(upstreamSum)) await cp(upstreamSum, join(work, 'go.sum'));
  return { ...info, Sum: info.Sum };
}

/** Steps 2 and 3: go build (static, version stamped), then what went in (the k8s.io modules, the module hash). */
async function buildInWrapper(b: BuildContext, out: string, buildDate: string, sum: string): Promise<{ modules: string[]; moduleHash: string }> {
  const { version, goBin, work, env, log } = b;
  // -v: go names each package as it builds it, which the progress line counts (5-20 min cold).
  const args = ['build', '-v', '-trimpath', '-o', out, '-ldflags', versionLdflags(version, buildDate), 'k8s.io/kubernetes/cmd/kubelet'];
  log(`$ go ${args.join(' ')}`);
  const built = await run(goBin, args, {
    cwd: work,
    env,
    purpose: `build kubelet ${version}`,
    hint: 'see the Go errors above',
    progress: { label: `go build kubelet ${version}`, count: GO_PACKAGES_BUILT },
  });
  if (built.stderr.trim()) log(built.stderr.trimEnd());
  const lm = await run(goBin, ['list', '-m', 'all'], { cwd: work, env, purpose: 'list the modules kubelet was built from' });
  const modules = lm.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /(^|\s|\/)k8s\.io\//.test(l));
  log('# resolved k8s.io modules (go list -m all):');
  for (const m of modules) log(m);
  const goSum = await readFile(join(work, 'go.sum'), 'utf8');
  const moduleHash = moduleHashFromGoSum(goSum, 'k8s.io/kubernetes', version);
  if (!moduleHash) throw new BugError(`go.sum of the kubelet wrapper module has no hash for k8s.io/kubernetes ${version}`);
  if (moduleHash !== sum) throw new BugError(`go.sum hash ${moduleHash} differs from go mod download's ${sum}`);
  return { modules, moduleHash };
}

/**
 * Build kubelet `version` from the Go module proxy, or return the cached build for (version, Go version).
 * Needs network access to the module proxy only when the module cache is cold.
 */
export async function ensureKubelet(opts: EnsureKubeletOptions = {}): Promise<KubeletBinary> {
  const version = opts.version ?? DEFAULT_KUBELET_VERSION;
  parseKubeVersion(version);
  const goBin = resolveGoBin(opts.goBin);
  const goVer = await readGoVersion(goBin);
  const root = cacheDir('kubelet');
  const final = join(root, goCacheKey(version, goVer));
  const hit = readCacheEntry(final);
  if (hit) {
    debug(`kubelet ${version} (${goVer}) from cache: ${hit.path}`);
    return hit;
  }
  return step(`build kubelet ${version} with ${goVer} from the Go module proxy`, () =>
    withCleanup(async (c) => {
      const tmp = join(root, `.tmp-${goCacheKey(version, goVer)}-${randomBytes(4).toString('hex')}`);
      await mkdir(tmp, { recursive: true });
      c.push('remove kubelet build dir', () => rm(tmp, { recursive: true, force: true }));
      const work = join(tmp, 'module');
      await mkdir(work);
      const logLines: string[] = [];
      const log = (s: string) => {
        logLines.push(s);
        debug(s);
      };
      const env = goEnv();
      log(`# fcos kubelet build ${version} with ${goBin} (${goVer})`);
      log(`# GOMODCACHE=${env.GOMODCACHE} GOCACHE=${env.GOCACHE} GOFLAGS=${env.GOFLAGS} GOPROXY=${process.env.GOPROXY ?? '(default)'}`);
      const b: BuildContext = { version, goBin, goVer, work, env, log };
      const info = await prepareWrapperModule(b);

      let epoch = opts.sourceDateEpoch ?? (process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) : NaN);
      if (!Number.isFinite(epoch)) epoch = info.Time ? Math.floor(Date.parse(info.Time) / 1000) : 0;
      const buildDate = isoDate(epoch);
      const out = join(tmp, 'kubelet');
      const { modules, moduleHash } = await buildInWrapper(b, out, buildDate, info.Sum);

      // 4. check it.
      const versionOutput = await kubeletVersionOutput(out);
      if (versionOutput !== `Kubernetes ${version}`) {
        throw new BugError(`built kubelet reports '${versionOutput}', expected 'Kubernetes ${version}'`);
      }
      const sha256 = await sha256File(out);
      const size = (await stat(out)).size;
      log(`kubelet ${version}: ${size} bytes, sha256 ${sha256}`);
      const meta: Meta = { version, source: 'go-module-proxy', sha256, size, goVersion: goVer, moduleHash, modules, buildDate, versionOutput };
      await rm(work, { recursive: true, force: true });
      return finishEntry(c, 'remove kubelet build dir', tmp, final, meta, logLines.join('\n') + '\n');
    }),
  );
}

interface DownloadJson {
  Path?: string;
  Version?: string;
  Error?: string;
  Info?: string;
  GoMod?: string;
  Dir?: string;
  Sum?: string;
  GoModSum?: string;
  Time?: string;
}

function parseDownloadJson(stdout: string): DownloadJson {
  if (!stdout.trim()) return {};
  try {
    const j = JSON.parse(stdout) as DownloadJson;
    if (j.Info && !j.Time) {
      try {
        j.Time = (JSON.parse(readFileSync(j.Info, 'utf8')) as { Time?: string }).Time;
      } catch {
        /* no time */
      }
    }
    return j;
  } catch {
    return { Error: stdout };
  }
}

export interface FetchKubeletOptions {
  /** file:///path, http://… or https://… */
  url: string;
  /** Expected sha256 of the binary (hex). */
  sha256: string;
}

/**
 * Fetch a kubelet binary (e.g. an official release from dl.k8s.io) and verify its sha256; cached by sha256, so a
 * warm call does not touch the URL. The version is read from `kubelet --version`.
 */
export async function fetchKubelet(opts: FetchKubeletOptions): Promise<KubeletBinary> {
  const want = opts.sha256.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(want)) throw new UserError(`not a sha256: '${opts.sha256}'`, 'give the 64 hex digits of the binary’s sha256');
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new UserError(`not a URL: '${opts.url}'`, 'use file:///path/to/kubelet or https://…');
  }
  if (!['file:', 'http:', 'https:'].includes(url.protocol)) {
    throw new UserError(`unsupported URL scheme '${url.protocol}' for kubelet`, 'use file://, http:// or https://');
  }
  const root = cacheDir('kubelet');
  const final = join(root, `sha256-${want}`);
  const hit = readCacheEntry(final);
  if (hit) return hit;
  return step(`fetch kubelet from ${opts.url}`, () =>
    withCleanup(async (c) => {
      const tmp = join(root, `.tmp-sha256-${want.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
      await mkdir(tmp, { recursive: true });
      c.push('remove kubelet fetch dir', () => rm(tmp, { recursive: true, force: true }));
      const out = join(tmp, 'kubelet');
      const h = createHash('sha256');
      let source: Readable;
      if (url.protocol === 'file:') {
        const p = fileURLToPath(url);
        if (!existsSync(p)) throw new UserError(`kubelet file not found: ${p}`, `check the url ${opts.url}`);
        if (statSync(p).isDirectory()) throw new UserError(`kubelet url points at a directory: ${p}`);
        source = createReadStream(p);
      } else {
        let res: Response;
        try {
          res = await fetch(url, { redirect: 'follow' });
        } catch (e) {
          throw new UserError(`cannot download kubelet from ${opts.url}: ${(e as Error).message}`, 'check the URL and the network');
        }
        if (!res.ok || !res.body) throw new UserError(`cannot download kubelet from ${opts.url}: HTTP ${res.status} ${res.statusText}`);
        source = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
      }
      source.on('data', (chunk: Buffer) => h.update(chunk));
      await pipeline(source, createWriteStream(out, { mode: 0o755 }));
      const got = h.digest('hex');
      if (got !== want) {
        throw new UserError(
          `kubelet from ${opts.url} has the wrong sha256:\n  expected ${want}\n  got      ${got}`,
          'the file changed or the checksum is wrong; get the checksum from the same release (kubelet.sha256)',
        );
      }
      await chmod(out, 0o755);
      const versionOutput = await kubeletVersionOutput(out);
      const m = /^Kubernetes (v\S+)$/.exec(versionOutput);
      if (!m) throw new UserError(`${opts.url} does not look like kubelet: '--version' printed '${versionOutput}'`);
      const size = (await stat(out)).size;
      const meta: Meta = { version: m[1]!, source: 'url', url: opts.url, sha256: got, size, versionOutput };
      return finishEntry(c, 'remove kubelet fetch dir', tmp, final, meta, `fetched ${opts.url}\nsha256 ${got}\n${versionOutput}\n`);
    }),
  );
}
