/** fcos butane: each translation feature with its exact Ignition output, and the errors with their positions. */
import { describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { translateButane, parseGoInt, unitNamePathEscape, decimalModeLooksWrong, marshalIgnition, type TranslateOptions } from '../../ignition/butane/translate/index.js';
import { makeDataUrl, dataUrlEscape } from '../../ignition/butane/dataurl.js';
import { memoryFilesDir, confineLocalPath, nodeFilesDir } from '../../ignition/butane/filesdir.js';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeConfigs } from '../../ignition/butane/merge.js';

const ZZZ = 'z'.repeat(150);
const RANDOM = Buffer.from('\xc0\x9cl\x01\x89i\xa5\xbfW\xe4\x1b\xf4J_\xb79P\xa3#\xa7', 'latin1');

function ok(text: string, opts: TranslateOptions = {}) {
  const r = translateButane(text, opts);
  expect(r.findings).toEqual([]);
  expect(r.config).toBeDefined();
  return r.config as Record<string, any>;
}
function fails(text: string, opts: TranslateOptions = {}) {
  const r = translateButane(text, opts);
  expect(r.config).toBeUndefined();
  return r.findings;
}
const bu = (version: string, body: string) => `variant: fcos\nversion: ${version}\n${body}`;
const decode = (source: string) => {
  const m = /^data:(;base64)?,(.*)$/s.exec(source)!;
  return m[1] ? Buffer.from(m[2]!, 'base64') : Buffer.from(decodeURIComponent(m[2]!), 'latin1');
};

describe('data URLs (Butane MakeDataURL)', () => {
  it('URL-escapes text like dataurl.Escape (only A-Za-z0-9 and -_.!~*\'() as they are)', () => {
    expect(makeDataUrl(Buffer.from('Hello, world!'), undefined)).toEqual({ source: 'data:,Hello%2C%20world!', compression: '' });
    expect(dataUrlEscape(Buffer.from("a/b;c?d,e f$&+:=@-_.~!*'()\n"))).toBe("a%2Fb%3Bc%3Fd%2Ce%20f%24%26%2B%3A%3D%40-_.~!*'()%0A");
    expect(dataUrlEscape(Buffer.from('é'))).toBe('%C3%A9');
  });
  it('uses base64 when shorter (binary data)', () => {
    expect(makeDataUrl(RANDOM, undefined)).toEqual({ source: 'data:;base64,wJxsAYlppb9X5Bv0Sl+3OVCjI6c=', compression: '' });
  });
  it('gzips compressible data when gzip+base64 (+4 for "gzip") is shorter', () => {
    const d = makeDataUrl(Buffer.from(ZZZ), undefined);
    expect(d.compression).toBe('gzip');
    expect(d.source.startsWith('data:;base64,H4sIAAAAAAAC/')).toBe(true); // Go's gzip header: mtime 0, XFL 2, OS 255
    expect(gunzipSync(decode(d.source)).toString()).toBe(ZZZ);
  });
  it('keeps short text plain (gzip would be longer)', () => {
    expect(makeDataUrl(Buffer.from('xyzzy'), undefined)).toEqual({ source: 'data:,xyzzy', compression: '' });
  });
  it('does not compress again when the config sets compression, and leaves it alone', () => {
    expect(makeDataUrl(Buffer.from(ZZZ), 'invalid')).toEqual({ source: `data:,${ZZZ}`, compression: undefined });
  });
  it('does not compress when auto-compression is off', () => {
    expect(makeDataUrl(Buffer.from(ZZZ), undefined, false)).toEqual({ source: `data:,${ZZZ}`, compression: '' });
  });
});

describe('inline and local contents', () => {
  const filesDir = memoryFilesDir({ 'file-1': 'file contents\n', 'file-2': ZZZ, 'file-3': RANDOM, 'dir/key': 'k' });
  it('inline → data URL with explicit empty compression', () => {
    const c = ok(bu('1.4.0', `storage:\n  files:\n    - path: /opt/file\n      contents:\n        inline: Hello, world!\n      mode: 0644\n      user:\n        id: 500\n`));
    expect(marshalIgnition(c, false)).toBe(
      '{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/opt/file","user":{"id":500},"contents":{"compression":"","source":"data:,Hello%2C%20world!"},"mode":420}]}}',
    );
  });
  it('local files: escaped, base64 and gzip, append too', () => {
    const c = ok(
      bu(
        '1.1.0',
        `storage:\n  files:\n    - path: /foo\n      contents:\n        local: file-1\n      append:\n        - local: file-2\n        - local: file-3\n        - inline: "${ZZZ}"\n          compression: invalid\n`,
      ),
      { filesDir },
    );
    const f = c.storage.files[0];
    expect(f.contents).toEqual({ compression: '', source: 'data:,file%20contents%0A' });
    expect(f.append[0].compression).toBe('gzip');
    expect(gunzipSync(decode(f.append[0].source)).toString()).toBe(ZZZ);
    expect(f.append[1]).toEqual({ compression: '', source: 'data:;base64,wJxsAYlppb9X5Bv0Sl+3OVCjI6c=' });
    expect(f.append[2]).toEqual({ compression: 'invalid', source: `data:,${ZZZ}` });
  });
  it('remote sources, headers and verification pass through', () => {
    const c = ok(
      bu(
        '1.1.0',
        `storage:\n  files:\n    - path: /etc/hosts\n      contents:\n        source: https://example.com/hosts\n        http_headers:\n          - name: Authorization\n            value: Basic x\n        verification:\n          hash: sha512-00\n`,
      ),
    );
    expect(c.storage.files[0].contents).toEqual({ httpHeaders: [{ name: 'Authorization', value: 'Basic x' }], source: 'https://example.com/hosts', verification: { hash: 'sha512-00' } });
  });
  it('HTML-sensitive characters are escaped like Go encoding/json', () => {
    const c = ok(bu('1.1.0', `systemd:\n  units:\n    - name: a.service\n      contents: "ExecStart=/bin/sh -c 'a && b < c > d'"\n`));
    expect(marshalIgnition(c, false)).toContain('a \\u0026\\u0026 b \\u003c c \\u003e d');
  });
});

describe('merged and replacing Ignition configs (inline/local) are validated like Butane does', () => {
  const calls: string[] = [];
  const validateIgnition = (text: string) => {
    calls.push(text);
    return { findings: text.includes('relative') ? [{ severity: 'error' as const, path: '$.storage.files.0.path', message: 'path not absolute' }] : [] };
  };
  it('checks configs of the output spec, warns about other versions, refuses bad JSON', () => {
    const cfg = (inline: string) => bu('1.6.0', `ignition:\n  config:\n    merge:\n      - inline: '${inline}'\n`);
    expect(ok(cfg('{"ignition": {"version": "3.5.0"}}'), { validateIgnition }).ignition.config.merge).toEqual([{ compression: '', source: 'data:;base64,eyJpZ25pdGlvbiI6IHsidmVyc2lvbiI6ICIzLjUuMCJ9fQ==' }]);
    expect(calls).toEqual(['{"ignition": {"version": "3.5.0"}}']);
    expect(translateButane(cfg('{"ignition": {"version": "3.4.0"}}'), { validateIgnition }).findings).toEqual([
      { severity: 'warning', path: '$.ignition.config.merge.0.inline.version', line: 6, col: 17, message: 'skipping validation for the merge/replace ignition config due to an unkown version' },
    ]);
    expect(fails(cfg('{"ignition": {"version": "3.5.0"}, "storage": {"files": [{"path": "relative"}]}}'), { validateIgnition })).toEqual([
      { severity: 'error', path: '$.ignition.config.merge.0.inline', line: 6, col: 17, message: '$.storage.files.0.path: path not absolute' },
    ]);
    expect(fails(cfg('{not json'), { validateIgnition })[0]!.message).toMatch(/^config is not valid JSON: /);
    // Without a validator (pure translation) the config is embedded as is.
    expect(ok(cfg('{not json')).ignition.config.merge[0].source).toBe('data:,%7Bnot%20json');
  });
});

describe('systemd and passwd sugar', () => {
  const filesDir = memoryFilesDir({ 'u.service': '[Service]\nExecStart=/bin/true\n', 'd.conf': '[Service]\nX=1\n', keys: 'ssh-rsa A a@b\r\n\nssh-ed25519 B c@d\n', more: 'ssh-ed25519 C e@f' });
  it('contents_local for units and dropins (1.5+)', () => {
    const c = ok(bu('1.5.0', `systemd:\n  units:\n    - name: u.service\n      contents_local: u.service\n      enabled: true\n    - name: v.service\n      dropins:\n        - name: d.conf\n          contents_local: d.conf\n`), { filesDir });
    expect(c.systemd).toEqual({
      units: [
        { contents: '[Service]\nExecStart=/bin/true\n', enabled: true, name: 'u.service' },
        { dropins: [{ contents: '[Service]\nX=1\n', name: 'd.conf' }], name: 'v.service' },
      ],
    });
  });
  it('ssh_authorized_keys_local appends one key per non-empty line', () => {
    const c = ok(bu('1.5.0', `passwd:\n  users:\n    - name: core\n      ssh_authorized_keys: [ssh-rsa Z z@z]\n      ssh_authorized_keys_local: [keys, more]\n`), { filesDir });
    expect(c.passwd.users[0]).toEqual({ name: 'core', sshAuthorizedKeys: ['ssh-rsa Z z@z', 'ssh-rsa A a@b', 'ssh-ed25519 B c@d', 'ssh-ed25519 C e@f'] });
  });
  it('contents_local does not exist before 1.5 (unused key warning)', () => {
    const r = translateButane(bu('1.4.0', `systemd:\n  units:\n    - name: u.service\n      contents_local: u.service\n`), { filesDir });
    expect(r.findings).toEqual([{ severity: 'warning', path: '$.systemd.units.0.contents_local', line: 6, col: 7, message: 'unused key contents_local' }]);
  });
  it('kernel_arguments (1.4+) → kernelArguments', () => {
    const c = ok(bu('1.4.0', `kernel_arguments:\n  should_exist:\n    - foobar\n    - baz boo\n  should_not_exist:\n    - raboof\n`));
    expect(marshalIgnition(c, false)).toBe('{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["foobar","baz boo"],"shouldNotExist":["raboof"]}}');
  });
  it('a partition number 0 is not written (omitempty in Ignition)', () => {
    expect(ok(bu('1.2.0', `storage:\n  disks:\n    - device: /dev/sdb\n      wipe_table: true\n      partitions:\n        - number: 0\n          label: data\n`)).storage.disks[0].partitions).toEqual([{ label: 'data' }]);
  });
  it('snake_case keys become camelCase (size_mib → sizeMiB)', () => {
    const c = ok(bu('1.2.0', `storage:\n  disks:\n    - device: /dev/sda\n      wipe_table: false\n      partitions:\n        - number: 4\n          label: root\n          size_mib: 16384\n          start_mib: 0\n          type_guid: 0FC63DAF-8483-4772-8E79-3D69D8477DE4\n          resize: true\n`));
    expect(c.storage.disks[0]).toEqual({ device: '/dev/sda', partitions: [{ label: 'root', number: 4, resize: true, sizeMiB: 16384, startMiB: 0, typeGuid: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' }], wipeTable: false });
  });
});

describe('storage.trees', () => {
  const filesDir = memoryFilesDir({
    'tree/a.txt': 'a\n',
    'tree/bin/run': { mode: 0o755, data: '#!/bin/sh\n' },
    'tree/bin/link': { symlink: '../a.txt' },
    'tree/overridden': 'o\n',
    other: 'x',
  });
  it('walks files (0644/0755), symlinks (links) and keeps config overrides', () => {
    const c = ok(bu('1.1.0', `storage:\n  trees:\n    - local: tree\n      path: /etc/files\n  files:\n    - path: /etc/files/overridden\n      mode: 0600\n`), { filesDir });
    expect(c.storage).toEqual({
      files: [
        { path: '/etc/files/overridden', contents: { compression: '', source: 'data:,o%0A' }, mode: 0o600 },
        { path: '/etc/files/a.txt', contents: { compression: '', source: 'data:,a%0A' }, mode: 0o644 },
        { path: '/etc/files/bin/run', contents: { compression: '', source: 'data:,%23!%2Fbin%2Fsh%0A' }, mode: 0o755 },
      ],
      links: [{ path: '/etc/files/bin/link', target: '../a.txt' }],
    });
  });
  it('refuses a link that already has a target, and a node of another type at the path', () => {
    const err = { severity: 'error', path: '$.storage.trees.0', line: 5, col: 7, message: 'matching filesystem node has existing contents or different type' };
    const link = translateButane(bu('1.1.0', `storage:\n  trees:\n    - local: tree\n  links:\n    - path: /bin/link\n      target: /elsewhere\n`), { filesDir });
    expect(link.findings).toEqual([err]);
    const dir = translateButane(bu('1.1.0', `storage:\n  trees:\n    - local: tree\n  directories:\n    - path: /a.txt\n`), { filesDir });
    expect(dir.findings).toEqual([err]);
  });
  it('defaults to / and refuses a node that already has contents', () => {
    const r = translateButane(bu('1.1.0', `storage:\n  trees:\n    - local: tree\n  files:\n    - path: /a.txt\n      contents:\n        inline: taken\n`), { filesDir });
    expect(r.findings).toEqual([{ severity: 'error', path: '$.storage.trees.0', line: 5, col: 7, message: 'matching filesystem node has existing contents or different type' }]);
  });
  it('the root of a tree must be a directory, and must exist', () => {
    expect(fails(bu('1.1.0', `storage:\n  trees:\n    - local: other\n`), { filesDir })[0]!.message).toBe('root of tree must be a directory');
    expect(fails(bu('1.1.0', `storage:\n  trees:\n    - local: nope\n`), { filesDir })[0]!.message).toBe('stat nope: no such file or directory');
  });
});

describe('filesystems with_mount_unit', () => {
  it('generates a .mount unit like Butane', () => {
    const c = ok(bu('1.1.0', `storage:\n  filesystems:\n    - path: /var/data\n      device: /dev/vdb1\n      format: btrfs\n      mount_options: [subvolid=5, noatime]\n      with_mount_unit: true\n`));
    expect(c.systemd.units).toEqual([
      {
        contents:
          '# Generated by Butane\n[Unit]\nRequires=systemd-fsck@dev-vdb1.service\nAfter=systemd-fsck@dev-vdb1.service\n\n[Mount]\nWhere=/var/data\nWhat=/dev/vdb1\nType=btrfs\nOptions=subvolid=5,noatime\n\n[Install]\nRequiredBy=local-fs.target',
        enabled: true,
        name: 'var-data.mount',
      },
    ]);
    expect(c.storage.filesystems).toEqual([{ device: '/dev/vdb1', format: 'btrfs', mountOptions: ['subvolid=5', 'noatime'], path: '/var/data' }]);
  });
  it('generates a .swap unit for swap', () => {
    const c = ok(bu('1.4.0', `storage:\n  filesystems:\n    - device: /dev/disk/by-partlabel/swap\n      format: swap\n      wipe_filesystem: true\n      with_mount_unit: true\n`));
    expect(c.systemd.units).toEqual([
      { contents: '# Generated by Butane\n[Swap]\nWhat=/dev/disk/by-partlabel/swap\n\n[Install]\nRequiredBy=swap.target', enabled: true, name: 'dev-disk-by\\x2dpartlabel-swap.swap' },
    ]);
  });
  it('a filesystem on a tang-bound LUKS volume is a remote mount (_netdev)', () => {
    const c = ok(
      bu('1.2.0', `storage:\n  luks:\n    - name: data\n      device: /dev/sdb\n      clevis:\n        tang:\n          - url: https://tang.example.com\n            thumbprint: T\n  filesystems:\n    - path: /var/lib/data\n      device: /dev/mapper/data\n      format: xfs\n      with_mount_unit: true\n`),
    );
    const unit = c.systemd.units[0];
    expect(unit.name).toBe('var-lib-data.mount');
    expect(unit.contents).toContain('\nOptions=_netdev\n');
    expect(unit.contents.endsWith('RequiredBy=remote-fs.target')).toBe(true);
  });
  it('a unit of the same name in the config refines the generated one (Ignition merge)', () => {
    const c = ok(bu('1.1.0', `storage:\n  filesystems:\n    - path: /var\n      device: /dev/vdb1\n      format: xfs\n      with_mount_unit: true\nsystemd:\n  units:\n    - name: var.mount\n      enabled: false\n`));
    expect(c.systemd.units).toHaveLength(1);
    expect(c.systemd.units[0].enabled).toBe(false);
    expect(c.systemd.units[0].contents).toContain('Where=/var\n');
  });
  it('needs format, and path unless swap (fcos 1.4+; before, swap units do not exist); mounts only under /etc or /var', () => {
    const noFormat = `storage:\n  filesystems:\n    - device: /dev/vdb1\n      with_mount_unit: true\n`;
    expect(fails(bu('1.1.0', noFormat))).toEqual([
      { severity: 'error', path: '$.storage.filesystems.0.path', line: 5, col: 7, message: 'path is required if with_mount_unit is true and format is not swap' },
      { severity: 'error', path: '$.storage.filesystems.0.format', line: 5, col: 7, message: 'format is required if with_mount_unit is true' },
    ]);
    expect(fails(bu('1.4.0', noFormat))).toEqual([
      { severity: 'error', path: '$.storage.filesystems.0.format', line: 5, col: 7, message: 'format is required if with_mount_unit is true' },
    ]);
    const swap = `storage:\n  filesystems:\n    - device: /dev/vdb2\n      format: swap\n      with_mount_unit: true\n`;
    expect(fails(bu('1.3.0', swap))[0]!.message).toBe('path is required if with_mount_unit is true and format is not swap');
    expect(ok(bu('1.4.0', swap)).systemd.units[0].name).toBe('dev-vdb2.swap');
    expect(fails(bu('1.1.0', `storage:\n  filesystems:\n    - device: /dev/vdb1\n      format: ext4\n      with_mount_unit: true\n`))[0]!.message).toBe('path is required if with_mount_unit is true and format is not swap');
    const opt = `storage:\n  filesystems:\n    - device: /dev/vdb1\n      path: /opt\n      format: ext4\n      with_mount_unit: true\n`;
    expect(fails(bu('1.6.0', opt))).toEqual([{ severity: 'error', path: '$.storage.filesystems.0.path', line: 6, col: 13, message: 'path must be under /etc or /var if with_mount_unit is true' }]);
    expect(ok(bu('1.5.0', opt)).systemd.units[0].name).toBe('opt.mount'); // the check arrived with fcos 1.6
  });
  it('escapes unit names like systemd-escape --path', () => {
    expect(unitNamePathEscape('/var/lib/my-data')).toBe('var-lib-my\\x2ddata');
    expect(unitNamePathEscape('/')).toBe('-');
    expect(unitNamePathEscape('/var//x/')).toBe('var-x');
    expect(unitNamePathEscape('/srv/.hidden')).toBe('srv-.hidden');
    expect(unitNamePathEscape('/.x')).toBe('\\x2ex');
  });
});

describe('boot_device', () => {
  const rootLuks = (clevis: object, device = '/dev/disk/by-partlabel/root') => ({ clevis, device, label: 'luks-root', name: 'root', wipeVolume: true });
  const rootFs = { device: '/dev/mapper/root', format: 'xfs', label: 'root', wipeFilesystem: true };
  it('LUKS with TPM2 on the default (x86_64) layout', () => {
    const c = ok(bu('1.3.0', `boot_device:\n  luks:\n    tpm2: true\n`));
    expect(marshalIgnition(c, false)).toBe(
      '{"ignition":{"version":"3.2.0"},"storage":{"filesystems":[{"device":"/dev/mapper/root","format":"xfs","label":"root","wipeFilesystem":true}],"luks":[{"clevis":{"tpm2":true},"device":"/dev/disk/by-partlabel/root","label":"luks-root","name":"root","wipeVolume":true}]}}',
    );
  });
  it('tang + tpm2 with a threshold, discard (1.5+)', () => {
    const c = ok(bu('1.5.0', `boot_device:\n  luks:\n    discard: true\n    threshold: 2\n    tpm2: true\n    tang:\n      - url: https://tang.example.com\n        thumbprint: T\n        advertisement: '{"payload": "x"}'\n`));
    expect(c.storage.luks).toEqual([
      { clevis: { tang: [{ advertisement: '{"payload": "x"}', thumbprint: 'T', url: 'https://tang.example.com' }], threshold: 2, tpm2: true }, device: '/dev/disk/by-partlabel/root', discard: true, label: 'luks-root', name: 'root', wipeVolume: true },
    ]);
  });
  it('the user config refines the generated root filesystem', () => {
    const c = ok(bu('1.3.0', `boot_device:\n  luks:\n    tpm2: true\nstorage:\n  filesystems:\n    - device: /dev/mapper/root\n      format: ext4\n`));
    expect(c.storage.filesystems).toEqual([{ ...rootFs, format: 'ext4' }]);
  });
  it('mirror on x86_64: BIOS + ESP + boot + root per disk, RAID1 md-boot/md-root', () => {
    const c = ok(bu('1.3.0', `boot_device:\n  layout: x86_64\n  mirror:\n    devices: [/dev/sda, /dev/sdb]\n`));
    const disk = (dev: string, n: number) => ({
      device: dev,
      partitions: [
        { label: `bios-${n}`, sizeMiB: 1, typeGuid: '21686148-6449-6E6F-744E-656564454649' },
        { label: `esp-${n}`, sizeMiB: 127, typeGuid: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B' },
        { label: `boot-${n}`, sizeMiB: 384 },
        { label: `root-${n}` },
      ],
      wipeTable: true,
    });
    expect(c.storage).toEqual({
      disks: [disk('/dev/sda', 1), disk('/dev/sdb', 2)],
      filesystems: [
        { device: '/dev/disk/by-partlabel/esp-1', format: 'vfat', label: 'esp-1', wipeFilesystem: true },
        { device: '/dev/disk/by-partlabel/esp-2', format: 'vfat', label: 'esp-2', wipeFilesystem: true },
        { device: '/dev/md/md-boot', format: 'ext4', label: 'boot', wipeFilesystem: true },
        { device: '/dev/md/md-root', format: 'xfs', label: 'root', wipeFilesystem: true },
      ],
      raid: [
        { devices: ['/dev/disk/by-partlabel/boot-1', '/dev/disk/by-partlabel/boot-2'], level: 'raid1', name: 'md-boot', options: ['--metadata=1.0'] },
        { devices: ['/dev/disk/by-partlabel/root-1', '/dev/disk/by-partlabel/root-2'], level: 'raid1', name: 'md-root' },
      ],
    });
  });
  it('mirror on ppc64le uses PReP and reserved partitions; LUKS goes on md-root', () => {
    const c = ok(bu('1.3.0', `boot_device:\n  layout: ppc64le\n  luks:\n    tpm2: true\n  mirror:\n    devices: [/dev/sda, /dev/sdb]\n`));
    expect(c.storage.disks[0].partitions.slice(0, 2)).toEqual([
      { label: 'prep-1', sizeMiB: 4, typeGuid: '9E1A2D38-C612-4316-AA26-8B49521E5A8B' },
      { label: 'reserved-1', sizeMiB: 1, typeGuid: '8DA63339-0007-60C0-C436-083AC8230908' },
    ]);
    expect(c.storage.luks).toEqual([rootLuks({ tpm2: true }, '/dev/md/md-root')]);
    expect(c.storage.filesystems.map((f: { device: string }) => f.device)).toEqual(['/dev/md/md-boot', '/dev/mapper/root']);
  });
  it('s390x layouts (1.6+): device partition 2 on DASD, 4 on zFCP, CEX', () => {
    expect(ok(bu('1.6.0', `boot_device:\n  layout: s390x-eckd\n  luks:\n    device: /dev/dasda\n    tang:\n      - url: https://t\n        thumbprint: T\n`)).storage.luks[0].device).toBe('/dev/dasda2');
    expect(ok(bu('1.6.0', `boot_device:\n  layout: s390x-zfcp\n  luks:\n    device: /dev/sdb\n    tpm2: true\n`)).storage.luks[0].device).toBe('/dev/sdb4');
    expect(ok(bu('1.6.0', `boot_device:\n  layout: s390x-eckd\n  luks:\n    device: /dev/dasda\n    cex:\n      enabled: true\n`)).storage.luks).toEqual([
      { cex: { enabled: true }, device: '/dev/dasda2', label: 'luks-root', name: 'root', wipeVolume: true },
    ]);
  });
  it('validates layouts and mirrors', () => {
    expect(fails(bu('1.3.0', `boot_device:\n  layout: sparc\n  luks:\n    tpm2: true\n`))).toEqual([
      { severity: 'error', path: '$.boot_device.layout', line: 4, col: 11, message: 'layout must be one of: aarch64, ppc64le, x86_64' },
    ]);
    expect(fails(bu('1.3.0', `boot_device:\n  layout: aarch64\n  mirror:\n    devices: [/dev/sda]\n`))[0]!.message).toBe('mirroring requires at least two devices');
    expect(fails(bu('1.6.0', `boot_device:\n  layout: s390x-eckd\n  luks:\n    tpm2: true\n`))).toEqual([
      { severity: 'error', path: '$.boot_device.layout', line: 4, col: 11, message: 'device is required for layouts: s390x-eckd, s390x-zfcp' },
    ]);
    expect(fails(bu('1.6.0', `boot_device:\n  layout: x86_64\n  luks:\n    cex:\n      enabled: true\n`))[0]!.message).toBe('when using cex the targeted architecture must match s390x');
    // mirror without a layout: a warning up to 1.6, an error from 1.7
    const noLayout = `boot_device:\n  mirror:\n    devices: [/dev/sda, /dev/sdb]\n`;
    expect(translateButane(bu('1.6.0', noLayout)).findings).toEqual([
      { severity: 'warning', path: '$.boot_device.mirror', line: 5, col: 5, message: 'boot_device.layout should be specified when boot_device.mirror is specified' },
    ]);
    expect(fails(bu('1.7.0', noLayout))[0]!.severity).toBe('error');
    expect(fails(bu('1.7.0', `boot_device:\n  layout: s390x-zfcp\n  luks:\n    device: /dev/sdb\n`))).toEqual([
      { severity: 'error', path: '$.boot_device.luks', line: 6, col: 5, message: 'no method specified for luks' },
    ]);
    expect(translateButane(bu('1.2.0', `boot_device:\n  luks:\n    tpm2: true\n`)).findings[0]!.message).toBe('unused key boot_device');
  });
});

describe('fcos 1.6+ partition checks', () => {
  it('reusing a partition by label (no number) on a disk that is not wiped is a warning', () => {
    const text = `storage:\n  disks:\n    - device: /dev/sdb\n      partitions:\n        - label: data\n`;
    expect(translateButane(bu('1.6.0', text)).findings).toEqual([
      {
        severity: 'warning',
        path: '$.storage.disks.0.partitions.0.number',
        line: 7,
        col: 11,
        message: 'partitions cannot be reused by label; number must be specified except on boot disk (/dev/disk/by-id/coreos-boot-disk) or when wipe_table is true',
      },
    ]);
    expect(translateButane(bu('1.5.0', text)).findings).toEqual([]);
    expect(translateButane(bu('1.6.0', text.replace('/dev/sdb', '/dev/disk/by-id/coreos-boot-disk'))).findings).toEqual([]);
  });
  it('1.7+: root should have 8 GiB and room to grow', () => {
    const small = translateButane(bu('1.7.0', `storage:\n  disks:\n    - device: /dev/disk/by-id/coreos-boot-disk\n      partitions:\n        - label: root\n          number: 4\n          size_mib: 4096\n`));
    expect(small.findings).toEqual([{ severity: 'warning', path: '$.storage.disks.0.partitions.0.size_mib', line: 9, col: 21, message: 'root should have 8GiB of space assigned' }]);
    const stuck = translateButane(bu('1.7.0', `storage:\n  disks:\n    - device: /dev/disk/by-id/coreos-boot-disk\n      partitions:\n        - label: root\n          number: 4\n        - label: var\n          number: 5\n`));
    expect(stuck.findings.map((f) => f.message)).toEqual(['root partition cannot expand; it is set to fill available space but is followed by an auto-positioned partition']);
    expect(translateButane(bu('1.6.0', `storage:\n  disks:\n    - device: /dev/disk/by-id/coreos-boot-disk\n      partitions:\n        - label: root\n          number: 4\n          size_mib: 4096\n`)).findings).toEqual([]);
  });
  it('a reserved label (root) with another number than 4 is a warning', () => {
    const r = translateButane(bu('1.6.0', `storage:\n  disks:\n    - device: /dev/disk/by-id/coreos-boot-disk\n      partitions:\n        - label: root\n          number: 5\n`));
    expect(r.findings).toEqual([{ severity: 'warning', path: '$.storage.disks.0.partitions.0.label', line: 7, col: 18, message: 'incorrect partition number; a new partition will be created using reserved label' }]);
  });
});

describe('grub.users (1.5+)', () => {
  it('writes /boot/grub2/user.cfg and mounts /boot', () => {
    const c = ok(bu('1.5.0', `grub:\n  users:\n    - name: root\n      password_hash: grub.pbkdf2.sha512.10000.ABC\n`));
    expect(c.storage.filesystems).toEqual([{ device: '/dev/disk/by-label/boot', format: 'ext4', path: '/boot' }]);
    const f = c.storage.files[0];
    expect(f.path).toBe('/boot/grub2/user.cfg');
    expect(f.append).toHaveLength(1);
    const data = f.append[0].compression === 'gzip' ? gunzipSync(decode(f.append[0].source)) : decode(f.append[0].source);
    expect(data.toString()).toBe('# Generated by Butane\n\nset superusers="root"\npassword_pbkdf2 root grub.pbkdf2.sha512.10000.ABC\n');
    expect(fails(bu('1.5.0', `grub:\n  users:\n    - name: root\n`))[0]!.message).toBe('field "password_hash" is required');
  });
});

describe('openshift (MachineConfig)', () => {
  const os = (version: string, body: string, md = `metadata:\n  name: worker-custom\n  labels:\n    machineconfiguration.openshift.io/role: worker\n`) => `variant: openshift\nversion: ${version}\n${md}${body}`;
  it('wraps the Ignition config and the MachineConfig-only fields', () => {
    const r = translateButane(os('4.14.0', `openshift:\n  kernel_arguments: [loglevel=7]\n  extensions: [usbguard]\n  fips: true\n  kernel_type: realtime\nstorage:\n  files:\n    - path: /etc/motd\n      mode: 0644\n      contents:\n        inline: hi\n`));
    expect(r.findings).toEqual([]);
    expect(r.machineConfig).toEqual({
      apiVersion: 'machineconfiguration.openshift.io/v1',
      kind: 'MachineConfig',
      metadata: { labels: { 'machineconfiguration.openshift.io/role': 'worker' }, name: 'worker-custom' },
      spec: {
        config: { ignition: { version: '3.4.0' }, storage: { files: [{ path: '/etc/motd', contents: { compression: '', source: 'data:,hi' }, mode: 420 }] } },
        kernelArguments: ['loglevel=7'],
        extensions: ['usbguard'],
        fips: true,
        kernelType: 'realtime',
      },
    });
  });
  it('FIPS sets the LUKS cipher before 4.20, not after', () => {
    const body = `openshift:\n  fips: true\nboot_device:\n  luks:\n    tpm2: true\n`;
    expect((translateButane(os('4.19.0', body)).config as any).storage.luks[0].options).toEqual(['--cipher', 'aes-cbc-essiv:sha256']);
    expect((translateButane(os('4.20.0', body)).config as any).storage.luks[0].options).toBeUndefined();
  });
  it('requires metadata.name and the role label; checks kernel_type', () => {
    expect(fails(os('4.14.0', `openshift:\n  kernel_type: rt\n`, 'metadata:\n  labels: {}\n')).map((f) => [f.path, f.message])).toEqual([
      ['$.metadata.name', 'metadata.name is required'],
      ['$.metadata.labels', 'machineconfiguration.openshift.io/role label is required'],
      ['$.openshift.kernel_type', 'must be empty, "default", or "realtime"'],
    ]);
  });
  it('refuses what the Machine Config Operator cannot apply (its own checks first; the field filters only without those)', () => {
    const f = fails(os('4.14.0', `passwd:\n  users:\n    - name: admin\n      shell: /bin/zsh\nstorage:\n  links:\n    - path: /etc/l\n      target: /x\n  files:\n    - path: /etc/remote\n      contents:\n        source: https://example.com/x\n`));
    expect(f.map((x) => [x.path, x.message])).toEqual([
      ['$.storage.files.0.contents.source', 'file contents source must be data URL in this spec version'],
      ['$.passwd.users.0.name', 'users other than "core" are not supported in this spec version'],
    ]);
    const g = fails(os('4.14.0', `passwd:\n  users:\n    - name: core\n      shell: /bin/zsh\nstorage:\n  links:\n    - path: /etc/l\n      target: /x\n`));
    expect(g.map((x) => [x.path, x.message])).toEqual([
      ['$.passwd.users.0.shell', 'fields other than "name", "ssh_authorized_keys", and "password_hash" (4.13.0+) are not supported in this spec version'],
      ['$.storage.links', 'links are not supported in this spec version'],
    ]);
    expect(fails(os('4.12.0', `passwd:\n  users:\n    - name: core\n      password_hash: x\n`))[0]!.path).toBe('$.passwd.users.0.password_hash');
    expect(ok(os('4.13.0', `passwd:\n  users:\n    - name: core\n      password_hash: x\n`)).passwd.users[0].passwordHash).toBe('x');
    const suid = `storage:\n  files:\n    - path: /usr/local/bin/x\n      mode: 04755\n      contents:\n        inline: x\n`;
    expect(fails(os('4.10.0', suid))[0]!.message).toBe('special mode bits are not supported in this spec version');
    expect(ok(os('4.9.0', suid)).storage.files[0].mode).toBe(0o4755);
    expect(fails(os('4.14.0', `kernel_arguments:\n  should_exist: [a]\n`))[0]!.message).toBe('this section cannot be used for kernel arguments in this spec version; use openshift.kernel_arguments instead');
  });
  it('4.8 does not compress files; 4.19 needs the CEX key kernel argument', () => {
    const big = 'z'.repeat(300);
    expect((translateButane(os('4.8.0', `storage:\n  files:\n    - path: /etc/z\n      contents:\n        inline: ${big}\n`)).config as any).storage.files[0].contents).toEqual({ compression: '', source: `data:,${big}` });
    const cex = `boot_device:\n  layout: s390x-eckd\n  luks:\n    device: /dev/dasda\n    cex:\n      enabled: true\n`;
    expect(fails(os('4.19.0', cex))[0]!.message).toBe("'rd.luks.key=/etc/luks/cex.key' must be set as kernel argument when CEX is enabled for the boot device");
    expect(translateButane(os('4.19.0', cex + `openshift:\n  kernel_arguments: [rd.luks.key=/etc/luks/cex.key]\n`)).findings).toEqual([]);
  });
});

describe('versions and variants', () => {
  it('maps each fcos version to its Ignition spec', () => {
    const want: Record<string, string> = { '1.0.0': '3.0.0', '1.1.0': '3.1.0', '1.2.0': '3.2.0', '1.3.0': '3.2.0', '1.4.0': '3.3.0', '1.5.0': '3.4.0', '1.6.0': '3.5.0', '1.7.0': '3.6.0', '1.8.0-experimental': '3.7.0-experimental' };
    for (const [v, ign] of Object.entries(want)) expect(ok(bu(v, '')).ignition).toEqual({ version: ign });
  });
  it('flatcar, r4e and fiot', () => {
    const want: Record<string, string> = {
      'flatcar 1.0.0': '3.3.0',
      'flatcar 1.1.0': '3.4.0',
      'flatcar 1.2.0-experimental': '3.7.0-experimental',
      'r4e 1.0.0': '3.3.0',
      'r4e 1.1.0': '3.4.0',
      'r4e 1.2.0-experimental': '3.7.0-experimental',
      'fiot 1.0.0': '3.4.0',
      'fiot 1.1.0-experimental': '3.7.0-experimental',
    };
    for (const [k, ign] of Object.entries(want)) {
      const [variant, version] = k.split(' ');
      expect(ok(`variant: ${variant}\nversion: ${version}\n`).ignition.version).toBe(ign);
    }
    // flatcar 1.2.0-experimental supports clevis
    expect(ok('variant: flatcar\nversion: 1.2.0-experimental\nstorage:\n  luks:\n    - name: d\n      device: /dev/sdb\n      clevis:\n        tpm2: true\n').storage.luks[0].clevis).toEqual({ tpm2: true });
  });
  it('flatcar has no clevis; r4e has no kernel arguments, disks, filesystems, luks or raid', () => {
    expect(fails('variant: flatcar\nversion: 1.1.0\nstorage:\n  luks:\n    - name: d\n      device: /dev/sdb\n      clevis:\n        tpm2: true\n')).toEqual([
      { severity: 'error', path: '$.storage.luks.0.clevis', line: 8, col: 9, message: 'clevis is not supported in this spec version' },
    ]);
    expect(ok('variant: flatcar\nversion: 1.1.0\nstorage:\n  luks:\n    - name: d\n      device: /dev/sdb\n      key_file:\n        inline: k\n').storage.luks[0].keyFile).toEqual({ compression: '', source: 'data:,k' });
    expect(fails('variant: r4e\nversion: 1.1.0\nkernel_arguments:\n  should_exist: [a]\nstorage:\n  raid:\n    - name: md\n      level: raid1\n      devices: [/dev/a, /dev/b]\n')).toEqual([
      { severity: 'error', path: '$.kernel_arguments', line: 4, col: 3, message: 'kernel argument customization is not supported in this spec version' },
      { severity: 'error', path: '$.storage.raid', line: 7, col: 5, message: 'raid is not supported in this spec version' },
    ]);
  });
  it('unknown version, unknown variant, stale experimental, missing variant, bad semver (Go errors in Butane: no path, a position)', () => {
    expect(fails(bu('1.9.0', ''))).toEqual([
      { severity: 'error', path: '$', line: 2, col: 10, message: 'No translator exists for variant fcos with version 1.9.0 (known versions: 1.0.0, 1.1.0, 1.2.0, 1.3.0, 1.4.0, 1.5.0, 1.6.0, 1.7.0, 1.8.0-experimental)' },
    ]);
    expect(fails(bu('1.7.0-experimental', ''))[0]!.message).toMatch(/^No translator exists for variant fcos with version 1.7.0-experimental/);
    expect(fails('variant: coreos\nversion: 1.0.0\n')[0]!.message).toBe('No translator exists for variant coreos with version 1.0.0 (fcos butane supports the variants fcos, flatcar, r4e, fiot, openshift)');
    expect(fails('version: 1.0.0\n')).toEqual([{ severity: 'error', path: '$', message: 'error parsing variant; must be specified' }]);
    expect(fails('variant: fcos\nversion: 1.0\n')).toEqual([{ severity: 'error', path: '$', line: 2, col: 10, message: 'error parsing version; must be a valid semver' }]);
  });
  it('fields arrive with their spec (luks: 3.2, http_headers: 3.1)', () => {
    expect(translateButane(bu('1.1.0', `storage:\n  luks:\n    - name: x\n`)).findings).toEqual([{ severity: 'warning', path: '$.storage.luks', line: 4, col: 3, message: 'unused key luks' }]);
    expect(translateButane(bu('1.0.0', `storage:\n  files:\n    - path: /a\n      contents:\n        source: http://x\n        http_headers: []\n`)).findings[0]!.message).toBe('unused key http_headers');
  });
});

describe('errors carry YAML positions', () => {
  it('YAML syntax error', () => {
    expect(fails('variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /a\n     mode: 1\n')).toEqual([
      { severity: 'error', path: '$', line: 6, col: 6, message: 'error parsing YAML: bad indentation of a sequence entry' },
    ]);
    expect(fails('variant: fcos\nversion: 1.4.0\nversion: 1.3.0\n')[0]).toMatchObject({ line: 3, message: 'error parsing YAML: duplicated mapping key' });
  });
  it('a document that is not a mapping', () => {
    expect(fails('- variant: fcos\n')).toEqual([{ severity: 'error', path: '$', line: 1, col: 1, message: 'cannot unmarshal !!seq into Config (a Butane config is a YAML mapping)' }]);
    expect(fails('')).toEqual([{ severity: 'error', path: '$', message: 'error parsing variant; must be specified' }]);
  });
  it('unknown key: a warning at the key (fails only under --strict, decided by the caller)', () => {
    const r = translateButane(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      modee: 0644\n`));
    expect(r.config).toBeDefined();
    expect(r.findings).toEqual([{ severity: 'warning', path: '$.storage.files.0.modee', line: 6, col: 7, message: 'unused key modee' }]);
  });
  it('wrong types: yaml.v3 errors, without a report path (as in Butane), each at its value', () => {
    expect(fails(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      mode: "0644"\n`))).toEqual([
      { severity: 'error', path: '$', line: 6, col: 13, message: 'cannot unmarshal !!str `0644` into int' },
    ]);
    expect(fails(bu('1.4.0', `storage:\n  files:\n    path: /a\n`))).toEqual([{ severity: 'error', path: '$', line: 5, col: 5, message: 'cannot unmarshal !!map into []File' }]);
    expect(fails(bu('1.4.0', `systemd:\n  units:\n    - name: a\n      enabled: maybe\n`))[0]).toMatchObject({ path: '$', line: 6, col: 16, message: 'cannot unmarshal !!str `maybe` into bool' });
    // yaml.v3 reads a plain float into an int field with Go's int64() (truncated); a quoted one is a string.
    expect(ok(bu('1.4.0', `passwd:\n  users:\n    - name: a\n      uid: 1.5\n`)).passwd.users[0].uid).toBe(1);
    expect(ok(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      mode: 420.0\n    - path: /b\n      mode: 4.93e2\n`)).storage.files.map((f: { mode: number }) => f.mode)).toEqual([420, 493]);
    expect(fails(bu('1.4.0', `passwd:\n  users:\n    - name: a\n      uid: .inf\n`))[0]!.message).toBe('cannot unmarshal !!float `.inf` into int');
  });
  it('scalars read like yaml.v3: 0644 is octal, numbers are kept as written in strings', () => {
    const c = ok(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      mode: 0644\n    - path: /b\n      mode: 0o755\n    - path: /c\n      mode: 420\n  luks:\n    - name: 0123\n      device: /dev/sdb\n`));
    expect(c.storage.files.map((f: { mode: number }) => f.mode)).toEqual([0o644, 0o755, 420]);
    expect(c.storage.luks[0].name).toBe('0123');
    expect(parseGoInt('0x1F')).toBe(31);
    expect(parseGoInt('1_000')).toBe(1000);
    expect(parseGoInt('09')).toBeUndefined();
  });
  it('anchors, aliases, tags, merge keys and empty items keep values and positions', () => {
    const c = ok(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      mode: &m 0600\n    - path: /b\n      mode: *m\n    - path: /c\n      mode: !!int 0755\n  luks:\n    - name: !!str 0123\n      device: /dev/sdb\n`));
    expect(c.storage.files.map((f: { mode: number }) => f.mode)).toEqual([0o600, 0o600, 0o755]);
    expect(c.storage.luks[0].name).toBe('0123');
    const r = translateButane(bu('1.4.0', `storage:\n  files:\n    -\n    - path: /x\n      contents:\n      bogus: 1\n`));
    expect(r.findings).toEqual([{ severity: 'warning', path: '$.storage.files.1.bogus', line: 8, col: 7, message: 'unused key bogus' }]);
    const m = translateButane(bu('1.4.0', `base: &b\n  mode: 0644\nstorage:\n  files:\n    - <<: *b\n      path: /a\n`));
    expect(m.findings).toEqual([{ severity: 'warning', path: '$.base', line: 3, col: 1, message: 'unused key base' }]);
    expect((m.config as any).storage.files).toEqual([{ path: '/a', mode: 0o644 }]);
  });
  it('a mode written in decimal is a warning', () => {
    const r = translateButane(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      mode: 644\n`));
    expect(r.findings).toEqual([{ severity: 'warning', path: '$.storage.files.0.mode', line: 6, col: 13, message: 'unreasonable mode would be reasonable if specified in octal; remember to add a leading zero' }]);
    expect(decimalModeLooksWrong(420, false)).toBe(false);
    expect(decimalModeLooksWrong(755, true)).toBe(true);
  });
  it('only one of inline, local, source', () => {
    expect(fails(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      contents:\n        inline: x\n        source: http://x\n`))).toEqual([
      { severity: 'error', path: '$.storage.files.0.contents.source', line: 8, col: 17, message: 'only one of the following can be set: inline, local, source' },
    ]);
  });
});

describe('local files are confined to --files-dir', () => {
  const filesDir = memoryFilesDir({ 'a/b': 'x' });
  it('refuses ../ escapes and absolute paths', () => {
    expect(fails(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      contents:\n        local: ../secret\n`), { filesDir })).toEqual([
      { severity: 'error', path: '$.storage.files.0.contents.local', line: 7, col: 16, message: 'local file path traverses outside the files directory' },
    ]);
    expect(fails(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      contents:\n        local: a/../../secret\n`), { filesDir })[0]!.message).toBe('local file path traverses outside the files directory');
    expect(fails(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      contents:\n        local: /etc/shadow\n`), { filesDir })[0]!.message).toBe('local file path must be relative to the files directory, not absolute');
    expect(fails(bu('1.4.0', `storage:\n  trees:\n    - local: ../x\n`), { filesDir })[0]!.message).toBe('local file path traverses outside the files directory');
    expect(fails(bu('1.5.0', `passwd:\n  users:\n    - name: core\n      ssh_authorized_keys_local: [../../root/.ssh/id_rsa.pub]\n`), { filesDir })[0]).toMatchObject({ path: '$.passwd.users.0.ssh_authorized_keys_local.0', message: 'local file path traverses outside the files directory' });
    expect(confineLocalPath('a/./b/../c')).toEqual({ rel: 'a/c' });
  });
  it('a local path that leaves the files dir and comes back into it is read (Butane checks the cleaned path)', () => {
    const root = mkdtempSync(join(tmpdir(), 'fcos-butane-reenter-'));
    try {
      mkdirSync(join(root, 'files'));
      writeFileSync(join(root, 'files', 'x.txt'), 'x');
      const fd = nodeFilesDir(join(root, 'files'));
      expect(fd.confine!('../files/x.txt')).toEqual({ rel: 'x.txt' });
      expect(fd.confine!('../filesX/x.txt')).toEqual({ error: 'local file path traverses outside the files directory' });
      const c = ok(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      contents:\n        local: ../files/x.txt\n`), { filesDir: fd });
      expect(c.storage.files[0].contents.source).toBe('data:,x');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  it('a local reference without a files dir is an error', () => {
    const msg = 'local file paths are relative to a files directory that must be specified with -d/--files-dir';
    expect(fails(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      contents:\n        local: a/b\n`))).toEqual([{ severity: 'error', path: '$.storage.files.0.contents.local', line: 7, col: 16, message: msg }]);
    expect(fails(bu('1.4.0', `storage:\n  trees:\n    - local: a\n`))[0]!.message).toBe(msg);
    expect(fails(bu('1.5.0', `systemd:\n  units:\n    - name: x.service\n      contents_local: a/b\n`))[0]!.message).toBe(msg);
  });
  it('on disk, a symlink leading out of the files dir is refused too; tree symlinks stay links', () => {
    const base = mkdtempSync(join(tmpdir(), 'fcos-butane-fd-'));
    try {
      const dir = join(base, 'files');
      mkdirSync(join(dir, 'tree'), { recursive: true });
      writeFileSync(join(base, 'secret'), 'top secret');
      symlinkSync('../secret', join(dir, 'escape'));
      symlinkSync('../../secret', join(dir, 'tree', 'link'));
      const fd = nodeFilesDir(dir);
      expect(fails(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      contents:\n        local: escape\n`), { filesDir: fd })[0]!.message).toBe('local file path traverses outside the files directory');
      expect(ok(bu('1.4.0', `storage:\n  trees:\n    - local: tree\n      path: /t\n`), { filesDir: fd }).storage).toEqual({ links: [{ path: '/t/link', target: '../../secret' }] });
      expect(fails(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      contents:\n        local: tree\n`), { filesDir: fd })[0]!.message).toBe(`read ${join(dir, 'tree')}: is a directory`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
  it('a missing local file is an error naming it', () => {
    expect(fails(bu('1.4.0', `storage:\n  files:\n    - path: /a\n      contents:\n        local: a/c\n`), { filesDir })[0]!.message).toBe('open a/c: no such file or directory');
  });
});

describe('Ignition merge of generated and user config', () => {
  it('merges keyed lists, replaces set fields, files/links/directories share paths', () => {
    const parent = { storage: { files: [{ path: '/a', mode: 1 }], links: [{ path: '/b', target: '/x' }], disks: [{ device: '/d', partitions: [{ label: 'p', sizeMiB: 1 }, { number: 2 }] }] } };
    const child = { storage: { files: [{ path: '/b' }, { path: '/a', mode: 2 }], disks: [{ device: '/d', partitions: [{ label: 'p', sizeMiB: 5 }, { label: 'q' }] }] } };
    expect(mergeConfigs(parent, child)).toEqual({
      storage: {
        files: [{ path: '/a', mode: 2 }, { path: '/b' }],
        disks: [{ device: '/d', partitions: [{ label: 'p', sizeMiB: 5 }, { number: 2 }, { label: 'q' }] }],
      },
    });
  });
});
