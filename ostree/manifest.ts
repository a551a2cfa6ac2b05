/**
 * The compose manifest: a YAML file in the spirit of an rpm-ostree treefile / mkosi config.
 *
 * Validated with a JSON schema (ajv). Unknown keys and bad values are errors that name the line and column.
 * Defaults are filled in by the schema, so the rest of compose sees a complete `Manifest`.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { ErrorObject } from 'ajv';
import { UserError } from '../lib/errors.js';
import { projectRoot } from '../lib/version.js';
import { PositionedYaml, YamlError } from './yamlpos.js';

const require = createRequire(import.meta.url);
// ajv is CommonJS; load it the way that works under NodeNext ESM.
const AjvClass = require('ajv').default as typeof import('ajv').default;

export interface InitramfsConfig {
  /** dracut modules to add (besides "ostree ignition"). */
  modules: string[];
  /** dracut modules to omit. */
  omit: string[];
  /** kernel drivers to add (dracut --add-drivers). */
  drivers: string[];
  /** compression: dracut --zstd/--gzip/... */
  compress: 'zstd' | 'gzip' | 'xz' | 'lz4' | 'none';
  /** extra dracut arguments, verbatim. */
  args: string[];
}

export interface KubeletConfig {
  /** Placeholder section: validated here, implemented by the kubelet work. */
  enabled: boolean;
  version?: string;
  url?: string;
  sha256?: string;
}

export interface Manifest {
  /** OS name (os-release ID-like), e.g. "fcos". */
  name: string;
  'pretty-name'?: string;
  version: {
    /** e.g. "13" for trixie. */
    major: string;
    /** Template: {major}, {date} (YYYYMMDD of SOURCE_DATE_EPOCH, UTC), {serial} (0, 1, … among builds with the same prefix). */
    scheme: string;
  };
  /** ostree ref, e.g. fcos/trixie/x86_64/stable. */
  ref: string;
  suite: string;
  architecture: 'amd64';
  mirror: string;
  /** Debian security archive; "" disables it. */
  'security-mirror': string;
  components: string[];
  /** Also use <suite>-updates and <suite>-security. */
  updates: boolean;
  /** mmdebstrap --variant. */
  variant: 'minbase' | 'apt' | 'essential' | 'required';
  packages: string[];
  /** Overlay directory, relative to the manifest's directory. */
  overlay?: string;
  units: { enable: string[]; disable: string[]; mask: string[] };
  'kernel-arguments': string[];
  /** Disk image size, e.g. "8G" or "4096M". */
  'image-size': string;
  /** Fixed SOURCE_DATE_EPOCH; default: the Date of the suite's InRelease (or $SOURCE_DATE_EPOCH). */
  'source-date-epoch'?: number;
  initramfs: InitramfsConfig;
  kubelet: KubeletConfig;
}

/** A loaded manifest: the validated value plus where it came from. */
export interface LoadedManifest {
  manifest: Manifest;
  path: string;
  dir: string;
  /** Absolute overlay directory, when the manifest names one. */
  overlayDir?: string;
  text: string;
}

const pkgName = { type: 'string', pattern: '^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?(=[A-Za-z0-9.+~:-]+)?$' };
const unitName = { type: 'string', pattern: '^[A-Za-z0-9:_.@\\\\-]+\\.(service|socket|timer|target|path|mount|automount|swap|slice|scope|device)$' };
const strList = { type: 'array', items: { type: 'string', minLength: 1 }, default: [] };
const dracutName = { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' };

export const MANIFEST_SCHEMA = {
  $id: 'https://fcos.invalid/manifest.json',
  type: 'object',
  additionalProperties: false,
  required: ['packages'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$', default: 'fcos' },
    'pretty-name': { type: 'string', minLength: 1 },
    version: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        major: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', default: '13' },
        scheme: { type: 'string', pattern: '^[A-Za-z0-9._{}-]+$', default: '{major}.{date}.{serial}' },
      },
    },
    ref: { type: 'string', pattern: '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$' },
    suite: { type: 'string', pattern: '^[a-z][a-z0-9-]*$', default: 'trixie' },
    architecture: { type: 'string', enum: ['amd64'], default: 'amd64' },
    mirror: { type: 'string', pattern: '^(https?|file)://', default: 'http://deb.debian.org/debian' },
    'security-mirror': { type: 'string', pattern: '^((https?|file)://.*)?$', default: 'http://deb.debian.org/debian-security' },
    components: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9-]+$' }, minItems: 1, default: ['main'] },
    updates: { type: 'boolean', default: true },
    variant: { type: 'string', enum: ['minbase', 'apt', 'essential', 'required'], default: 'minbase' },
    packages: { type: 'array', items: pkgName, minItems: 1 },
    overlay: { type: 'string', minLength: 1 },
    units: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enable: { type: 'array', items: unitName, default: [] },
        disable: { type: 'array', items: unitName, default: [] },
        mask: { type: 'array', items: unitName, default: [] },
      },
    },
    'kernel-arguments': { type: 'array', items: { type: 'string', pattern: '^[^\\s]+$' }, default: [] },
    'image-size': { type: 'string', pattern: '^[1-9][0-9]*(M|G|MiB|GiB)$', default: '8G' },
    'source-date-epoch': { type: 'integer', minimum: 315532800 },
    initramfs: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        modules: { type: 'array', items: dracutName, default: [] },
        omit: { type: 'array', items: dracutName, default: [] },
        drivers: { type: 'array', items: dracutName, default: [] },
        compress: { type: 'string', enum: ['zstd', 'gzip', 'xz', 'lz4', 'none'], default: 'zstd' },
        args: strList,
      },
    },
    kubelet: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        version: { type: 'string', pattern: '^v1\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?$' },
        url: { type: 'string', pattern: '^(https?|file)://' },
        sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
      },
    },
  },
} as const;

let validator: ReturnType<InstanceType<typeof AjvClass>['compile']> | undefined;
function getValidator() {
  if (!validator) {
    const ajv = new AjvClass({ allErrors: true, useDefaults: true, strict: true });
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
  if (!v(data)) {
    const issues = manifestIssues(doc, v.errors ?? []);
    throw new UserError(
      `invalid manifest ${file}:\n${issues.map((i) => `  ${file}:${i.line}:${i.col}: ${i.message}`).join('\n')}`,
    );
  }
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
  return m;
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
  const manifest = parseManifest(text, p);
  const dir = dirname(p);
  let overlayDir: string | undefined;
  if (manifest.overlay) {
    overlayDir = resolve(dir, manifest.overlay);
    let ok = false;
    try {
      ok = statSync(overlayDir).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) throw new UserError(`${p}: overlay directory not found: ${overlayDir}`);
  }
  return { manifest, path: p, dir, overlayDir, text };
}

/** Image size in bytes ("8G" → 8 GiB). */
export function imageSizeBytes(m: Pick<Manifest, 'image-size'>): number {
  const r = /^(\d+)(M|G|MiB|GiB)$/.exec(m['image-size']);
  if (!r) throw new UserError(`bad image-size '${m['image-size']}'`);
  const n = Number(r[1]);
  return r[2]!.startsWith('G') ? n * 1024 ** 3 : n * 1024 ** 2;
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
