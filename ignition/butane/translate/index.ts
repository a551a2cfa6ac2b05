/**
 * Butane → Ignition translation (pure: text + a files-dir reader in, config + findings out).
 *
 * Steps, as Butane does them:
 *  1. parse the YAML (positions kept), read variant/version and pick the spec;
 *  2. decode against the spec's schema: unknown keys are warnings ("unused key x"), wrong types errors;
 *  3. Butane's own checks (one resource source, mount unit needs format/path, modes written in decimal…);
 *  4. translate: snake_case → camelCase, inline/local contents → data URLs, contents_local, ssh keys files;
 *  5. sugar rendered as a parent config and merged with the user's config (mount units, boot_device, grub);
 *  6. trees: walk local directories into files and links.
 * Every finding carries the YAML path and line/col.
 */
import { posix } from 'node:path';
import type { Finding } from '../../report.js';
import { SPECS } from '../../schema/index.js';
import type { GoType, ObjT as GoObjT } from '../../schema/types.js';
import { hasErrors } from '../../report.js';
import { dataUrlEscape, makeDataUrl, type DataUrl } from '../dataurl.js';
import { confineIn, ERR_NO_FILES_DIR, type FilesDir } from '../filesdir.js';
import { mergeConfigs } from '../merge.js';
import { carrySource, markSource, markKey, yamlPathOf } from '../srcmap.js';
import { baseConfig, fcosFields, ignitionType, isList, isMap, isObj, openshiftFields, restrict, snake, yamlName, type FieldType, type ObjType } from '../schema.js';
import { checkOpenShift, openshiftBase, wrapMachineConfig } from '../openshift.js';
import { parseGoInt, parseYaml, YamlSyntaxError, type SourceText, type YNode } from '../yaml.js';

export { parseGoInt };

export interface TranslateOptions {
  /** Where `local` references are read from; absent → such references are errors (as with Butane without -d). */
  filesDir?: FilesDir;
  /** Turn warnings into failure (the caller decides; findings keep their severity). */
  strict?: boolean;
  /** Never gzip inline/local contents (Butane's --no-resource-auto-compression… internal option). */
  noAutoCompression?: boolean;
  /**
   * Validates an Ignition config given inline or as a local file in ignition.config.merge/replace, as Butane
   * does (e.g. ignition/validate.ts validateConfig). Without it, such configs are embedded unchecked.
   */
  validateIgnition?: (text: string) => { version?: string; findings: Finding[] };
}

export interface TranslateResult {
  /** The Ignition config; undefined when translation failed. */
  config?: Record<string, unknown>;
  /** The Ignition spec version of the output ("3.4.0"). */
  ignitionVersion?: string;
  variant?: string;
  version?: string;
  /** openshift: the MachineConfig wrapping `config` (Butane's default output for that variant). */
  machineConfig?: Record<string, unknown>;
  findings: Finding[];
  /** Position in the Butane text of a YAML path ("$.storage.files.0.mode"), or of its closest known ancestor. */
  locate?: (yamlPath: string) => { line: number; col: number } | undefined;
  /** Whether the Butane source has a value at a YAML path. */
  inSource?: (yamlPath: string) => boolean;
}

/** Butane variant/version → Ignition spec version. */
export const SPEC_VERSIONS: Record<string, Record<string, string>> = {
  fcos: {
    '1.0.0': '3.0.0',
    '1.1.0': '3.1.0',
    '1.2.0': '3.2.0',
    '1.3.0': '3.2.0',
    '1.4.0': '3.3.0',
    '1.5.0': '3.4.0',
    '1.6.0': '3.5.0',
    '1.7.0': '3.6.0',
    '1.8.0-experimental': '3.7.0-experimental',
  },
  flatcar: { '1.0.0': '3.3.0', '1.1.0': '3.4.0', '1.2.0-experimental': '3.7.0-experimental' },
  r4e: { '1.0.0': '3.3.0', '1.1.0': '3.4.0', '1.2.0-experimental': '3.7.0-experimental' },
  fiot: { '1.0.0': '3.4.0', '1.1.0-experimental': '3.7.0-experimental' },
  openshift: {
    '4.8.0': '3.2.0',
    '4.9.0': '3.2.0',
    '4.10.0': '3.2.0',
    '4.11.0': '3.2.0',
    '4.12.0': '3.2.0',
    '4.13.0': '3.2.0',
    '4.14.0': '3.4.0',
    '4.15.0': '3.4.0',
    '4.16.0': '3.4.0',
    '4.17.0': '3.4.0',
    '4.18.0': '3.4.0',
    '4.19.0': '3.5.0',
    '4.20.0': '3.5.0',
    '4.21.0': '3.5.0',
    '4.22.0': '3.6.0',
    '4.23.0-experimental': '3.7.0-experimental',
  },
};

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Thrown inside the translator to stop at the first fatal problem of a phase. */
class Fatal extends Error {}

type Obj = Record<string, unknown>;
type Pos = { line: number; col: number };

export class Ctx {
  findings: Finding[] = [];
  /** YAML path → position of the value, and of the key for mapping entries. */
  valuePos = new Map<string, Pos>();
  keyPos = new Map<string, Pos>();
  constructor(
    readonly src: SourceText,
    readonly opts: TranslateOptions,
  ) {}
  add(severity: Finding['severity'], path: string, message: string, at: 'key' | 'value' = 'value'): void {
    const p = (at === 'key' ? this.keyPos.get(path) : undefined) ?? this.valuePos.get(path) ?? this.nearest(path);
    this.findings.push({ severity, path, ...(p ? { line: p.line, col: p.col } : {}), message });
  }
  error(path: string, message: string): void {
    this.add('error', path, message);
  }
  /**
   * An error Butane gets from Go (yaml.v3's type errors, the version lookup) rather than from its report: it has no
   * path there, so none here either; the position of the value is kept.
   */
  goError(path: string, message: string): undefined {
    this.add('error', path, message);
    this.findings[this.findings.length - 1]!.path = '$';
    return undefined;
  }
  warn(path: string, message: string, at: 'key' | 'value' = 'value'): void {
    this.add('warning', path, message, at);
  }
  /** Position of the closest ancestor we know (for paths of generated or absent fields). */
  nearest(path: string): Pos | undefined {
    let p = path;
    while (p.includes('.')) {
      p = p.slice(0, p.lastIndexOf('.'));
      const pos = this.valuePos.get(p) ?? this.keyPos.get(p);
      if (pos) return pos;
    }
    return undefined;
  }
}

export function translateButane(text: string, opts: TranslateOptions = {}): TranslateResult {
  let parsed: ReturnType<typeof parseYaml>;
  try {
    parsed = parseYaml(text);
  } catch (e) {
    if (e instanceof YamlSyntaxError) {
      return { findings: [{ severity: 'error', path: '$', ...(e.line ? { line: e.line, col: e.col } : {}), message: `error parsing YAML: ${e.message}` }] };
    }
    throw e;
  }
  let ctx = new Ctx(parsed.src, opts);
  const root = parsed.root;
  const top = root?.kind === 'map' ? root : undefined;
  const scalarOf = (k: string) => {
    const e = top?.entries.find((x) => x.key === k);
    if (!e) return undefined;
    ctx.valuePos.set(`$.${k}`, parsed.src.pos(e.value.start));
    return e.value.kind === 'scalar' && e.value.value !== null ? (typeof e.value.value === 'string' ? e.value.value : (e.value.raw ?? String(e.value.value))) : undefined;
  };
  if (root !== undefined && !top) {
    return { findings: [{ severity: 'error', path: '$', ...parsed.src.pos(root.start), message: `cannot unmarshal ${tagOf(root)} into Config (a Butane config is a YAML mapping)` }] };
  }
  const variant = scalarOf('variant');
  const version = scalarOf('version');
  // Butane's variant and version errors are Go errors, without a report path: the position is kept.
  if (!variant) return { findings: [{ severity: 'error', path: '$', ...(ctx.valuePos.get('$.variant') ?? {}), message: 'error parsing variant; must be specified' }] };
  if (!version || !SEMVER.test(version)) {
    return { variant, findings: [{ severity: 'error', path: '$', ...(ctx.valuePos.get('$.version') ?? {}), message: 'error parsing version; must be a valid semver' }] };
  }
  const ign = SPEC_VERSIONS[variant]?.[version];
  if (!ign) {
    const known = Object.keys(SPEC_VERSIONS);
    let msg = `No translator exists for variant ${variant} with version ${version}`;
    if (!SPEC_VERSIONS[variant]) msg += ` (fcos butane supports the variants ${known.join(', ')})`;
    else msg += ` (known versions: ${Object.keys(SPEC_VERSIONS[variant]!).join(', ')})`;
    return { variant, version, findings: [{ severity: 'error', path: '$', ...(ctx.valuePos.get('$.version') ?? {}), message: msg }] };
  }
  const minor = Number(ign.split('.')[1]);
  // openshift configs embed the fcos config of their generation (4.8 → fcos 1.3 … 4.22 → fcos 1.7).
  const fcosMinor = variant === 'fcos' ? Number(version.split('.')[1]) : variant === 'openshift' ? openshiftBase(version) : -1;
  const fcosLike = variant === 'fcos' || variant === 'openshift';
  let schema: ObjType = restrict(baseConfig, minor, 'yaml');
  if (fcosLike) schema = { name: 'Config', fields: [...schema.fields, ...fcosFields(fcosMinor)] };
  if (variant === 'openshift') schema = { name: 'Config', fields: [...schema.fields, ...openshiftFields()] };
  // openshift 4.8/4.9: the MCO cannot handle compressed files, so nothing is gzipped.
  if (variant === 'openshift' && (version === '4.8.0' || version === '4.9.0')) opts = { ...opts, noAutoCompression: true };

  if (opts !== ctx.opts) {
    const c2 = new Ctx(parsed.src, opts);
    c2.valuePos = ctx.valuePos;
    ctx = c2;
  }
  const result: TranslateResult = { variant, version, ignitionVersion: ign, findings: ctx.findings };
  result.locate = (p) => ctx.valuePos.get(p) ?? ctx.nearest(p);
  result.inSource = (p) => ctx.valuePos.has(p);
  try {
    // 2. decode
    const cfg = (root ? decode(ctx, schema, root, '$') : {}) as Obj;
    if (hasErrors(ctx.findings)) throw new Fatal();
    // 3. checks
    validateButane(ctx, cfg, schema, '$', fcosMinor, minor);
    if (variant === 'openshift') checkOpenShift.source(ctx, cfg, version);
    if (hasErrors(ctx.findings)) throw new Fatal();
    // 4–6. translate
    const t = new Translator(ctx, minor, ign);
    let out = t.base(cfg);
    out = t.mountUnits(cfg, out);
    t.trees(cfg, out);
    t.quadlets(cfg, out);
    if (hasErrors(ctx.findings)) throw new Fatal();
    variantRestrictions(ctx, variant, version, out);
    if (fcosLike) {
      out = bootDevice(ctx, cfg, out);
      checkReservedPartitions(ctx, out, fcosMinor, variant === 'openshift');
      out = grub(t, cfg, out);
    }
    if (hasErrors(ctx.findings)) throw new Fatal();
    (out.ignition as Obj | undefined) ?? (out.ignition = markSource({}, '$.ignition'));
    (out.ignition as Obj).version = ign;
    markKey(out.ignition as Obj, 'version', '$.version');
    if (variant === 'openshift') {
      checkOpenShift.output(ctx, cfg, out, version);
      if (hasErrors(ctx.findings)) throw new Fatal();
    }
    result.config = canonical(ignitionType(minor), out, SPECS[Math.min(minor, SPECS.length - 1)]!.tree) as Obj;
    if (variant === 'openshift') result.machineConfig = wrapMachineConfig(cfg, result.config);
  } catch (e) {
    if (!(e instanceof Fatal)) throw e;
  }
  // Findings stay in the order they were found, which is Butane's: phase by phase (YAML, the source checks in struct
  // order, the translation in struct order, trees, then the generated config), so the first error is Butane's too.
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding (YAML nodes → typed values, like yaml.v3 into Butane's structs)

function tagOf(n: YNode): string {
  if (n.kind === 'map') return '!!map';
  if (n.kind === 'seq') return '!!seq';
  const v = n.value;
  if (v === null) return '!!null';
  if (typeof v === 'boolean') return '!!bool';
  if (typeof v === 'number') return Number.isInteger(v) && !/[.eE]/.test(n.raw ?? '') ? '!!int' : '!!float';
  return '!!str';
}

function typeName(t: FieldType): string {
  if (isList(t)) return `[]${typeName(t.list)}`;
  if (isMap(t)) return `map[string]${t.map}`;
  if (isObj(t)) return t.name;
  return t;
}

function unmarshalError(n: YNode, t: FieldType): string {
  const shown = n.kind === 'scalar' ? ` \`${(n.raw ?? String(n.value)).slice(0, 40)}\`` : '';
  return `cannot unmarshal ${tagOf(n)}${shown} into ${typeName(t)}`;
}

function decode(ctx: Ctx, t: FieldType, n: YNode, path: string): unknown {
  ctx.valuePos.set(path, ctx.src.pos(n.start));
  if (n.kind === 'scalar' && n.value === null) return undefined;
  if (isObj(t)) {
    if (n.kind !== 'map') return ctx.goError(path, unmarshalError(n, t));
    const out: Obj = {};
    for (const e of n.entries) {
      const p = `${path}.${e.key}`;
      ctx.keyPos.set(p, ctx.src.pos(e.keyStart));
      ctx.valuePos.set(p, ctx.src.pos(e.value.start));
      const fl = t.fields.find((x) => yamlName(x) === e.key);
      if (!fl) {
        ctx.warn(p, `unused key ${e.key}`, 'key');
        continue;
      }
      const v = decode(ctx, fl.type, e.value, p);
      if (v !== undefined) out[e.key] = v;
    }
    return out;
  }
  if (isMap(t)) {
    if (n.kind !== 'map') return ctx.goError(path, unmarshalError(n, t));
    const out: Obj = {};
    for (const e of n.entries) {
      const p = `${path}.${e.key}`;
      ctx.keyPos.set(p, ctx.src.pos(e.keyStart));
      const v = decode(ctx, t.map, e.value, p);
      if (v !== undefined) out[e.key] = v;
    }
    return out;
  }
  if (isList(t)) {
    if (n.kind !== 'seq') return ctx.goError(path, unmarshalError(n, t));
    return n.items.map((it, i) => decode(ctx, t.list, it, `${path}.${i}`) ?? zero(t.list));
  }
  if (n.kind !== 'scalar') return ctx.goError(path, unmarshalError(n, t));
  const v = n.value;
  switch (t) {
    case 'string':
      if (typeof v === 'string') return v;
      return n.raw ?? String(v);
    case 'int': {
      if (!n.quoted && n.raw !== undefined) {
        const i = parseGoInt(n.raw) ?? goFloatToInt(n.raw);
        if (i !== undefined) return i;
      }
      // Aliased or merged values have no text of their own; the schema already read them like yaml.v3.
      if (!n.quoted && n.raw === undefined && typeof v === 'number' && Number.isInteger(v)) return v;
      return ctx.goError(path, unmarshalError(n, t));
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      // yaml.v3 reads the YAML 1.1 spellings into a bool field, quoted or not (decode.go, "compatibility with the 1.1 spec").
      if (typeof v === 'string' && YAML11_BOOL[v] !== undefined) return YAML11_BOOL[v];
      return ctx.goError(path, unmarshalError(n, t));
  }
}

const YAML11_BOOL: Record<string, boolean> = Object.fromEntries([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'].map((k) => [k, true]),
  ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'].map((k) => [k, false]),
]);

/**
 * A plain float (`420.0`, `4.2e2`) read into an int field: yaml.v3 converts it with Go's int64(), which truncates
 * toward zero (decode.go, reflect.Int case of float64). Outside int64, or .inf/.nan, it is a type error.
 */
function goFloatToInt(raw: string): number | undefined {
  const s = raw.replace(/_/g, '');
  if (!/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(s)) return undefined;
  const f = Number(s);
  if (!Number.isFinite(f) || Math.abs(f) >= 2 ** 63) return undefined;
  return Math.trunc(f) || 0;
}

function zero(t: FieldType): unknown {
  if (isObj(t)) return {};
  if (isList(t)) return [];
  return t === 'string' ? '' : t === 'int' ? 0 : false;
}

// ---------------------------------------------------------------------------------------------------------
// Butane's own validation of the source config

const ERR_TOO_MANY_RESOURCE_SOURCES = 'only one of the following can be set: inline, local, source';
const ERR_TOO_MANY_SYSTEMD_SOURCES = 'only one of the following can be set: contents, contents_local';
const ERR_DECIMAL_MODE = 'unreasonable mode would be reasonable if specified in octal; remember to add a leading zero';
const ERR_MOUNT_UNIT_NO_PATH = 'path is required if with_mount_unit is true and format is not swap';
const ERR_MOUNT_UNIT_NO_FORMAT = 'format is required if with_mount_unit is true';
const ERR_TREE_NO_LOCAL = 'local is required';
const ERR_REUSE_BY_LABEL =
  'partitions cannot be reused by label; number must be specified except on boot disk (/dev/disk/by-id/coreos-boot-disk) or when wipe_table is true';
const ERR_WRONG_PARTITION_NUMBER = 'incorrect partition number; a new partition will be created using reserved label';

/** fcosMinor: the fcos base of the config (-1: none); minor: the Ignition spec minor (the base v0_N is 3.(N-1)). */
function validateButane(ctx: Ctx, v: unknown, t: FieldType, path: string, fcosMinor: number, minor: number): void {
  if (isList(t)) {
    (v as unknown[] | undefined)?.forEach((x, i) => validateButane(ctx, x, t.list, `${path}.${i}`, fcosMinor, minor));
    return;
  }
  if (!isObj(t) || v === undefined) return;
  const o = v as Obj;
  switch (t.name) {
    case 'Resource': {
      let n = 0;
      let field = '';
      for (const k of ['local', 'inline', 'source']) if (o[k] !== undefined) (n++, (field = k));
      // fcos 1.0 (base v0_1/validate.go) has only inline and source, and reports the conflict at inline.
      if (n > 1) ctx.error(`${path}.${minor === 0 ? 'inline' : field}`, ERR_TOO_MANY_RESOURCE_SOURCES);
      break;
    }
    case 'Filesystem':
      if (o.with_mount_unit === true && minor < 3) {
        // Base v0_2/v0_3 (before fcos 1.4): no swap units; path and format are both required.
        if (!o.path) ctx.error(`${path}.path`, ERR_MOUNT_UNIT_NO_PATH);
        if (!o.format) ctx.error(`${path}.format`, ERR_MOUNT_UNIT_NO_FORMAT);
      } else if (o.with_mount_unit === true) {
        if (!o.format) ctx.error(`${path}.format`, ERR_MOUNT_UNIT_NO_FORMAT);
        else if (o.format !== 'swap' && !o.path) ctx.error(`${path}.path`, ERR_MOUNT_UNIT_NO_PATH);
        else if (fcosMinor >= 6 && o.format !== 'swap' && !/^\/(etc|var)(\/|$)/.test(String(o.path))) {
          ctx.error(`${path}.path`, 'path must be under /etc or /var if with_mount_unit is true');
        }
      }
      break;
    case 'File':
    case 'Directory':
      if (typeof o.mode === 'number' && decimalModeLooksWrong(o.mode, t.name === 'Directory')) ctx.warn(`${path}.mode`, ERR_DECIMAL_MODE);
      break;
    case 'Tree':
      if (!o.local) ctx.error(path, ERR_TREE_NO_LOCAL);
      break;
    case 'Unit':
    case 'Dropin':
      if (o.contents !== undefined && o.contents_local !== undefined) ctx.error(`${path}.contents_local`, ERR_TOO_MANY_SYSTEMD_SOURCES);
      break;
    case 'Config':
      // fcos 1.6+: partitions on a disk that is not wiped can only be reused by number (except the boot disk).
      if (fcosMinor >= 6) {
        const mirrored = new Set((((o.boot_device as Obj | undefined)?.mirror as Obj | undefined)?.devices as string[] | undefined) ?? []);
        ((((o.storage as Obj | undefined) ?? {}).disks as Obj[] | undefined) ?? []).forEach((disk, i) => {
          // Mirrored boot disks get wipe_table: true from boot_device.
          if (disk.device === '/dev/disk/by-id/coreos-boot-disk' || disk.wipe_table === true || mirrored.has(String(disk.device))) return;
          ((disk.partitions as Obj[] | undefined) ?? []).forEach((p, j) => {
            if (!p.number && p.label !== undefined) ctx.warn(`${path}.storage.disks.${i}.partitions.${j}.number`, ERR_REUSE_BY_LABEL);
          });
        });
      }
      break;
    case 'BootDevice':
      validateBootDevice(ctx, o, path, fcosMinor);
      break;
    case 'GrubUser':
      if (!o.name) ctx.error(`${path}.name`, 'field "name" is required');
      if (!o.password_hash) ctx.error(`${path}.password_hash`, 'field "password_hash" is required');
      break;
  }
  for (const fl of t.fields) {
    const k = yamlName(fl)!;
    if (o[k] !== undefined) validateButane(ctx, o[k], fl.type, `${path}.${k}`, fcosMinor, minor);
  }
}

/** Butane's BootDevice / BootDeviceLuks / BootDeviceMirror checks, per fcos version. */
function validateBootDevice(ctx: Ctx, d: Obj, path: string, fcosMinor: number): void {
  const luks = (d.luks as Obj | undefined) ?? {};
  const mirror = (d.mirror as Obj | undefined) ?? {};
  const devices = (mirror.devices as string[] | undefined) ?? [];
  const tang = (luks.tang as Obj[] | undefined) ?? [];
  const cexEnabled = (luks.cex as Obj | undefined)?.enabled === true;
  const s390 = fcosMinor >= 6;
  if (devices.length > 0 && d.layout === undefined) {
    const msg = 'boot_device.layout should be specified when boot_device.mirror is specified';
    if (fcosMinor >= 7) ctx.error(`${path}.mirror`, msg);
    else ctx.warn(`${path}.mirror`, msg);
  }
  if (d.layout !== undefined) {
    const layout = String(d.layout);
    switch (layout) {
      case 'aarch64':
      case 'ppc64le':
      case 'x86_64':
        break;
      case 's390x-eckd':
      case 's390x-zfcp':
        if (!s390) ctx.error(`${path}.layout`, layoutMessage(s390));
        else if (!luks.device) ctx.error(`${path}.layout`, 'device is required for layouts: s390x-eckd, s390x-zfcp');
        else if (!(layout === 's390x-eckd' ? /\/dev\/dasd[a-z]$/ : /\/dev\/sd[a-z]$/).test(String(luks.device))) {
          ctx.error(`${path}.layout`, 'device name must start with /dev/dasd on s390x-eckd layout or /dev/sd on s390x-zfcp layout');
        }
        break;
      case 's390x-virt':
        if (!s390) ctx.error(`${path}.layout`, layoutMessage(s390));
        break;
      default:
        ctx.error(`${path}.layout`, layoutMessage(s390));
    }
    if (s390 && layout.startsWith('s390x') && devices.length > 0) ctx.error(`${path}.layout`, 'mirroring not supported on layouts: s390x-eckd, s390x-zfcp, s390x-virt');
  }
  // CEX (1.6+) is only valid on s390x and excludes Clevis.
  if (s390 && cexEnabled) {
    if (d.layout === undefined) ctx.error(`${path}.luks.cex`, 'when using cex the targeted architecture must match s390x');
    else if (!String(d.layout).startsWith('s390x')) ctx.error(`${path}.layout`, 'when using cex the targeted architecture must match s390x');
    if (tang.length > 0 || luks.tpm2 === true) ctx.error(`${path}.luks`, 'cex cannot be used together with clevis (tang, tpm2)');
  }
  // 1.7+: a LUKS device needs an unlock method.
  if (fcosMinor >= 7 && luks.device) {
    const hasTang = tang.some((t) => Object.keys(t).length > 0);
    if (!hasTang && luks.tpm2 !== true && !cexEnabled) ctx.error(`${path}.luks`, 'no method specified for luks');
  }
  if (devices.length === 1) ctx.error(`${path}.mirror.devices`, 'mirroring requires at least two devices');
}

function layoutMessage(s390: boolean): string {
  return s390 ? 'layout must be one of: aarch64, ppc64le, s390x-eckd, s390x-virt, s390x-zfcp, x86_64' : 'layout must be one of: aarch64, ppc64le, x86_64';
}

/** Butane's CheckForDecimalMode: the mode is odd, but read as octal digits it would be a typical mode. */
export function decimalModeLooksWrong(mode: number, directory: boolean): boolean {
  if (mode < 0 || mode > 7777) return false;
  let corrected = 0;
  for (let div = 1000; div > 0; div = Math.floor(div / 10)) {
    const digit = Math.floor(mode / div) % 10;
    if (digit > 7) return false;
    corrected = (corrected << 3) | digit;
  }
  return !isTypicalMode(mode, directory) && isTypicalMode(corrected, directory);
}

function isTypicalMode(mode: number, directory: boolean): boolean {
  if (mode === 0) return true;
  const perms = [mode & 0o7, (mode & 0o70) >> 3, (mode & 0o700) >> 6];
  let hadR = false;
  let hadW = false;
  let hadX = false;
  for (const perm of perms) {
    const r = (perm & 4) !== 0;
    const w = (perm & 2) !== 0;
    const x = (perm & 1) !== 0;
    if ((!r && hadR) || (!w && hadW) || (!x && hadX)) return false;
    if (x && hadR && !hadX) return false;
    if ((w || x) && !r) return false;
    hadR ||= r;
    hadW ||= w;
    hadX ||= x;
  }
  if (!hadR) return false;
  if (directory) {
    if (!hadX) return false;
    if (mode & 0o4000) return false;
    if (mode & 0o3000 && !hadW) return false;
  } else {
    if (mode & 0o6000) {
      if (!hadX) return false;
      if (mode & 2) return false;
    }
    if (mode & 0o1000) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Translation

class Translator {
  constructor(
    readonly ctx: Ctx,
    readonly minor: number,
    readonly ignitionVersion: string,
  ) {}

  private local(path: string, ref: string): Uint8Array | undefined {
    const fd = this.ctx.opts.filesDir;
    if (!fd) {
      this.ctx.error(path, ERR_NO_FILES_DIR);
      return undefined;
    }
    const c = confineIn(fd, ref);
    if ('error' in c) {
      this.ctx.error(path, c.error);
      return undefined;
    }
    try {
      return fd.read(c.rel);
    } catch (e) {
      this.ctx.error(path, (e as Error).message);
      return undefined;
    }
  }

  dataUrl(contents: Uint8Array, compression: string | undefined): DataUrl {
    // fcos 1.0 (base v0_1/translate.go:84): always the URL-escaped form, the compression left as the user set it.
    if (this.minor === 0) return { source: 'data:,' + dataUrlEscape(contents) };
    return makeDataUrl(contents, compression, !this.ctx.opts.noAutoCompression);
  }

  /** Generic snake→camel copy, with the Butane-only fields handled per type. */
  convert(t: FieldType, v: unknown, path: string): unknown {
    if (v === undefined) return undefined;
    if (isList(t)) return markSource((v as unknown[]).map((x, i) => this.convert(t.list, x, `${path}.${i}`)), path);
    if (!isObj(t)) return v;
    const o = v as Obj;
    const out: Obj = markSource({}, path);
    for (const fl of t.fields) {
      const k = yamlName(fl)!;
      if (fl.json === undefined || o[k] === undefined) continue;
      out[fl.json] = this.convert(fl.type, o[k], `${path}.${k}`);
    }
    switch (t.name) {
      case 'Resource': {
        const isConfig = path.startsWith('$.ignition.config.');
        for (const k of ['local', 'inline']) {
          if (o[k] === undefined) continue;
          markKey(out, 'source', `${path}.${k}`);
          // The compression comes from inline/local only when the user did not set one (MakeDataURL returns nil then).
          if (!o.compression) markKey(out, 'compression', `${path}.${k}`);
        }
        if (o.local !== undefined) {
          const data = this.local(`${path}.local`, String(o.local));
          if (data && isConfig) this.checkIgnitionConfig(`${path}.local`, data);
          if (data) this.setSource(out, data);
        }
        if (o.inline !== undefined) {
          const data = Buffer.from(String(o.inline), 'utf8');
          if (isConfig) this.checkIgnitionConfig(`${path}.inline`, data);
          this.setSource(out, data);
        }
        break;
      }
      case 'PasswdUser': {
        const files = o.ssh_authorized_keys_local as string[] | undefined;
        if (files && files.length > 0) {
          const keys = (out.sshAuthorizedKeys as string[] | undefined) ?? markSource([], `${path}.ssh_authorized_keys_local`);
          if (!this.ctx.opts.filesDir) this.ctx.error(`${path}.ssh_authorized_keys_local`, ERR_NO_FILES_DIR);
          else
            files.forEach((f, i) => {
              const data = this.local(`${path}.ssh_authorized_keys_local.${i}`, f);
              if (!data) return;
              for (const line of Buffer.from(data).toString('utf8').split(/\r?\n/)) {
                if (line === '') continue;
                markKey(keys, keys.length, `${path}.ssh_authorized_keys_local.${i}`);
                keys.push(line);
              }
            });
          if (keys.length > 0) out.sshAuthorizedKeys = keys;
        }
        break;
      }
      case 'Unit':
      case 'Dropin':
        if (o.contents_local !== undefined && o.contents_local !== '') {
          markKey(out, 'contents', `${path}.contents_local`);
          const data = this.local(`${path}.contents_local`, String(o.contents_local));
          if (data) out.contents = Buffer.from(data).toString('utf8');
        }
        break;
    }
    return out;
  }

  /** Butane's ValidateIgnitionConfig: a merged/replacing config of another spec version is only warned about. */
  private checkIgnitionConfig(path: string, data: Uint8Array): void {
    const validate = this.ctx.opts.validateIgnition;
    if (!validate) return;
    const text = Buffer.from(data).toString('utf8');
    let version: unknown;
    try {
      version = (JSON.parse(text) as { ignition?: { version?: unknown } })?.ignition?.version;
    } catch (e) {
      this.ctx.error(path, `config is not valid JSON: ${(e as Error).message}`);
      return;
    }
    if (version !== this.ignitionVersion) {
      this.ctx.warn(`${path}.version`, 'skipping validation for the merge/replace ignition config due to an unkown version');
      return;
    }
    for (const f of validate(text).findings) {
      this.ctx.add(f.severity, path, `${f.path && f.path !== '$' ? `${f.path}: ` : ''}${f.message}`);
    }
  }

  private setSource(out: Obj, data: Uint8Array): void {
    const d = this.dataUrl(data, out.compression as string | undefined);
    out.source = d.source;
    if (d.compression !== undefined) out.compression = d.compression;
  }

  base(cfg: Obj): Obj {
    const out = this.convert(restrict(baseConfig, this.minor, 'yaml'), cfg, '$') as Obj;
    out.ignition ??= markSource({}, '$.ignition');
    return out;
  }

  /** with_mount_unit: a .mount (or .swap) unit per filesystem, merged under the user's units. */
  mountUnits(cfg: Obj, out: Obj): Obj {
    const storage = (cfg.storage as Obj | undefined) ?? {};
    const fss = (storage.filesystems as Obj[] | undefined) ?? [];
    const luks = (storage.luks as Obj[] | undefined) ?? [];
    const units: Obj[] = markSource([], '$.storage.filesystems');
    for (const [i, fs] of fss.entries()) {
      if (fs.with_mount_unit !== true) continue;
      const device = String(fs.device ?? '');
      let remote = false;
      if (device.startsWith('/dev/mapper/') || device.startsWith('/dev/disk/by-id/dm-name-')) {
        for (const l of luks) {
          if (device === `/dev/mapper/${String(l.name)}` || device === `/dev/disk/by-id/dm-name-${String(l.name)}`) {
            if ((((l.clevis as Obj | undefined)?.tang as unknown[] | undefined) ?? []).length > 0) {
              remote = true;
              break;
            }
          }
        }
      }
      units.push(markSource(mountUnit(fs, remote), `$.storage.filesystems.${i}.with_mount_unit`, { whole: true }));
    }
    if (units.length === 0) return out;
    return mergeConfigs(markSource({ systemd: markSource({ units }, '$.storage.filesystems') }, '$'), out) as Obj;
  }

  /** systemd.quadlets (3.7.0-experimental): files under /etc/containers/systemd (rootful) or …/users. */
  quadlets(cfg: Obj, out: Obj): void {
    const qs = (((cfg.systemd as Obj | undefined) ?? {}).quadlets as Obj[] | undefined) ?? [];
    if (qs.length === 0) return;
    const storage = ((out.storage as Obj | undefined) ?? (out.storage = {})) as Obj;
    const files = ((storage.files as Obj[] | undefined) ?? (storage.files = [])) as Obj[];
    const links = ((storage.links as Obj[] | undefined) ?? (storage.links = [])) as Obj[];
    const dirs = (storage.directories as Obj[] | undefined) ?? [];
    qs.forEach((q, i) => {
      const ypath = `$.systemd.quadlets.${i}`;
      const name = String(q.name ?? '');
      const dest = `${q.rootful === true ? '/etc/containers/systemd' : '/etc/containers/systemd/users'}/${name}`;
      const taken = [...files, ...links, ...dirs].some((n) => n.path === dest);
      if (taken) {
        this.ctx.error(ypath, 'matching filesystem node has existing contents or different type');
        return;
      }
      const template = quadletTemplate(name);
      if (template) {
        links.push({ path: dest, target: template });
        return;
      }
      let data: Uint8Array | undefined;
      if (q.contents_local) data = this.local(`${ypath}.contents_local`, String(q.contents_local));
      if (q.contents) data = Buffer.from(String(q.contents), 'utf8');
      const file: Obj = { path: dest, contents: {} };
      files.push(file);
      if (data) this.setSource(file.contents as Obj, data);
    });
  }

  /** storage.trees: every regular file becomes a file (data URL, 0644/0755), every symlink a link. */
  trees(cfg: Obj, out: Obj): void {
    const trees = (((cfg.storage as Obj | undefined) ?? {}).trees as Obj[] | undefined) ?? [];
    if (trees.length === 0) return;
    const storage = ((out.storage as Obj | undefined) ?? (out.storage = {})) as Obj;
    const files = ((storage.files as Obj[] | undefined) ?? (storage.files = [])) as Obj[];
    const links = ((storage.links as Obj[] | undefined) ?? (storage.links = [])) as Obj[];
    const dirs = (storage.directories as Obj[] | undefined) ?? [];
    if (dirs.length > 0) storage.directories = dirs;
    const exists = (p: string) => [...files, ...links, ...dirs].some((n) => n.path === p);
    const fd = this.ctx.opts.filesDir;
    for (let i = 0; i < trees.length; i++) {
      const tree = trees[i]!;
      const ypath = `$.storage.trees.${i}`;
      if (!fd) {
        this.ctx.error(ypath, ERR_NO_FILES_DIR);
        return;
      }
      const c = confineIn(fd, String(tree.local));
      if ('error' in c) {
        this.ctx.error(ypath, c.error);
        continue;
      }
      const kind = fd.kind(c.rel);
      if (kind === 'missing') {
        this.ctx.error(ypath, `stat ${String(tree.local)}: no such file or directory`);
        continue;
      }
      if (kind !== 'dir') {
        this.ctx.error(ypath, 'root of tree must be a directory');
        continue;
      }
      const destBase = tree.path ? String(tree.path) : '/';
      const hasOwner = Object.keys((tree.user as Obj | undefined) ?? {}).length > 0 || Object.keys((tree.group as Obj | undefined) ?? {}).length > 0;
      const owner = (p: string): Obj => ({ path: p, ...(tree.user ? { user: { ...(tree.user as Obj) } } : {}), ...(tree.group ? { group: { ...(tree.group as Obj) } } : {}) });
      /**
       * The config's node at dest in list (it may refine it) or a new one; undefined (with the error reported) when
       * the config's node already has contents, or another kind of node has that path.
       */
      const claim = (list: Obj[], dest: string, hasContents: (n: Obj) => boolean): Obj | undefined => {
        const found = list.find((n) => n.path === dest);
        if (found ? hasContents(found) : exists(dest)) {
          this.ctx.error(ypath, 'matching filesystem node has existing contents or different type');
          return undefined;
        }
        if (found) return found;
        const created = markSource(owner(dest), ypath, { whole: true });
        list.push(created);
        return created;
      };
      let entries: ReturnType<typeof fd.walk>;
      try {
        entries = fd.walk(c.rel);
      } catch (e) {
        this.ctx.error(ypath, (e as Error).message);
        continue;
      }
      for (const ent of entries) {
        const dest = joinPosix(destBase, ent.rel);
        if (ent.kind === 'dir') {
          // 3.7.0-experimental: ownership or dir_mode on a tree also creates its directories.
          if (tree.dir_mode === undefined && !hasOwner) continue;
          if (exists(dest)) {
            this.ctx.error(ypath, 'matching filesystem node has existing contents or different type');
            continue;
          }
          dirs.push(markSource({ ...owner(dest), mode: tree.dir_mode ?? 0o755 }, ypath, { whole: true }));
          storage.directories = dirs;
          continue;
        }
        if (ent.kind === 'file') {
          const file = claim(files, dest, (f) => Boolean((f.contents as Obj | undefined)?.source));
          if (!file) continue;
          let data: Uint8Array;
          try {
            data = fd.read(ent.rel === '' ? c.rel : c.rel ? `${c.rel}/${ent.rel}` : ent.rel);
          } catch (e) {
            this.ctx.error(ypath, (e as Error).message);
            continue;
          }
          const contents = ((file.contents as Obj | undefined) ?? (file.contents = {})) as Obj;
          this.setSource(contents, data);
          markSource(contents, ypath, { whole: true });
          if (file.mode === undefined) {
            file.mode = tree.file_mode ?? (ent.executable ? 0o755 : 0o644);
            markKey(file, 'mode', ypath);
          }
        } else if (ent.kind === 'symlink') {
          const link = claim(links, dest, (l) => Boolean(l.target));
          if (!link) continue;
          link.target = ent.target!.replace(/\\/g, '/');
          markKey(link, 'target', ypath);
        } else {
          this.ctx.error(ypath, 'trees may only contain files, directories, and symlinks');
        }
      }
    }
  }
}

/** Quadlet `foo@bar.container` → its template `foo@.container`; undefined when not a template instance. */
export function quadletTemplate(name: string): string | undefined {
  const at = name.indexOf('@');
  const dot = name.indexOf('.');
  if (at === -1 || at + 1 === dot) return undefined;
  return `${name.slice(0, at)}@.${name.slice(dot + 1)}`;
}

/**
 * Go's path.Join: the non-empty elements joined by '/', then cleaned. A relative tree `path` stays relative (the
 * generated config is then refused by Ignition's "path not absolute", as Butane does).
 */
function joinPosix(a: string, b: string): string {
  const joined = [a, b].filter((x) => x !== '').join('/');
  if (joined === '') return '';
  const norm = posix.normalize(joined);
  return norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm;
}

/** systemd's path escaping (go-systemd UnitNamePathEscape): "/var/lib/x-y" → "var-lib-x\x2dy". */
export function unitNamePathEscape(p: string): string {
  if (p === '/') return '-';
  const trimmed = p.replace(/\/+/g, '/').replace(/^\/|\/$/g, '');
  let out = '';
  const bytes = Buffer.from(trimmed, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    const ch = String.fromCharCode(c);
    if (ch === '/') out += '-';
    else if (/[A-Za-z0-9:_]/.test(ch) || (ch === '.' && i > 0)) out += ch;
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return out;
}

/** The unit Butane generates for `with_mount_unit: true` (its mountUnitTemplate). */
export function mountUnit(fs: Obj, remote: boolean): Obj {
  const device = String(fs.device);
  const opts = ((fs.mount_options as string[] | undefined) ?? []).slice();
  if (remote) opts.push('_netdev');
  const options = opts.length > 0 ? `\nOptions=${opts.join(',')}` : '';
  if (fs.format === 'swap') {
    return {
      contents: `# Generated by Butane\n[Swap]\nWhat=${device}${options}\n\n[Install]\nRequiredBy=swap.target`,
      enabled: true,
      name: `${unitNamePathEscape(device)}.swap`,
    };
  }
  const esc = unitNamePathEscape(device);
  return {
    contents:
      `# Generated by Butane\n[Unit]\nRequires=systemd-fsck@${esc}.service\nAfter=systemd-fsck@${esc}.service\n\n` +
      `[Mount]\nWhere=${String(fs.path)}\nWhat=${device}\nType=${String(fs.format)}${options}\n\n` +
      `[Install]\nRequiredBy=${remote ? 'remote-fs.target' : 'local-fs.target'}`,
    enabled: true,
    name: `${unitNamePathEscape(String(fs.path))}.mount`,
  };
}

/** What flatcar, r4e and fiot cannot do (Butane's field filters and forbidden-field checks). */
function variantRestrictions(ctx: Ctx, variant: string, version: string, out: Obj): void {
  const storage = (out.storage as Obj | undefined) ?? {};
  if (variant === 'flatcar' && version.endsWith('-experimental')) {
    ((storage.luks as Obj[] | undefined) ?? []).forEach((l, i) => {
      if (l.cex && Object.keys(l.cex as Obj).length > 0) ctx.error(`$.storage.luks.${i}.cex`, 'cex is not currently supported on the target platform');
    });
  }
  if (variant === 'flatcar' && !version.endsWith('-experimental')) {
    ((storage.luks as Obj[] | undefined) ?? []).forEach((l, i) => {
      if (l.clevis && Object.keys(l.clevis as Obj).length > 0) ctx.error(`$.storage.luks.${i}.clevis`, 'clevis is not supported in this spec version');
    });
  }
  if (variant === 'r4e' || variant === 'fiot') {
    // In the order Butane's field filters walk the output (Ignition's Go struct order: kernelArguments, then storage).
    const ka = (out.kernelArguments as Obj | undefined) ?? {};
    if (((ka.shouldExist as unknown[]) ?? []).length > 0 || ((ka.shouldNotExist as unknown[]) ?? []).length > 0) {
      ctx.error('$.kernel_arguments', 'kernel argument customization is not supported in this spec version');
    }
    const checks: [string, string][] = [
      ['disks', 'disk customization is not supported in this spec version'],
      ['filesystems', 'filesystem customization is not supported in this spec version'],
      ['luks', 'luks is not supported in this spec version'],
      ['raid', 'raid is not supported in this spec version'],
    ];
    for (const [k, msg] of checks) if (((storage[k] as unknown[] | undefined) ?? []).length > 0) ctx.error(`$.storage.${k}`, msg);
  }
}

// ---------------------------------------------------------------------------------------------------------
// fcos sugar

const RESERVED_TYPE_GUID = '8DA63339-0007-60C0-C436-083AC8230908';
const BIOS_TYPE_GUID = '21686148-6449-6E6F-744E-656564454649';
const PREP_TYPE_GUID = '9E1A2D38-C612-4316-AA26-8B49521E5A8B';
const ESP_TYPE_GUID = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';

/** boot_device: LUKS (tpm2/tang/threshold/cex) and/or mirroring of the boot disk, rendered as storage config. */
function bootDevice(_ctx: Ctx, cfg: Obj, out: Obj): Obj {
  const bd = cfg.boot_device as Obj | undefined;
  if (!bd) return out;
  const luks = (bd.luks as Obj | undefined) ?? {};
  const mirror = (bd.mirror as Obj | undefined) ?? {};
  const tang = (luks.tang as Obj[] | undefined) ?? [];
  const cex = luks.cex as Obj | undefined;
  const wantLuks = luks.tpm2 === true || tang.length > 0 || cex?.enabled === true;
  const devices = (mirror.devices as string[] | undefined) ?? [];
  const wantMirror = devices.length > 0;
  if (!wantLuks && !wantMirror) return out;
  const layout = bd.layout as string | undefined;
  let wantBIOS = false;
  let wantEFI = false;
  let wantPReP = false;
  if (layout === undefined || layout === 'x86_64') wantBIOS = wantEFI = true;
  else if (layout === 'aarch64') wantEFI = true;
  else if (layout === 'ppc64le') wantPReP = true;

  const disks: Obj[] = [];
  const filesystems: Obj[] = [];
  const storage: Obj = {};
  if (wantMirror) {
    devices.forEach((device, i) => {
      const n = i + 1;
      const partitions: Obj[] = [];
      if (wantBIOS) partitions.push({ label: `bios-${n}`, sizeMiB: 1, typeGuid: BIOS_TYPE_GUID });
      else if (wantPReP) partitions.push({ label: `prep-${n}`, sizeMiB: 4, typeGuid: PREP_TYPE_GUID });
      else partitions.push({ label: `reserved-${n}`, sizeMiB: 1, typeGuid: RESERVED_TYPE_GUID });
      if (wantEFI) partitions.push({ label: `esp-${n}`, sizeMiB: 127, typeGuid: ESP_TYPE_GUID });
      else partitions.push({ label: `reserved-${n}`, sizeMiB: 1, typeGuid: RESERVED_TYPE_GUID });
      partitions.push({ label: `boot-${n}`, sizeMiB: 384 }, { label: `root-${n}` });
      disks.push({ device, partitions, wipeTable: true });
      if (wantEFI) filesystems.push({ device: `/dev/disk/by-partlabel/esp-${n}`, format: 'vfat', label: `esp-${n}`, wipeFilesystem: true });
    });
    const raidDevices = (prefix: string) => devices.map((_d, i) => `/dev/disk/by-partlabel/${prefix}-${i + 1}`);
    storage.raid = [
      { devices: raidDevices('boot'), level: 'raid1', name: 'md-boot', options: ['--metadata=1.0'] },
      { devices: raidDevices('root'), level: 'raid1', name: 'md-root' },
    ];
    filesystems.push({ device: '/dev/md/md-boot', format: 'ext4', label: 'boot', wipeFilesystem: true });
  }
  if (wantLuks) {
    let luksDevice: string;
    if (layout === 's390x-eckd') luksDevice = `${String(luks.device)}2`;
    else if (layout === 's390x-zfcp') luksDevice = `${String(luks.device)}4`;
    else if (wantMirror) luksDevice = '/dev/md/md-root';
    else luksDevice = '/dev/disk/by-partlabel/root';
    const entry: Obj = {};
    if (cex?.enabled === true) entry.cex = { enabled: true };
    else {
      const clevis: Obj = {};
      if (tang.length > 0) clevis.tang = tang.map((x) => ({ ...x }));
      if (luks.threshold !== undefined) clevis.threshold = luks.threshold;
      if (luks.tpm2 !== undefined) clevis.tpm2 = luks.tpm2;
      entry.clevis = clevis;
    }
    Object.assign(entry, { device: luksDevice, ...(luks.discard !== undefined ? { discard: luks.discard } : {}), label: 'luks-root', name: 'root', wipeVolume: true });
    storage.luks = [entry];
  }
  filesystems.push({ device: wantLuks ? '/dev/mapper/root' : '/dev/md/md-root', format: 'xfs', label: 'root', wipeFilesystem: true });
  if (disks.length > 0) storage.disks = disks;
  storage.filesystems = filesystems;
  // Butane maps what it generates back to the boot_device fields that asked for it.
  disks.forEach((d, i) => markSource(d, `$.boot_device.mirror.devices.${i}`, { whole: true }));
  ((storage.raid as Obj[] | undefined) ?? []).forEach((r) => markSource(r, '$.boot_device.mirror', { whole: true }));
  ((storage.luks as Obj[] | undefined) ?? []).forEach((l) => markSource(l, '$.boot_device.luks', { whole: true }));
  filesystems.forEach((f) => markSource(f, wantLuks ? '$.boot_device.luks' : '$.boot_device.mirror', { whole: true }));
  for (const k of Object.keys(storage)) markSource(storage[k], '$.boot_device');
  return mergeConfigs(markSource({ storage: markSource(storage, '$.boot_device') }, '$'), out) as Obj;
}

/**
 * Every fcos version (and openshift): a partition with a reserved label of the boot disk layout but another number
 * gets a new partition (config/fcos/v1_0/translate.go:50 … v1_7_exp/translate.go:81).
 * fcos 1.7+: a root partition should have 8 GiB, and cannot grow if an auto-positioned partition follows it.
 */
function checkReservedPartitions(ctx: Ctx, out: Obj, fcosMinor: number, openshift: boolean): void {
  const reserved: Record<string, number> = { 'BIOS-BOOT': 1, 'PowerPC-PReP-boot': 1, 'EFI-SYSTEM': 2, boot: 3, root: 4 };
  ((((out.storage as Obj | undefined) ?? {}).disks as Obj[] | undefined) ?? []).forEach((disk, i) => {
    const parts = (disk.partitions as Obj[] | undefined) ?? [];
    parts.forEach((p, j) => {
      if (typeof p.label !== 'string') return;
      // Found on the merged output, reported where the partition came from (Butane's TranslateReportPaths).
      // openshift: the check runs inside the fcos translation, and Butane maps its path with the MachineConfig's
      // translations (prefixed spec.config), which never match: the output path, snake_cased, is reported.
      const json = (field: string) => `$.storage.disks.${i}.partitions.${j}.${field}`;
      const at = (field: string) => (openshift ? snakePath(json(field)) : yamlPathOf(out, json(field), (p) => ctx.valuePos.has(p)));
      if (fcosMinor >= 7 && p.label === 'root') {
        if (!p.sizeMiB) {
          if (parts.some((q, k) => k !== j && !q.startMiB)) {
            ctx.warn(at('label'), 'root partition cannot expand; it is set to fill available space but is followed by an auto-positioned partition');
          }
        } else if ((p.sizeMiB as number) < 8192) ctx.warn(at('sizeMiB'), 'root should have 8GiB of space assigned');
      }
      if (disk.wipeTable === true) return;
      const want = reserved[p.label];
      if (want !== undefined && (p.number ?? 0) !== want) ctx.warn(at('label'), ERR_WRONG_PARTITION_NUMBER);
    });
  });
}

/** grub.users (fcos 1.5+): /boot/grub2/user.cfg with the superusers and their PBKDF2 hashes. */
function grub(t: Translator, cfg: Obj, out: Obj): Obj {
  const users = (((cfg.grub as Obj | undefined) ?? {}).users as Obj[] | undefined) ?? [];
  if (users.length === 0) return out;
  const text =
    '# Generated by Butane\n\n' +
    `set superusers="${users.map((u) => String(u.name)).join(' ')}"\n` +
    users.map((u) => `password_pbkdf2 ${String(u.name)} ${String(u.password_hash)}`).join('\n') +
    '\n';
  const d = t.dataUrl(Buffer.from(text, 'utf8'), undefined);
  const whole = <T>(x: T) => markSource(x, '$.grub.users', { whole: true });
  const rendered = markSource(
    {
      storage: markSource({
        files: markSource([whole({ path: '/boot/grub2/user.cfg', append: [{ source: d.source, compression: d.compression }] })], '$.grub.users'),
        filesystems: markSource([whole({ device: '/dev/disk/by-label/boot', format: 'ext4', path: '/boot' })], '$.grub.users'),
      }, '$.grub.users'),
    },
    '$',
  );
  return mergeConfigs(rendered, out) as Obj;
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Order keys as Ignition's Go structs marshal them and drop empty objects/lists (omitempty; Butane marshals with
 * clarketm/json, which omits zero structs too). `go` is the same level of Ignition's own type tree: its non-pointer
 * fields without omitempty (a unit's `name`, a link's `target` before 3.3, …) are written even when the Butane
 * config left them out ("name": ""), as Go writes them, whenever their struct is written.
 */
export function canonical(t: FieldType, v: unknown, go: GoType | undefined = undefined, item = false): unknown {
  if (v === undefined || v === null) return undefined;
  if (isList(t)) {
    const itemGo = go?.k === 'array' ? go.item : undefined;
    const arr = (v as unknown[]).map((x) => canonical(t.list, x, itemGo, true) ?? (isObj(t.list) ? {} : x));
    carrySource(arr, v);
    return arr.length > 0 ? arr : undefined;
  }
  if (isObj(t)) {
    const o = v as Obj;
    const goObj = go?.k === 'object' ? go : undefined;
    const vals: Obj = {};
    for (const fl of t.fields) {
      if (fl.json === undefined) continue;
      const x = canonical(fl.type, o[fl.json], goObj?.fields[fl.json]);
      // Partition.Number is a plain int with omitempty in Ignition's Go types: 0 is not written.
      if (t.name === 'Partition' && fl.json === 'number' && x === 0) continue;
      if (x !== undefined) vals[fl.json] = x;
    }
    if (Object.keys(vals).length === 0 && !item) return undefined;
    const out: Obj = {};
    carrySource(out, o);
    for (const fl of t.fields) {
      if (fl.json === undefined) continue;
      if (vals[fl.json] !== undefined) out[fl.json] = vals[fl.json];
      else if (goObj && alwaysWritten(goObj, fl.json)) out[fl.json] = '';
      // Spec 3.0's ConfigReference.Source is a *string without omitempty (v3_0/types/schema.go:18): null.
      else if (goObj?.struct === 'ConfigReference' && fl.json === 'source') out[fl.json] = null;
    }
    return out;
  }
  return v;
}

/** A string field of Ignition's Go types that is neither a pointer nor omitempty (Partition.number and Tang.url are omitempty). */
function alwaysWritten(go: GoObjT, field: string): boolean {
  return Boolean(go.nonNull?.includes(field)) && go.fields[field]?.k === 'string' && !(go.struct === 'Tang' && field === 'url');
}

/** JSON as Go's encoding/json writes it (HTML-safe escapes), compact or indented by two spaces. */
export function marshalIgnition(config: unknown, pretty: boolean): string {
  const s = pretty ? JSON.stringify(config, null, 2) : JSON.stringify(config);
  return s.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** YAML path for an Ignition JSON path when the fields map one to one ("$.storage.files.0.sizeMiB" → snake). */
export function snakePath(path: string): string {
  return path
    .split('.')
    .map((p) => snake(p))
    .join('.');
}
