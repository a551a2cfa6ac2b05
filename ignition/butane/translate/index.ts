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
 *
 * Here: the options and the result, the spec table and the steps in order. The steps live in ./ctx.ts (findings and
 * positions), ./decode.ts (2), ./checks.ts (3), ./translator.ts (4, 6 and the variants' restrictions), ./sugar.ts (5:
 * boot_device, grub) and ./marshal.ts (the output in Go's key order and JSON).
 */
import type { Finding } from '../../report.js';
import { SPECS } from '../../schema/index.js';
import { hasErrors } from '../../report.js';
import { markSource, markKey } from '../srcmap.js';
import { baseConfig, fcosFields, ignitionType, openshiftFields, restrict, type ObjType } from '../schema.js';
import { checkOpenShift, openshiftBase, wrapMachineConfig } from '../openshift.js';
import { parseGoInt, parseYaml, YamlSyntaxError } from '../yaml.js';
import { Ctx, type Obj, type TranslateOptions } from './ctx.js';
import { decode, tagOf } from './decode.js';
import { validateButane } from './checks.js';
import { Translator, variantRestrictions } from './translator.js';
import { bootDevice, checkReservedPartitions, grub } from './sugar.js';
import { canonical } from './marshal.js';

export { parseGoInt };
export { Ctx, type TranslateOptions } from './ctx.js';
export { decimalModeLooksWrong } from './checks.js';
export { mountUnit, quadletTemplate, unitNamePathEscape } from './translator.js';
export { canonical, marshalIgnition, snakePath } from './marshal.js';

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
