/** fcos sugar, rendered as a parent config and merged under the user's: boot_device, reserved partitions, grub users. */
import { mergeConfigs } from '../merge.js';
import { markSource, yamlPathOf } from '../srcmap.js';
import type { Ctx, Obj } from './ctx.js';
import { snakePath } from './marshal.js';
import type { Translator } from './translator.js';

const ERR_WRONG_PARTITION_NUMBER = 'incorrect partition number; a new partition will be created using reserved label';
const RESERVED_TYPE_GUID = '8DA63339-0007-60C0-C436-083AC8230908';
const BIOS_TYPE_GUID = '21686148-6449-6E6F-744E-656564454649';
const PREP_TYPE_GUID = '9E1A2D38-C612-4316-AA26-8B49521E5A8B';
const ESP_TYPE_GUID = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';

/** boot_device: LUKS (tpm2/tang/threshold/cex) and/or mirroring of the boot disk, rendered as storage config. */
export function bootDevice(_ctx: Ctx, cfg: Obj, out: Obj): Obj {
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
export function checkReservedPartitions(ctx: Ctx, out: Obj, fcosMinor: number, openshift: boolean): void {
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
export function grub(t: Translator, cfg: Obj, out: Obj): Obj {
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
