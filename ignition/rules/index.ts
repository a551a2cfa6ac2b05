/**
 * The semantic rules of Ignition (config/v3_X/types/*.go Validate methods), walked in Ignition's order: each
 * struct's own checks first, then its fields in Go struct order. Messages come from errors.ts.
 */
import { memoOnType, type GoType } from '../schema/types.js';
import { E, noInstallSection, noInstallSectionForTemplate } from './errors.js';
import { goClean, goJoin, validatePath, validatePathNilOk } from './paths.js';
import { isFalse, isTrue, nilOrEmpty, notEmpty, walkItems, type Ctx, type Path } from './report.js';
import { deserializeUnit, UnitParseError, type UnitOption } from './unit-file.js';
import { goParseUrl, validateUrl, validateUrlNilOk } from './url.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type V = any;
type Rule = (v: V, c: Path, ctx: Ctx) => void;

function validateMode(m: number | undefined): string | undefined {
  if (m !== undefined && (m < 0 || m > 0o7777)) return E.FileIllegalMode;
  return undefined;
}

function modeRules(v: V, c: Path, ctx: Ctx): void {
  ctx.r.error(c, validateMode(v.mode), 'mode');
  // Spec 3.6.0 accepts setuid/setgid/sticky; older specs warn (Ignition v2.24.0 config/v3_{0..5}/types/file.go:28 and
  // directory.go:25, validateModeSpecialBits in mode.go:28; Ignition 2.14 warned below 3.4.0 only).
  if (ctx.minor < 6 && v.mode !== undefined && (v.mode & 0o7000) !== 0) ctx.r.warn(c, E.ModeSpecialBits, 'mode');
}

function nodeRules(v: V, c: Path, ctx: Ctx): void {
  ctx.r.error(c, validatePath(v.path), 'path');
}

function ownerRule(v: V, c: Path, ctx: Ctx): void {
  if (v.id !== undefined && notEmpty(v.name)) ctx.r.error(c, E.BothIDAndNameSet);
}

function hashRules(v: V, c: Path, ctx: Ctx): void {
  if (v.hash === undefined) return;
  const h: string = v.hash;
  const dash = h.indexOf('-');
  if (dash < 0) return ctx.r.error(c, E.HashMalformed, 'hash');
  const fn = h.slice(0, dash);
  const sum = h.slice(dash + 1);
  let size: number;
  if (fn === 'sha512') size = 128;
  else if (fn === 'sha256' && ctx.minor >= 1) size = 64;
  else return ctx.r.error(c, E.HashUnrecognized, 'hash');
  if (sum.length !== size) ctx.r.error(c, E.HashWrongSize, 'hash');
}

function compressionRule(v: V, c: Path, ctx: Ctx): void {
  if (v.compression !== undefined && v.compression !== '' && v.compression !== 'gzip') ctx.r.error(c, E.CompressionInvalid, 'compression');
}

function resourceRules(v: V, c: Path, ctx: Ctx): void {
  compressionRule(v, c, ctx);
  if (v.verification?.hash !== undefined && v.source === undefined) ctx.r.error(c, E.VerificationAndNilSource, 'verification', 'hash');
  ctx.r.error(c, validateUrlNilOk(v.source, ctx.minor), 'source');
  if (Array.isArray(v.httpHeaders) && v.httpHeaders.length > 0) {
    let err: string | undefined;
    if (nilOrEmpty(v.source)) err = E.InvalidUrl;
    else {
      const u = goParseUrl(v.source);
      if (!u) err = E.InvalidUrl;
      else if (u.scheme !== 'http' && u.scheme !== 'https') err = E.UnsupportedSchemeForHTTPHeaders;
    }
    ctx.r.error(c, err, 'httpHeaders');
  }
}

function unitContents(contents: string | undefined): { opts?: UnitOption[]; err?: string } {
  if (contents === undefined) return { opts: [] };
  try {
    return { opts: deserializeUnit(contents) };
  } catch (e) {
    if (e instanceof UnitParseError) return { err: `invalid unit content: ${e.message}` };
    throw e;
  }
}

const UNIT_EXTS = new Set(['.service', '.socket', '.device', '.mount', '.automount', '.swap', '.target', '.path', '.timer', '.snapshot', '.slice', '.scope']);
/** Go's path.Ext. */
function goExt(p: string): string {
  for (let i = p.length - 1; i >= 0 && p[i] !== '/'; i--) if (p[i] === '.') return p.slice(i);
  return '';
}

const RAID_LEVELS = new Set(['linear', 'raid0', '0', 'stripe', 'raid1', '1', 'mirror', 'raid4', '4', 'raid5', '5', 'raid6', '6', 'raid10', '10']);
const GUID = /^(|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;
const FS_FORMATS = new Set(['ext4', 'btrfs', 'xfs', 'swap', 'vfat', 'none']);

function validateGuid(g: string | undefined): string | undefined {
  if (nilOrEmpty(g)) return undefined;
  return GUID.test(g!) ? undefined : E.DoesntMatchGUIDRegex;
}

function utf16Length(s: string): number {
  return s.length; // JS strings are UTF-16 already
}

/**
 * For a list of link paths, a function that counts the links `l` with `path.startsWith(l + '/')`, in time linear in
 * the path (not in the number of links): the links go into a tree of their "/"-separated segments (one flat map
 * from parent node and segment to node), and a path walks down it; a link is such a prefix exactly when its segments
 * are the path's first segments, not all of them.
 */
function linkPrefixes(paths: readonly string[]): (path: string) => number {
  if (paths.length === 0) return () => 0;
  if (paths.length <= 8) {
    // Few links (the usual case): compared one by one, which costs less than the tree.
    const prefixes = paths.map((p) => p + '/');
    return (path: string) => {
      let total = 0;
      for (const p of prefixes) if (path.startsWith(p)) total++;
      return total;
    };
  }
  const child = new Map<string, number>();
  const count: number[] = [0];
  for (const p of paths) {
    let n = 0;
    for (const seg of p.split('/')) {
      const k = `${n}/${seg}`;
      let c = child.get(k);
      if (c === undefined) {
        c = count.length;
        count.push(0);
        child.set(k, c);
      }
      n = c;
    }
    count[n]!++;
  }
  return (path: string) => {
    if (paths.length === 0) return 0;
    const segs = path.split('/');
    let n = 0;
    let total = 0;
    for (let k = 0; k < segs.length - 1; k++) {
      const c = child.get(`${n}/${segs[k]}`);
      if (c === undefined) break;
      n = c;
      total += count[n]!;
    }
    return total;
  };
}

function partitionEnd(p: V): number {
  return p.startMiB + p.sizeMiB - 1;
}

function validateProxyUrl(s: string | undefined, c: Path, key: string, ctx: Ctx, httpOk: boolean): void {
  if (s === undefined) return;
  const u = goParseUrl(s);
  if (!u) return ctx.r.error(c, E.InvalidUrl, key);
  if (u.scheme !== 'https' && u.scheme !== 'http') return ctx.r.error(c, E.InvalidProxy, key);
  if (u.scheme === 'http' && !httpOk) ctx.r.warn(c, E.InsecureProxy, key);
}

const STRUCT_RULES: Record<string, Rule> = {
  Config(v, c, ctx) {
    // Files, directories and links must not collide with a unit or dropin Ignition writes. Ignition v2.24.0 checks it
    // for every spec version (config/v3_0/types/config.go:33); Ignition 2.14 did for 3.4.0-experimental only.
    const unitPaths = new Set<string>();
    for (const u of v.systemd?.units ?? []) {
      if (!nilOrEmpty(u.contents)) unitPaths.add('/etc/systemd/system/' + (u.name ?? ''));
      for (const d of u.dropins ?? []) if (!nilOrEmpty(d.contents)) unitPaths.add('/etc/systemd/system/' + (u.name ?? '') + '.d/' + (d.name ?? ''));
    }
    for (const kind of ['files', 'directories', 'links'] as const) {
      (v.storage?.[kind] ?? []).forEach((n: V, i: number) => {
        if (unitPaths.has(n.path ?? '')) ctx.r.error(c, E.PathConflictsSystemd, 'storage', kind, i, 'path');
      });
    }
  },
  IgnitionConfig(v, c, ctx) {
    if (ctx.minor < 1) return;
    // Resource.validateRequiredSource (config/v3_1/types/resource.go:87): util.NilOrEmpty, so "" is "source is required".
    (v.merge ?? []).forEach((m: V, i: number) => {
      if (nilOrEmpty(m.source)) ctx.r.error(c, E.SourceRequired, 'merge', i);
      else ctx.r.error(c, validateUrl(m.source, ctx.minor), 'merge', i);
    });
  },
  TLS(v, c, ctx) {
    if (ctx.minor < 1) return;
    (v.certificateAuthorities ?? []).forEach((m: V, i: number) => {
      if (nilOrEmpty(m.source)) ctx.r.error(c, E.SourceRequired, 'certificateAuthorities', i);
      else ctx.r.error(c, validateUrl(m.source, ctx.minor), 'certificateAuthorities', i);
    });
  },
  Proxy(v, c, ctx) {
    validateProxyUrl(v.httpProxy, c, 'httpProxy', ctx, true);
    validateProxyUrl(v.httpsProxy, c, 'httpsProxy', ctx, false);
  },
  Resource: resourceRules,
  ConfigReference(v, c, ctx) {
    ctx.r.error(c, validateUrlNilOk(v.source, ctx.minor), 'source');
  },
  CaReference(v, c, ctx) {
    ctx.r.error(c, validateUrl(v.source ?? '', ctx.minor), 'source');
  },
  FileContents(v, c, ctx) {
    compressionRule(v, c, ctx);
    if (v.verification?.hash !== undefined && v.source === undefined) ctx.r.error(c, E.VerificationAndNilSource, 'verification', 'hash');
    ctx.r.error(c, validateUrlNilOk(v.source, ctx.minor), 'source');
  },
  HTTPHeader(v, c, ctx) {
    if (nilOrEmpty(v.name)) ctx.r.error(c, E.EmptyHTTPHeaderName, 'name');
    if (v.value === '') ctx.r.error(c, E.InvalidHTTPHeader, 'value');
  },
  Verification: hashRules,
  File(v, c, ctx) {
    nodeRules(v, c, ctx);
    modeRules(v, c, ctx);
    if (isTrue(v.overwrite) && v.contents?.source === undefined) ctx.r.error(c, E.OverwriteAndNilSource, 'overwrite');
  },
  Directory(v, c, ctx) {
    nodeRules(v, c, ctx);
    modeRules(v, c, ctx);
  },
  Link(v, c, ctx) {
    nodeRules(v, c, ctx);
  },
  NodeUser: ownerRule,
  NodeGroup: ownerRule,
  Storage(v, c, ctx) {
    const links: V[] = v.links ?? [];
    // Ignition checks every path against every link (path starts with link + "/"), one error per matching link.
    const under = linkPrefixes(links.map((l: V) => l.path ?? ''));
    const dirPaths = new Map<string, number>();
    const dirCount = (p: string) => dirPaths.get(p) ?? 0;
    (v.directories ?? []).forEach((d: V, i: number) => {
      if (typeof d.path === 'string') dirPaths.set(d.path, dirCount(d.path) + 1);
      for (let k = under(d.path ?? ''); k > 0; k--) ctx.r.error(c, E.DirectoryUsedSymlink, 'directories', i);
    });
    (v.files ?? []).forEach((f: V, i: number) => {
      for (let k = under(f.path ?? ''); k > 0; k--) ctx.r.error(c, E.FileUsedSymlink, 'files', i);
    });
    links.forEach((l1: V, i: number) => {
      for (let k = under(l1.path ?? ''); k > 0; k--) ctx.r.error(c, E.LinkUsedSymlink, 'links', i);
      // Spec 3.3+: a link needs a target (reported here, in Storage's checks, before the links are walked).
      if (ctx.minor >= 3 && (l1.target === undefined || l1.target === '')) return ctx.r.error(c, E.LinkTargetRequired, 'links', i, 'target');
      if (!isTrue(l1.hard)) return;
      const t: string = l1.target ?? '';
      let target = goClean(t);
      if (!target.startsWith('/')) target = goJoin(l1.path ?? '', t);
      for (let k = dirCount(target); k > 0; k--) ctx.r.error(c, E.HardLinkToDirectory, 'links', i);
      if (ctx.minor >= 4) {
        if (l1.user?.id !== undefined) ctx.r.warn(c, E.HardLinkSpecifiesOwner, 'links', i, 'user', 'id');
        if (l1.user?.name !== undefined) ctx.r.warn(c, E.HardLinkSpecifiesOwner, 'links', i, 'user', 'name');
        if (l1.group?.id !== undefined) ctx.r.warn(c, E.HardLinkSpecifiesOwner, 'links', i, 'group', 'id');
        if (l1.group?.name !== undefined) ctx.r.warn(c, E.HardLinkSpecifiesOwner, 'links', i, 'group', 'name');
      }
    });
    if (ctx.minor >= 4) {
      const disks = new Map<string, V>();
      for (const d of v.disks ?? []) disks.set(d.device ?? '', d);
      (v.filesystems ?? []).forEach((f: V, i: number) => {
        const d = disks.get(f.device ?? '');
        if (!d) return;
        if ((d.partitions ?? []).length > 0) ctx.r.warn(c, E.PartitionsOverwritten, 'filesystems', i, 'device');
        else if (!isTrue(f.wipeFilesystem) && isTrue(d.wipeTable)) ctx.r.warn(c, E.FilesystemImplicitWipe, 'filesystems', i, 'device');
      });
    }
  },
  Disk(v, c, ctx) {
    if (nilOrEmpty(v.device)) return ctx.r.error(c, E.DiskDeviceRequired, 'device');
    ctx.r.error(c, validatePath(v.device), 'device');
    const parts: V[] = v.partitions ?? [];
    const numbers = new Set<number>();
    for (let i = 0; i < parts.length; i++) {
      const num = parts[i].number ?? 0;
      if (num === 0) continue;
      if (numbers.has(num)) {
        ctx.r.error(c, E.PartitionNumbersCollide, 'partitions', i);
        break;
      }
      numbers.add(num);
    }
    const usable = (p: V) => p.startMiB !== undefined && p.sizeMiB !== undefined && p.startMiB !== 0 && p.sizeMiB !== 0;
    overlap: for (let pi = 0; pi < parts.length; pi++) {
      const p = parts[pi];
      if (!usable(p)) continue;
      for (let oi = 0; oi < parts.length; oi++) {
        const o = parts[oi];
        if (oi === pi || !usable(o)) continue;
        if ((p.startMiB >= o.startMiB && p.startMiB <= partitionEnd(o)) || (partitionEnd(p) >= o.startMiB && partitionEnd(p) <= partitionEnd(o))) {
          ctx.r.error(c, E.PartitionsOverlap, 'partitions', oi);
          break overlap;
        }
      }
    }
    if (parts.some((p) => isFalse(p.shouldExist)) && parts.some((p) => (p.number ?? 0) === 0)) ctx.r.error(c, E.ZeroesWithShouldNotExist, 'partitions');
    const labels = new Set<string>();
    for (let i = 0; i < parts.length; i++) {
      const l = parts[i].label;
      if (l === undefined) continue;
      if (labels.has(l)) {
        ctx.r.error(c, E.DuplicateLabels, 'partitions', i);
        break;
      }
      labels.add(l);
    }
  },
  Partition(v, c, ctx) {
    if (isFalse(v.shouldExist) && (v.label !== undefined || notEmpty(v.typeGuid) || notEmpty(v.guid) || v.startMiB !== undefined || v.sizeMiB !== undefined)) {
      ctx.r.error(c, E.ShouldNotExistWithOthers);
    }
    if ((v.number ?? 0) === 0 && v.label === undefined) ctx.r.error(c, E.NeedLabelOrNumber);
    if (v.label !== undefined) {
      if (utf16Length(v.label) > 36) ctx.r.error(c, E.LabelTooLong, 'label');
      else if (v.label.includes(':')) ctx.r.error(c, E.LabelContainsColon, 'label');
    }
    ctx.r.error(c, validateGuid(v.guid), 'guid');
    ctx.r.error(c, validateGuid(v.typeGuid), 'typeGuid');
  },
  Filesystem(v, c, ctx) {
    ctx.r.error(c, validatePathNilOk(v.path), 'path');
    ctx.r.error(c, validatePath(v.device), 'device');
    if (nilOrEmpty(v.format)) {
      if (notEmpty(v.path) || notEmpty(v.label) || notEmpty(v.uuid) || isTrue(v.wipeFilesystem) || (v.options ?? []).length > 0 || (v.mountOptions ?? []).length > 0) {
        ctx.r.error(c, E.FormatNilWithOthers, 'format');
      }
    } else if (!FS_FORMATS.has(v.format) || (v.format === 'none' && ctx.minor < 3)) ctx.r.error(c, E.FilesystemInvalidFormat, 'format');
    if (!nilOrEmpty(v.label)) {
      if (nilOrEmpty(v.format)) ctx.r.error(c, E.LabelNeedsFormat, 'label');
      else {
        const max: Record<string, [number, string]> = {
          ext4: [16, E.Ext4LabelTooLong],
          btrfs: [256, E.BtrfsLabelTooLong],
          xfs: [12, E.XfsLabelTooLong],
          swap: [15, E.SwapLabelTooLong],
          vfat: [11, E.VfatLabelTooLong],
        };
        const m = max[v.format];
        if (m && Buffer.byteLength(v.label, 'utf8') > m[0]) ctx.r.error(c, m[1], 'label');
      }
    }
  },
  Raid(v, c, ctx) {
    if (nilOrEmpty(v.level) && ctx.minor >= 3) ctx.r.error(c, E.RaidLevelRequired, 'level');
    else {
      const level = String(v.level ?? ''); // matched exactly, as Ignition does ("RAID1" is invalid)
      if (!RAID_LEVELS.has(level)) ctx.r.error(c, E.UnrecognizedRaidLevel, 'level');
      else if (['linear', 'raid0', '0', 'stripe'].includes(level) && v.spares !== undefined && v.spares !== 0) ctx.r.error(c, E.SparesUnsupportedForLevel, 'level');
    }
    if ((v.devices ?? []).length === 0) ctx.r.error(c, E.RaidDevicesRequired, 'devices');
  },
  Luks(v, c, ctx) {
    if ((v.name ?? '').includes('/')) ctx.r.error(c, E.LuksNameContainsSlash, 'name');
    if (!nilOrEmpty(v.label) && Buffer.byteLength(v.label, 'utf8') > 47) ctx.r.error(c, E.LuksLabelTooLong, 'label');
    if (nilOrEmpty(v.device)) ctx.r.error(c, E.DiskDeviceRequired, 'device');
    else ctx.r.error(c, validatePath(v.device), 'device');
    const cl = v.clevis;
    if (cl !== undefined) {
      // 3.3+: util.NotEmpty(l.Clevis.Custom.Pin) (config/v3_3/types/luks.go:48); 3.2: a custom object at all (v3_2 luks.go:49).
      const hasCustom = ctx.minor >= 3 ? notEmpty(cl.custom?.pin) : cl.custom !== undefined;
      if (hasCustom && ((cl.tang ?? []).length > 0 || isTrue(cl.tpm2) || (cl.threshold !== undefined && cl.threshold !== 0))) ctx.r.error(c, E.ClevisCustomWithOthers, 'clevis');
    }
    if (validateUrlNilOk(v.keyFile?.source, ctx.minor) !== undefined) ctx.r.error(c, E.InvalidLuksKeyFile, 'keys');
    // Spec 3.5+ (config/v3_5/types/luks.go:57-65): cex excludes clevis (Clevis.IsPresent) and a key file.
    if (ctx.minor >= 5 && isTrue(v.cex?.enabled)) {
      const clevisPresent = cl !== undefined && (notEmpty(cl.custom?.pin) || (cl.tang ?? []).length > 0 || isTrue(cl.tpm2) || (cl.threshold !== undefined && cl.threshold !== 0));
      if (clevisPresent) ctx.r.error(c, E.CexWithClevis, 'cex');
      if (notEmpty(v.keyFile?.source)) ctx.r.error(c, E.CexWithKeyFile, 'cex');
    }
  },
  ClevisCustom: customRules,
  Custom: customRules,
  Tang(v, c, ctx) {
    const u = goParseUrl(v.url ?? '');
    if (!u) ctx.r.error(c, E.InvalidUrl, 'url');
    else if (u.scheme !== 'http' && u.scheme !== 'https') ctx.r.error(c, E.InvalidScheme, 'url');
    if (nilOrEmpty(v.thumbprint)) ctx.r.error(c, E.TangThumbprintRequired, 'thumbprint');
    if (ctx.minor >= 4 && !nilOrEmpty(v.advertisement)) {
      try {
        JSON.parse(v.advertisement);
      } catch {
        ctx.r.error(c, E.InvalidTangAdvertisement, 'advertisement');
      }
    }
  },
  Systemd(v, c, ctx) {
    // An enabled instance (a@b.service) of a template unit (a@.service) with contents but no [Install] section: a
    // warning at the instance (config/v3_0/types/systemd.go:26, all spec versions in Ignition v2.24.0).
    const units: V[] = v.units ?? [];
    const byName = new Map<string, V>();
    for (const u of units) byName.set(u.name ?? '', u);
    units.forEach((u: V, i: number) => {
      const m = /^(.+?)@(.+?)\.service$/.exec(u.name ?? '');
      if (!m || !isTrue(u.enabled)) return;
      const template = `${m[1]}@.service`;
      const t = byName.get(template);
      if (!t || !notEmpty(t.contents)) return;
      const { opts } = unitContents(t.contents);
      if (opts && !opts.some((o) => o.section === 'Install')) ctx.r.warn(c, noInstallSectionForTemplate(template, u.name), 'units', i, 'contents');
    });
  },
  Unit(v, c, ctx) {
    const name: string = v.name ?? '';
    if (!UNIT_EXTS.has(goExt(name))) ctx.r.error(c, E.InvalidSystemdExt, 'name');
    const { opts, err } = unitContents(v.contents);
    ctx.r.error(c, err, 'contents');
    if (isTrue(v.enabled) && !nilOrEmpty(v.contents) && opts && !opts.some((o) => o.section === 'Install')) ctx.r.warn(c, noInstallSection(name), 'contents');
  },
  Dropin(v, c, ctx) {
    ctx.r.error(c, unitContents(v.contents).err, 'contents');
    if (goExt(v.name ?? '') !== '.conf') ctx.r.error(c, E.InvalidSystemdDropinExt, 'name');
  },
};

function customRules(v: V, c: Path, ctx: Ctx): void {
  const pins = ['tpm2', 'tang', 'sss'];
  if (ctx.minor < 3) {
    // config/v3_2/types/custom.go:24: plain strings; an empty pin is an unsupported one.
    if (nilOrEmpty(v.pin) && nilOrEmpty(v.config)) return;
    if (!pins.includes(v.pin ?? '')) ctx.r.error(c, E.UnknownClevisPin, 'pin');
    if (nilOrEmpty(v.config)) ctx.r.error(c, E.ClevisConfigRequired, 'config');
    return;
  }
  // config/v3_3/types/clevis.go:32 (and 3.4–3.6): empty strings count as unset.
  if (nilOrEmpty(v.pin) && nilOrEmpty(v.config) && !isTrue(v.needsNetwork)) return;
  if (nilOrEmpty(v.pin)) ctx.r.error(c, E.ClevisPinRequired, 'pin');
  else if (!pins.includes(v.pin)) ctx.r.error(c, E.UnknownClevisPin, 'pin');
  if (nilOrEmpty(v.config)) ctx.r.error(c, E.ClevisConfigRequired, 'config');
}

/** Rules on named string types (items of string lists). */
const STRING_RULES: Record<string, Rule> = {
  'types.Device'(v, c, ctx) {
    ctx.r.error(c, validatePath(v));
  },
};

/** Per type, what the walk does, worked out once and kept on the type (a symbol key: JSON and Object.entries skip it). */
interface RulePlan {
  kind: GoType['k'];
  own: Rule | undefined;
  /** For structs: the fields whose values the walk visits (the ones with a rule at or below them), with their plans. */
  down: { name: string; plan: RulePlan }[];
  /** For lists: the items' plan. */
  item: RulePlan | undefined;
}
const PLAN = Symbol('rule plan');

/** The plan of a type (kept on it), or null when no rule applies at or below it (the walk skips the value). */
function planOf(t: GoType): RulePlan | null {
  return memoOnType(t, PLAN, () => makePlan(t), null);
}

function makePlan(t: GoType): RulePlan | null {
  if (t.k === 'object') {
    const down: RulePlan['down'] = [];
    for (const [name, ft] of Object.entries(t.fields)) {
      const plan = planOf(ft);
      if (plan) down.push({ name, plan });
    }
    const own: Rule | undefined = STRUCT_RULES[t.struct];
    return own !== undefined || down.length ? { kind: 'object', own, down, item: undefined } : null;
  }
  if (t.k === 'array') {
    const item = planOf(t.item);
    return item ? { kind: 'array', own: undefined, down: [], item } : null;
  }
  if (t.k === 'string' && STRING_RULES[t.go]) return { kind: 'string', own: STRING_RULES[t.go], down: [], item: undefined };
  return null;
}

/**
 * Walk a decoded value like vcontext's validate.Validate: the struct's rules, then each field in order. The path is
 * one array for the whole walk (rules report through ctx.r, which copies it).
 */
export function walkRules(v: V, t: GoType, c: Path, ctx: Ctx): void {
  const plan = planOf(t);
  if (plan) walk(v, plan, c.slice(), ctx);
}

function walk(v: V, plan: RulePlan, path: Path, ctx: Ctx): void {
  if (plan.kind === 'object') {
    const obj = v ?? {};
    plan.own?.(obj, path, ctx);
    // Absent (zero-valued) structs are skipped: none of Ignition's rules reports anything on a zero value.
    const down = plan.down;
    for (let k = 0; k < down.length; k++) {
      const fv = obj[down[k]!.name];
      if (fv === undefined) continue;
      path.push(down[k]!.name);
      walk(fv, down[k]!.plan, path, ctx);
      path.pop();
    }
  } else if (plan.kind === 'array') walkItems(v as V[], plan.item!, path, ctx, walk);
  else plan.own!(v, path, ctx);
}
