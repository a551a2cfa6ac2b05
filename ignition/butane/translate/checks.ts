/** Butane's own validation of the source config (before translation): sources, mount units, modes, boot_device. */
import { isList, isObj, yamlName, type FieldType } from '../schema.js';
import type { Ctx, Obj } from './ctx.js';

const ERR_TOO_MANY_RESOURCE_SOURCES = 'only one of the following can be set: inline, local, source';
const ERR_TOO_MANY_SYSTEMD_SOURCES = 'only one of the following can be set: contents, contents_local';
const ERR_DECIMAL_MODE = 'unreasonable mode would be reasonable if specified in octal; remember to add a leading zero';
const ERR_MOUNT_UNIT_NO_PATH = 'path is required if with_mount_unit is true and format is not swap';
const ERR_MOUNT_UNIT_NO_FORMAT = 'format is required if with_mount_unit is true';
const ERR_TREE_NO_LOCAL = 'local is required';
const ERR_REUSE_BY_LABEL =
  'partitions cannot be reused by label; number must be specified except on boot disk (/dev/disk/by-id/coreos-boot-disk) or when wipe_table is true';

/** fcosMinor: the fcos base of the config (-1: none); minor: the Ignition spec minor (the base v0_N is 3.(N-1)). */
export function validateButane(ctx: Ctx, v: unknown, t: FieldType, path: string, fcosMinor: number, minor: number): void {
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
