/**
 * The `openshift` variant: an fcos config of the matching generation wrapped in a MachineConfig, with the
 * fields the Machine Config Operator cannot handle refused (Butane's config/openshift/v4_X).
 */
import yaml from 'js-yaml';
import type { Ctx } from './translate/ctx.js';
import { yamlPathOf } from './srcmap.js';

type Obj = Record<string, unknown>;

export const ROLE_LABEL_KEY = 'machineconfiguration.openshift.io/role';
const MC_API_VERSION = 'machineconfiguration.openshift.io/v1';
const MC_KIND = 'MachineConfig';

/** openshift 4.x minor → the fcos 1.x minor it embeds (4.8–4.13: fcos 1.3, 4.14–4.18: 1.5, 4.19–4.21: 1.6, 4.22: 1.7). */
export function openshiftBase(version: string): number {
  const minor = Number(version.split('.')[1]);
  if (minor <= 13) return 3;
  if (minor <= 18) return 5;
  if (minor <= 21) return 6;
  if (minor === 22) return 7;
  return 8;
}

const minorOf = (version: string) => Number(version.split('.')[1]);
const CEX_KARG = 'rd.luks.key=/etc/luks/cex.key';

function source(ctx: Ctx, cfg: Obj, version: string): void {
  const md = (cfg.metadata as Obj | undefined) ?? {};
  if (!md.name) ctx.error('$.metadata.name', 'metadata.name is required');
  if (!((md.labels as Obj | undefined) ?? {})[ROLE_LABEL_KEY]) ctx.error('$.metadata.labels', `${ROLE_LABEL_KEY} label is required`);
  const os = (cfg.openshift as Obj | undefined) ?? {};
  if (os.kernel_type !== undefined && !['', 'default', 'realtime'].includes(String(os.kernel_type))) {
    ctx.error('$.openshift.kernel_type', 'must be empty, "default", or "realtime"');
  }
  if (minorOf(version) >= 19) {
    const kargs = (os.kernel_arguments as string[] | undefined) ?? [];
    const bootCex = ((((cfg.boot_device as Obj | undefined)?.luks as Obj | undefined)?.cex as Obj | undefined)?.enabled ?? false) === true;
    const rootCex = ((((cfg.storage as Obj | undefined) ?? {}).luks as Obj[] | undefined) ?? []).some((l) => l.name === 'root' && (l.cex as Obj | undefined)?.enabled === true);
    if ((bootCex || rootCex) && !kargs.includes(CEX_KARG)) {
      ctx.error('$.openshift.kernel_arguments', `'${CEX_KARG}' must be set as kernel argument when CEX is enabled for the boot device`);
    }
  }
}

/** FIPS (before 4.20), field filters, and the RHCOS/MCO support checks on the desugared config. */
function output(ctx: Ctx, cfg: Obj, out: Obj, version: string): void {
  const minor = minorOf(version);
  const os = (cfg.openshift as Obj | undefined) ?? {};
  const storage = (out.storage as Obj | undefined) ?? {};
  const passwd = (out.passwd as Obj | undefined) ?? {};
  // Found on the desugared output, reported where it came from in the Butane source (as Butane's filters are).
  const at = (jsonPath: string) => yamlPathOf(out, jsonPath, (p) => ctx.valuePos.has(p));

  // FIPS 140-2 does not allow LUKS's default XTS mode (Butane stopped overriding it in 4.20).
  if (os.fips === true && minor < 20) {
    for (const l of (storage.luks as Obj[] | undefined) ?? []) {
      const options = ((l.options as string[] | undefined) ?? []).slice();
      if (options.some((o) => o === '--cipher' || o.startsWith('--cipher=') || o === '-c')) continue;
      l.options = [...options, '--cipher', 'aes-cbc-essiv:sha256'];
    }
  }

  const files = (storage.files as Obj[] | undefined) ?? [];
  const users = (passwd.users as Obj[] | undefined) ?? [];
  const errorsBefore = ctx.findings.filter((f) => f.severity === 'error').length;

  // In Butane's order: what RHCOS and the MCO refuse (validateRHCOSSupport, validateMCOSupport), and only when
  // there is none of that, the field filters, in the struct order of the config.
  ((storage.filesystems as Obj[] | undefined) ?? []).forEach((fs, i) => {
    if (fs.format === 'btrfs') ctx.error(at(`$.storage.filesystems.${i}.format`), 'btrfs is not supported in this spec version');
  });
  ((storage.filesystems as Obj[] | undefined) ?? []).forEach((fs, i) => {
    if (minor >= 14 && fs.format === 'none') ctx.error(at(`$.storage.filesystems.${i}.format`), 'format "none" is not supported in this spec version');
  });
  files.forEach((f, i) => {
    const contents = (f.contents as Obj | undefined) ?? {};
    // Any source Go's url.Parse reads whose scheme is not data (a scheme-less one included); one it cannot parse is
    // left to Ignition's validation.
    if (typeof contents.source === 'string' && !/^data:/i.test(contents.source) && goUrlParses(contents.source)) {
      ctx.error(at(`$.storage.files.${i}.contents.source`), 'file contents source must be data URL in this spec version');
    }
    if (minor >= 10 && typeof f.mode === 'number' && (f.mode & ~0o777) !== 0) ctx.error(at(`$.storage.files.${i}.mode`), 'special mode bits are not supported in this spec version');
  });
  users.forEach((u, i) => {
    if (u.name !== 'core') ctx.error(at(`$.passwd.users.${i}.name`), 'users other than "core" are not supported in this spec version');
  });
  if (ctx.findings.filter((f) => f.severity === 'error').length > errorsBefore) return;

  const kargs = (out.kernelArguments as Obj | undefined) ?? {};
  if (((kargs.shouldExist as unknown[]) ?? []).length > 0 || ((kargs.shouldNotExist as unknown[]) ?? []).length > 0) {
    ctx.error(at('$.kernelArguments'), 'this section cannot be used for kernel arguments in this spec version; use openshift.kernel_arguments instead');
  }
  if (((passwd.groups as unknown[]) ?? []).length > 0) ctx.error(at('$.passwd.groups'), 'groups are not supported in this spec version');
  // PasswdUser's fields in struct order; password_hash is allowed from 4.13.
  const userFields = ['gecos', 'groups', 'homeDir', 'noCreateHome', 'noLogInit', 'noUserGroup', ...(minor <= 12 ? ['passwordHash'] : []), 'primaryGroup', 'shell', 'shouldExist', 'system', 'uid'];
  users.forEach((u, i) => {
    for (const f of userFields) {
      const v = u[f];
      if (v !== undefined && !(Array.isArray(v) && v.length === 0)) {
        ctx.error(at(`$.passwd.users.${i}.${f}`), 'fields other than "name", "ssh_authorized_keys", and "password_hash" (4.13.0+) are not supported in this spec version');
      }
    }
  });
  if (((storage.directories as unknown[]) ?? []).length > 0) ctx.error(at('$.storage.directories'), 'directories are not supported in this spec version');
  files.forEach((f, i) => {
    const contents = (f.contents as Obj | undefined) ?? {};
    if (((f.append as unknown[]) ?? []).length > 0) ctx.error(at(`$.storage.files.${i}.append`), 'appending to files is not supported in this spec version');
    if (minor <= 9 && contents.compression) ctx.error(at(`$.storage.files.${i}.contents.compression`), 'file compression is not supported in this spec version');
    if (((contents.httpHeaders as unknown[]) ?? []).length > 0) ctx.error(at(`$.storage.files.${i}.contents.httpHeaders`), 'file HTTP headers are not supported in this spec version');
  });
  if (((storage.links as unknown[]) ?? []).length > 0) ctx.error(at('$.storage.links'), 'links are not supported in this spec version');
}

export const checkOpenShift = { source, output };

/** Whether Go's url.Parse accepts s (roughly: no control characters, no bad %-escape, no colon in a scheme-less first segment). */
function goUrlParses(s: string): boolean {
  if (/[\x00-\x1f\x7f]/.test(s) || /%(?![0-9A-Fa-f]{2})/.test(s)) return false;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(s)) return true;
  const first = s.split('/')[0]!;
  return !first.includes(':');
}

/** The MachineConfig: metadata from the config, the Ignition config in spec.config, the MachineConfig-only fields. */
export function wrapMachineConfig(cfg: Obj, ignition: Obj): Obj {
  const md = (cfg.metadata as Obj | undefined) ?? {};
  const os = (cfg.openshift as Obj | undefined) ?? {};
  const spec: Obj = { config: ignition };
  if (((os.kernel_arguments as unknown[]) ?? []).length > 0) spec.kernelArguments = os.kernel_arguments;
  if (((os.extensions as unknown[]) ?? []).length > 0) spec.extensions = os.extensions;
  if (os.fips !== undefined) spec.fips = os.fips;
  if (os.kernel_type !== undefined) spec.kernelType = os.kernel_type;
  return { apiVersion: MC_API_VERSION, kind: MC_KIND, metadata: { labels: { ...((md.labels as Obj | undefined) ?? {}) }, name: md.name ?? '' }, spec };
}

/**
 * Butane's MachineConfig YAML: keys sorted (it round-trips through a generic map), two-space indent, a header.
 * Quoting as yaml.v3 quotes: double quotes where a string must be quoted, and none for an option such as
 * `--metadata=1.0` (js-yaml quotes a leading `-`; yaml.v3 writes it plain when a non-space follows).
 */
export function marshalMachineConfig(mc: Obj): string {
  const text = yaml.dump(mc, { sortKeys: true, indent: 2, lineWidth: -1, noRefs: true, quotingType: '"' });
  return '# Generated by Butane; do not edit\n' + text.replace(/^(\s*(?:- |[^\s:"][^:"]*: ))"(-[-A-Za-z][-A-Za-z0-9=._/,]*)"$/gm, '$1$2').replace(/\n+$/, '');
}

/** Fields that a raw (Ignition-only) openshift translation drops, as Butane warns about them. */
export function elidedFields(mc: Obj): string[] {
  const spec = (mc.spec as Obj | undefined) ?? {};
  return Object.keys(spec).filter((k) => k !== 'config');
}
