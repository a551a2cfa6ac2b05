/**
 * The compose manifest: a YAML file in the spirit of an rpm-ostree treefile / mkosi config.
 *
 * Validated with a JSON schema (ajv, ./manifest-schema.ts, which is also where the `Manifest` type comes from).
 * Unknown keys and bad values are errors that name the line and column. Defaults are filled in by the schema, so the
 * rest of compose sees a complete `Manifest`. This module loads, checks (what the schema cannot say) and derives.
 */
import { cpSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { createRequire } from 'node:module';
import type { ErrorObject } from 'ajv';
import { BugError, UserError } from '../lib/errors.js';
import { projectRoot } from '../lib/version.js';
import { PositionedYaml, YamlSyntaxError as YamlError } from '../lib/yaml.js';
import { MANIFEST_SCHEMA, type ImageSourceKind, type ImageSpec, type KubeletConfig, type KubeletSource, type Manifest } from './manifest-schema.js';

export { MANIFEST_SCHEMA, WEEKDAYS } from './manifest-schema.js';
export type { ImageSourceKind, ImageSpec, InitramfsConfig, KubeletConfig, KubeletSource, Manifest, UpgradeConfig, UpgradeStrategy } from './manifest-schema.js';

const require = createRequire(import.meta.url);
// ajv is CommonJS; load it the way that works under NodeNext ESM.
const AjvClass = require('ajv').default as typeof import('ajv').default;

/** An image of the manifest with its source resolved against the manifest's directory. */
export interface ResolvedImage {
  spec: ImageSpec;
  kind: ImageSourceKind;
  /** Absolute path of the source (directory for rootfs, file otherwise). */
  path: string;
  /** "name:tag" */
  ref: string;
  /** File name of the OCI archive in /usr/share/fcos/images. */
  file: string;
}

/** A loaded manifest: the validated value plus where it came from. */
export interface LoadedManifest {
  manifest: Manifest;
  path: string;
  dir: string;
  /** Absolute overlay directory, when the manifest names one. */
  overlayDir?: string;
  /** The manifest's images with their sources resolved (absolute, checked to exist inside the manifest dir). */
  images: ResolvedImage[];
  text: string;
}

let validator: ReturnType<InstanceType<typeof AjvClass>['compile']> | undefined;
function getValidator() {
  if (!validator) {
    const ajv = new AjvClass({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
    validator = ajv.compile(MANIFEST_SCHEMA);
  }
  return validator;
}

export interface ManifestIssue {
  line: number;
  col: number;
  path: string;
  message: string;
}

function describe(err: ErrorObject): { pointer: string; key?: string; message: string } {
  const at = err.instancePath || '/';
  const badName = (err as ErrorObject & { propertyName?: string }).propertyName ?? (err.keyword === 'propertyNames' ? (err.params as { propertyName?: string }).propertyName : undefined);
  if (badName !== undefined) {
    return { pointer: err.instancePath, key: badName, message: `${at}: invalid name '${badName}' (letters, digits and _ only)` };
  }
  if ((err.keyword === 'minProperties' || err.keyword === 'maxProperties') && /^\/images\/\d+\/from$/.test(err.instancePath)) {
    return { pointer: err.instancePath, message: `${at}: give exactly one of rootfs, tarball, oci-archive` };
  }
  switch (err.keyword) {
    case 'additionalProperties': {
      const k = (err.params as { additionalProperty: string }).additionalProperty;
      return { pointer: err.instancePath, key: k, message: `unknown key '${k}'${err.instancePath ? ` in ${err.instancePath}` : ''}` };
    }
    case 'required':
      return { pointer: err.instancePath, message: `missing required key '${(err.params as { missingProperty: string }).missingProperty}'` };
    case 'enum':
      return { pointer: err.instancePath, message: `${at}: must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}` };
    case 'pattern':
      return { pointer: err.instancePath, message: `${at}: invalid value (must match ${(err.params as { pattern: string }).pattern})` };
    default:
      return { pointer: err.instancePath, message: `${at}: ${err.message ?? 'invalid'}` };
  }
}

/** Parse and validate manifest text. Throws a UserError listing every problem with file:line:col. */
export function parseManifest(text: string, file = '<manifest>'): Manifest {
  return parseManifestDoc(text, file).manifest;
}

function issueError(file: string, issues: { line: number; col: number; message: string }[]): UserError {
  return new UserError(`invalid manifest ${file}:\n${issues.map((i) => `  ${file}:${i.line}:${i.col}: ${i.message}`).join('\n')}`);
}

/** parseManifest, also returning the positioned document (for errors found later, e.g. missing image files). */
export function parseManifestDoc(text: string, file = '<manifest>'): { manifest: Manifest; doc: PositionedYaml } {
  let doc: PositionedYaml;
  try {
    doc = new PositionedYaml(text);
  } catch (e) {
    if (e instanceof YamlError) {
      throw new UserError(`${file}:${e.line ?? 1}:${e.col ?? 1}: YAML syntax error: ${e.message}`);
    }
    throw e;
  }
  const value = doc.value;
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new UserError(`${file}:1:1: the manifest must be a YAML mapping`);
  }
  const v = getValidator();
  // useDefaults mutates: validate a copy so positions still match the parsed document.
  const data = structuredClone(value) as Record<string, unknown>;
  const control = controlCharIssues(doc, value);
  if (!v(data)) throw issueError(file, sortIssues([...manifestIssues(doc, v.errors ?? []), ...control]));
  const m = data as unknown as Manifest;
  if (!m.ref) m.ref = `${m.name}/${m.suite}/x86_64/stable`;
  const dup = firstDuplicate(m.packages);
  if (dup) {
    const i = m.packages.indexOf(dup, m.packages.indexOf(dup) + 1);
    const p = doc.position(`/packages/${i}`);
    throw new UserError(`invalid manifest ${file}:\n  ${file}:${p.line}:${p.col}: package '${dup}' is listed twice`);
  }
  for (const s of ['{serial}']) {
    if (!m.version.scheme.includes(s)) {
      const p = doc.position('/version/scheme');
      throw new UserError(`invalid manifest ${file}:\n  ${file}:${p.line}:${p.col}: version scheme must contain ${s} (to keep versions unique)`);
    }
  }
  const issues = [...control, ...overlayIssues(doc, m), ...kargIssues(doc, m), ...kubeletIssues(doc, m), ...imageIssues(doc, m), ...upgradeIssues(doc, m)];
  if (issues.length) throw issueError(file, sortIssues(issues));
  return { manifest: m, doc };
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Every string of a manifest ends up in a file (apt sources, os-release, presets, update.conf, OCI configs) or on a
 * command line (packages, dracut, kernel arguments): a newline or another control character in one of them could
 * inject a line or an argument. None of them has a use for one, so keys and values with one are refused.
 */
function controlCharIssues(doc: PositionedYaml, value: unknown): ManifestIssue[] {
  const out: ManifestIssue[] = [];
  const show = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
  const walk = (v: unknown, pointer: string) => {
    if (typeof v === 'string') {
      if (CONTROL_CHAR.test(v)) out.push({ ...doc.position(pointer), path: pointer, message: `${pointer || '/'}: control character in ${show(v)} (newlines, tabs and other control characters are not allowed)` });
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${pointer}/${i}`));
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (CONTROL_CHAR.test(k)) out.push({ ...doc.position(pointer, k), path: pointer, message: `${pointer || '/'}: control character in key ${show(k)}` });
        else walk(x, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      }
    }
  };
  walk(value, '');
  return out;
}

/** The overlay must be a path inside the manifest's directory (the realpath check follows in loadManifest). */
function overlayIssues(doc: PositionedYaml, m: Manifest): ManifestIssue[] {
  if (m.overlay === undefined || CONTROL_CHAR.test(m.overlay)) return [];
  const why = confinedPathProblem(m.overlay);
  return why ? [{ ...doc.position('/overlay'), path: '/overlay', message: `/overlay: '${m.overlay}' ${why}` }] : [];
}

/** Kernel arguments that pass the schema but that the image build would refuse (images/kargs.ts assembleKargs). */
function kargIssues(doc: PositionedYaml, m: Manifest): ManifestIssue[] {
  const out: ManifestIssue[] = [];
  m['kernel-arguments'].forEach((a, i) => {
    const key = a.split('=', 1)[0]!;
    if (key === 'ostree' && !CONTROL_CHAR.test(a)) out.push({ ...doc.position(`/kernel-arguments/${i}`), path: `/kernel-arguments/${i}`, message: `/kernel-arguments/${i}: '${a}': ostree= is set by ostree itself (remove it)` });
  });
  return out;
}

/** `strategy: periodic` needs its window; a window without `periodic` is a mistake. */
function upgradeIssues(doc: PositionedYaml, m: Manifest): ManifestIssue[] {
  const u = m.upgrade;
  if (u.strategy === 'periodic' && !u.periodic) return [{ ...doc.position('/upgrade', 'strategy'), path: '/upgrade/strategy', message: '/upgrade: strategy periodic needs upgrade.periodic (days, start, length-minutes)' }];
  if (u.strategy !== 'periodic' && u.periodic) return [{ ...doc.position('/upgrade', 'periodic'), path: '/upgrade/periodic', message: `/upgrade/periodic: only used with strategy periodic (strategy is ${u.strategy})` }];
  return [];
}

/** The agent's configuration file (/usr/lib/fcos/update.conf, shell variables) for a manifest. */
export function updateConfText(m: Pick<Manifest, 'ref' | 'upgrade'>): string {
  const u = m.upgrade;
  const lines = [
    '# fcos-update defaults, from the manifest (upgrade:). Override any of them in /etc/fcos/update.conf (Ignition).',
    `REF='${m.ref}'`,
    `URL='${u.url ?? ''}'`,
    `STRATEGY='${u.strategy}'`,
    `CHECK_INTERVAL_MIN='${u['check-interval-minutes']}'`,
    `WINDOW_DAYS='${(u.periodic?.days ?? []).join(' ')}'`,
    `WINDOW_START='${u.periodic?.start ?? ''}'`,
    `WINDOW_MINUTES='${u.periodic?.['length-minutes'] ?? ''}'`,
    `BOOT_TRIES='${u['boot-tries']}'`,
    `HEALTH_TIMEOUT='${u['health-timeout-seconds']}'`,
  ];
  return lines.join('\n') + '\n';
}

/** The kubelet source a manifest asks for: explicit `source`, else `url` when a url is given, else `go-module`. */
export function kubeletSource(k: KubeletConfig): KubeletSource {
  return k.source ?? (k.url !== undefined ? 'url' : 'go-module');
}

/** Combinations the schema cannot express: url needs sha256, go-module takes no url, url takes no version. */
function kubeletIssues(doc: PositionedYaml, m: Manifest): ManifestIssue[] {
  const k = m.kubelet;
  const out: ManifestIssue[] = [];
  const at = (key: string, message: string) => out.push({ ...doc.position('/kubelet', key), path: `/kubelet/${key}`, message });
  const src = kubeletSource(k);
  if (src === 'url') {
    if (k.url === undefined) at('source', '/kubelet/source: source url needs url (and sha256)');
    else if (k.sha256 === undefined) at('url', '/kubelet/url: url needs sha256 (the sha256 of the kubelet binary)');
    if (k.version !== undefined) at('version', '/kubelet/version: with source url the version is read from the binary; remove version');
  } else {
    if (k.url !== undefined) at('url', '/kubelet/url: url needs source: url (source is go-module)');
    if (k.sha256 !== undefined && k.url === undefined) at('sha256', '/kubelet/sha256: sha256 only applies to source: url (with url)');
  }
  return out;
}

/** The key of an image's single `from` entry. */
export function imageSourceKind(spec: ImageSpec): ImageSourceKind {
  return Object.keys(spec.from)[0] as ImageSourceKind;
}

/** File name of an image's OCI archive in /usr/share/fcos/images ("localhost/fcos/web:1" → "localhost_fcos_web_1.tar"). */
export function imageArchiveName(spec: Pick<ImageSpec, 'name' | 'tag'>): string {
  return `${spec.name}_${spec.tag}`.replace(/[^A-Za-z0-9._-]/g, '_') + '.tar';
}

/** The refs of the images fcos builds itself (ostree/k8s/images.ts); a manifest image may not reuse them. */
const BUILTIN_IMAGE_REFS = ['localhost/fcos/pause:3.10', 'localhost/fcos/hello:1'];

function imageIssues(doc: PositionedYaml, m: Manifest): ManifestIssue[] {
  const images = m.images ?? [];
  const out: ManifestIssue[] = [];
  const add = (pointer: string, key: string | undefined, message: string) => out.push({ ...doc.position(pointer, key), path: pointer, message });
  if (images.length && !m.kubelet.enabled) add('', 'images', '/images: preloaded images need kubelet.enabled: true (the preload unit comes with the kubelet payload)');
  const refs = new Map<string, number>();
  const files = new Map<string, number>();
  images.forEach((img, i) => {
    const ref = `${img.name}:${img.tag}`;
    if (BUILTIN_IMAGE_REFS.includes(ref)) add(`/images/${i}/name`, undefined, `/images/${i}: ${ref} is built in (kubelet.enabled ships it); use another name or tag`);
    else if (refs.has(ref)) add(`/images/${i}/name`, undefined, `/images/${i}: ${ref} is listed twice (first at /images/${refs.get(ref)})`);
    else if (files.has(imageArchiveName(img))) add(`/images/${i}/name`, undefined, `/images/${i}: ${ref} maps to the same archive name as /images/${files.get(imageArchiveName(img))}`);
    refs.set(ref, i);
    files.set(imageArchiveName(img), i);
    const kind = imageSourceKind(img);
    const rel = img.from[kind]!;
    const why = confinedPathProblem(rel);
    if (why) add(`/images/${i}/from/${kind}`, undefined, `/images/${i}/from/${kind}: '${rel}' ${why}`);
  });
  return out;
}

/** Why a manifest-relative path is not allowed (absolute, or escaping the manifest's directory), else undefined. */
export function confinedPathProblem(rel: string): string | undefined {
  if (isAbsolute(rel) || rel.startsWith('~')) return 'must be relative to the manifest directory';
  const n = posix.normalize(rel);
  if (n === '..' || n.startsWith('../')) return 'escapes the manifest directory (../ is not allowed)';
  return undefined;
}

/** Resolve the manifest's images against its directory: each source must exist, with the right type, inside it. */
export function resolveImages(m: Manifest, dir: string, doc: PositionedYaml, file: string): ResolvedImage[] {
  const out: ResolvedImage[] = [];
  const issues: ManifestIssue[] = [];
  let realDir: string;
  try {
    realDir = realpathSync(dir);
  } catch {
    realDir = dir;
  }
  (m.images ?? []).forEach((spec, i) => {
    const kind = imageSourceKind(spec);
    const rel = spec.from[kind]!;
    const pointer = `/images/${i}/from/${kind}`;
    const bad = (message: string) => issues.push({ ...doc.position(pointer), path: pointer, message: `${pointer}: ${message}` });
    const abs = resolve(dir, rel);
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      bad(`not found: ${abs}`);
      return;
    }
    const r = relative(realDir, real);
    if (r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) {
      bad(`'${rel}' resolves to ${real}, outside the manifest directory (a symlink?)`);
      return;
    }
    const st = statSync(real);
    if (kind === 'rootfs' && !st.isDirectory()) bad(`'${rel}' is not a directory (rootfs takes a directory; use tarball for a .tar)`);
    else if (kind !== 'rootfs' && !st.isFile()) bad(`'${rel}' is not a file`);
    else out.push({ spec, kind, path: real, ref: `${spec.name}:${spec.tag}`, file: imageArchiveName(spec) });
  });
  if (issues.length) throw issueError(file, issues);
  return out;
}

export function manifestIssues(doc: PositionedYaml, errors: ErrorObject[]): ManifestIssue[] {
  const seen = new Set<string>();
  const out: ManifestIssue[] = [];
  for (const e of errors) {
    const d = describe(e);
    const pos = doc.position(d.pointer, d.key);
    const key = `${pos.line}:${pos.col}:${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ...pos, path: d.pointer, message: d.message });
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}

function sortIssues<T extends { line: number; col: number }>(issues: T[]): T[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

function firstDuplicate(xs: string[]): string | undefined {
  const s = new Set<string>();
  for (const x of xs) {
    if (s.has(x)) return x;
    s.add(x);
  }
  return undefined;
}

/** The default manifest shipped with fcos. */
export function defaultManifestPath(): string {
  return join(projectRoot(), 'ostree', 'manifests', 'default.yaml');
}

export interface DerivedManifestChanges {
  /** Files added to (or replacing files in) the copied overlay: path relative to the overlay → text (mode 0644) or {text, mode}. */
  files?: Record<string, string | { text: string; mode: number }>;
  /** Packages added to the manifest's `packages:` list. */
  packages?: string[];
}

/**
 * Write a copy of the default manifest into dir (emptied first) with its overlay copied next to it, plus changes:
 * how tests and benches make a v2 that differs by a file or a package. Returns the new manifest's path.
 */
export function derivedManifest(dir: string, changes: DerivedManifestChanges = {}): string {
  const src = defaultManifestPath();
  let text = readFileSync(src, 'utf8');
  const overlayLine = /^overlay:\s*(\S+)\s*$/m;
  const m = overlayLine.exec(text);
  if (!m) throw new UserError(`${src} has no overlay: line`, 'the default manifest must name its overlay directory (overlay: <dir>)');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(join(dirname(src), m[1]!), join(dir, 'overlay'), { recursive: true });
  text = text.replace(overlayLine, 'overlay: overlay');
  for (const [p, f] of Object.entries(changes.files ?? {})) {
    const problem = confinedPathProblem(p);
    if (problem) throw new BugError(`derivedManifest: ${p}: ${problem}`);
    const dest = join(dir, 'overlay', p);
    mkdirSync(dirname(dest), { recursive: true });
    const { text: body, mode } = typeof f === 'string' ? { text: f, mode: 0o644 } : f;
    writeFileSync(dest, body, { mode });
  }
  if (changes.packages?.length) {
    if (!/^packages:\s*$/m.test(text)) throw new UserError(`${src} has no packages: block`, 'the default manifest must list its packages in a block (packages:)');
    text = text.replace(/^packages:\s*$/m, `packages:\n${changes.packages.map((p) => `  - ${p}\n`).join('').trimEnd()}`);
  }
  const manifest = join(dir, 'manifest.yaml');
  writeFileSync(manifest, text);
  return manifest;
}

/**
 * The overlay's real path: an existing directory whose real path (symlinks resolved) stays inside the manifest's
 * directory, so that a manifest from someone else cannot copy host files (/root, /etc) into an image.
 */
function resolveOverlay(rel: string, dir: string, doc: PositionedYaml, file: string): string {
  const p = doc.position('/overlay');
  const bad = (message: string) => issueError(file, [{ ...p, message: `/overlay: ${message}` }]);
  const abs = resolve(dir, rel);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    throw bad(`overlay directory not found: ${abs}`);
  }
  let realDir: string;
  try {
    realDir = realpathSync(dir);
  } catch {
    realDir = dir;
  }
  const r = relative(realDir, real);
  if (r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) throw bad(`'${rel}' resolves to ${real}, outside the manifest directory (a symlink?)`);
  if (!statSync(real).isDirectory()) throw bad(`overlay is not a directory: ${abs}`);
  return real;
}

/** Read, parse and validate a manifest file (default: the shipped one). */
export function loadManifest(path?: string): LoadedManifest {
  const p = resolve(path ?? defaultManifestPath());
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`manifest not found: ${p}`);
    if (code === 'EISDIR') throw new UserError(`manifest is a directory: ${p}`, 'pass the YAML file, e.g. ostree/manifests/default.yaml');
    throw e;
  }
  const { manifest, doc } = parseManifestDoc(text, p);
  const dir = dirname(p);
  let overlayDir: string | undefined;
  if (manifest.overlay) overlayDir = resolveOverlay(manifest.overlay, dir, doc, p);
  const images = resolveImages(manifest, dir, doc, p);
  return { manifest, path: p, dir, overlayDir, images, text };
}

/** The apt sources of a manifest, one-line style, in a fixed order. */
export function aptSources(m: Manifest): string[] {
  const comps = m.components.join(' ');
  const out = [`deb ${m.mirror} ${m.suite} ${comps}`];
  if (m.updates) {
    out.push(`deb ${m.mirror} ${m.suite}-updates ${comps}`);
    if (m['security-mirror']) out.push(`deb ${m['security-mirror']} ${m.suite}-security ${comps}`);
  }
  return out;
}

/** Expand the version scheme. */
export function expandVersion(m: Manifest, sourceDateEpoch: number, serial: number): string {
  const d = new Date(sourceDateEpoch * 1000);
  const date = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return m.version.scheme.replace(/\{major\}/g, m.version.major).replace(/\{date\}/g, date).replace(/\{serial\}/g, String(serial));
}
