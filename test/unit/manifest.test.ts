import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptSources, defaultManifestPath, derivedManifest, expandVersion, loadManifest, parseManifest } from '../../ostree/manifest.js';
import { UserError } from '../../lib/errors.js';
import { parseSize } from '../../images/layout.js';

function err(text: string): UserError {
  try {
    parseManifest(text, 'm.yaml');
  } catch (e) {
    return e as UserError;
  }
  throw new Error('expected an error');
}

describe('manifest', () => {
  it('fills in defaults', () => {
    const m = parseManifest('packages: [systemd, linux-image-cloud-amd64]\n');
    expect(m.suite).toBe('trixie');
    expect(m.architecture).toBe('amd64');
    expect(m.name).toBe('fcos');
    expect(m.ref).toBe('fcos/trixie/x86_64/stable');
    expect(m.variant).toBe('minbase');
    expect(m.units).toEqual({ enable: [], disable: [], mask: [] });
    expect(m.initramfs).toEqual({ modules: [], omit: [], drivers: [], compress: 'zstd', args: [] });
    expect(m.kubelet).toEqual({ enabled: false });
    expect(m['image-size']).toBe('8G');
    expect(m.version.scheme).toBe('{major}.{date}.{serial}');
  });

  it('reports unknown keys with line and column', () => {
    const e = err('packages:\n  - systemd\ninitramfs:\n  compres: zstd\n');
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toContain("m.yaml:4:3: unknown key 'compres' in /initramfs");
  });

  it('reports a top-level unknown key', () => {
    expect(err('packages: [systemd]\nsuit: trixie\n').message).toContain("m.yaml:2:1: unknown key 'suit'");
  });

  it('reports bad values with line and column, all of them', () => {
    const e = err('packages:\n  - systemd\n  - "Bad Name"\narchitecture: arm64\nunits:\n  enable: [notaunit]\nimage-size: 8 gigs\n');
    expect(e.message).toContain('m.yaml:3:5: /packages/1');
    expect(e.message).toContain('m.yaml:4:15: /architecture: must be one of "amd64"');
    expect(e.message).toContain('m.yaml:6:12: /units/enable/0');
    expect(e.message).toContain('m.yaml:7:13: /image-size');
  });

  it('reports wrong types and missing packages', () => {
    expect(err('suite: trixie\n').message).toContain("missing required key 'packages'");
    expect(err('packages: systemd\n').message).toContain('m.yaml:1:11: /packages: must be array');
    expect(err('packages: [systemd]\nkubelet:\n  enabled: "yes"\n').message).toContain('m.yaml:3:12: /kubelet/enabled: must be boolean');
    expect(err('packages: [systemd]\nkubelet:\n  version: 1.35\n').message).toContain('/kubelet/version');
  });

  it('reports YAML syntax errors with position', () => {
    const e = err('packages: [systemd\nsuite: trixie\n');
    expect(e.message).toMatch(/^m\.yaml:\d+:\d+: YAML syntax error/);
  });

  it('refuses duplicate packages and a version scheme without serial', () => {
    expect(err('packages: [systemd, kmod, systemd]\n').message).toContain("m.yaml:1:27: package 'systemd' is listed twice");
    expect(err('packages: [systemd]\nversion:\n  scheme: "{major}.{date}"\n').message).toContain('must contain {serial}');
  });

  it('loads the shipped default manifest', () => {
    const l = loadManifest();
    expect(l.manifest.packages).toContain('etcd-server');
    expect(l.manifest.packages).toContain('ignition');
    expect(l.manifest.units.disable).toContain('etcd.service');
    expect(l.overlayDir).toMatch(/default-overlay$/);
    for (const p of ['linux-image-cloud-amd64', 'systemd', 'systemd-sysv', 'udev', 'dbus', 'dracut', 'dracut-network', 'curl', 'ostree', 'ostree-boot', 'ignition', 'grub-pc-bin', 'grub-efi-amd64-bin', 'grub2-common', 'openssh-server', 'etcd-server', 'etcd-client', 'podman', 'crun', 'conmon', 'containernetworking-plugins', 'skopeo', 'containerd', 'iproute2', 'ca-certificates', 'systemd-timesyncd', 'sudo', 'kmod', 'e2fsprogs', 'netbase', 'systemd-resolved']) {
      expect(l.manifest.packages).toContain(p);
    }
  });

  it('resolves the overlay relative to the manifest and checks it exists', () => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-manifest-'));
    writeFileSync(join(d, 'm.yaml'), 'packages: [systemd]\noverlay: files\n');
    expect(() => loadManifest(join(d, 'm.yaml'))).toThrow(/overlay directory not found/);
    mkdirSync(join(d, 'files'));
    expect(loadManifest(join(d, 'm.yaml')).overlayDir).toBe(join(d, 'files'));
    expect(() => loadManifest(join(d, 'nope.yaml'))).toThrow(/manifest not found/);
  });

  it('helpers: sources, version, size', () => {
    const m = parseManifest('packages: [systemd]\n');
    expect(aptSources(m)).toEqual([
      'deb http://deb.debian.org/debian trixie main',
      'deb http://deb.debian.org/debian trixie-updates main',
      'deb http://deb.debian.org/debian-security trixie-security main',
    ]);
    expect(aptSources(parseManifest('packages: [systemd]\nupdates: false\n'))).toHaveLength(1);
    expect(expandVersion(m, 1760000000, 2)).toBe('13.20251009.2');
    // images/build sizes the disk from image-size with parseSize.
    expect(parseSize(m['image-size'])).toBe(8 * 1024 ** 3);
    expect(parseSize('512M')).toBe(512 * 1024 ** 2);
  });
});

describe('derivedManifest (the default manifest plus a file or a package)', () => {
  it('copies the overlay, adds files and packages, and the result loads with everything else unchanged', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'fcos-derived-')), 'm');
    mkdirSync(dir);
    writeFileSync(join(dir, 'stale'), 'left over'); // the directory is emptied first
    const p = derivedManifest(dir, {
      files: { 'usr/share/fcos-test/v2.txt': 'v2\n', 'usr/lib/fcos/x.sh': { text: '#!/bin/sh\n', mode: 0o755 } },
      packages: ['tree', 'jq'],
    });
    const base = loadManifest(defaultManifestPath());
    const d = loadManifest(p);
    expect(d.overlayDir).toBe(join(dir, 'overlay'));
    expect(d.manifest.packages).toEqual(['tree', 'jq', ...base.manifest.packages]);
    expect({ ...d.manifest, packages: [], overlay: '' }).toEqual({ ...base.manifest, packages: [], overlay: '' });
    expect(readFileSync(join(dir, 'overlay', 'usr/share/fcos-test/v2.txt'), 'utf8')).toBe('v2\n');
    expect(statSync(join(dir, 'overlay', 'usr/lib/fcos/x.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'overlay', 'usr/share/fcos-test/v2.txt')).mode & 0o777).toBe(0o644);
    // The default overlay's own files came along.
    const own = 'usr/lib/systemd/network/89-fcos-ethernet-dhcp.network';
    expect(readFileSync(join(dir, 'overlay', own), 'utf8')).toBe(readFileSync(join(base.overlayDir!, own), 'utf8'));
    expect(() => statSync(join(dir, 'stale'))).toThrow();
  });

  it('with no changes it is the default manifest; a file path escaping the overlay is refused', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'fcos-derived-')), 'm');
    const d = loadManifest(derivedManifest(dir));
    expect(d.manifest.packages).toEqual(loadManifest().manifest.packages);
    expect(() => derivedManifest(dir, { files: { '../escape': 'x' } })).toThrow(/escapes/);
    expect(() => derivedManifest(dir, { files: { '/etc/abs': 'x' } })).toThrow(/relative/);
  });
});

describe('manifests from someone else (issue 15 #7, #9)', () => {
  const dirWith = (manifest: string) => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-m-'));
    writeFileSync(join(d, 'm.yaml'), manifest);
    return d;
  };

  it('refuses an absolute overlay and one that climbs out, with line and column', () => {
    for (const o of ['/root', '../../../etc', 'a/../../etc', '~/x']) {
      const e = err(`packages: [systemd]\noverlay: ${o}\n`);
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toMatch(/m\.yaml:2:10: \/overlay: '.*' (must be relative to the manifest directory|escapes the manifest directory)/);
    }
    // loadManifest too, before anything is copied
    const d = dirWith('packages: [systemd]\noverlay: /root\n');
    expect(() => loadManifest(join(d, 'm.yaml'))).toThrow(UserError);
  });

  it('refuses an overlay that is a symlink out of the manifest directory, also through a parent', () => {
    const d = dirWith('packages: [systemd]\noverlay: etc\n');
    symlinkSync('/etc', join(d, 'etc'));
    let e: unknown;
    try {
      loadManifest(join(d, 'm.yaml'));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).toContain(`${join(d, 'm.yaml')}:2:10: /overlay: 'etc' resolves to /etc, outside the manifest directory`);
    const d2 = dirWith('packages: [systemd]\noverlay: up/etc\n');
    symlinkSync('/', join(d2, 'up'));
    expect(() => loadManifest(join(d2, 'm.yaml'))).toThrow(/resolves to \/etc, outside the manifest directory/);
  });

  it('accepts an overlay inside the directory (also through a symlink that stays inside) and returns its real path', () => {
    const d = dirWith('packages: [systemd]\noverlay: link\n');
    mkdirSync(join(d, 'files'));
    symlinkSync('files', join(d, 'link'));
    expect(loadManifest(join(d, 'm.yaml')).overlayDir).toBe(join(realpathSync(d), 'files'));
    const f = dirWith('packages: [systemd]\noverlay: file\n');
    writeFileSync(join(f, 'file'), '');
    expect(() => loadManifest(join(f, 'm.yaml'))).toThrow(/overlay is not a directory/);
  });

  it('refuses a mirror with a newline (an injected apt source line without signed-by)', () => {
    const inj = 'packages: [systemd]\nmirror: "http://deb.debian.org/debian trixie main\\ndeb [trusted=yes] http://evil.example/ x"\n';
    const e = err(inj);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toContain('m.yaml:2:9: /mirror: invalid value');
    expect(e.message).toContain('m.yaml:2:9: /mirror: control character in');
    // the anchored pattern alone refuses spaces, quotes and apt's [option] syntax
    for (const bad of ['http://a/ b', 'http://a/"x', 'http://a/$x', '[trusted=yes] http://a/', 'http://a/\\x', 'ftp://a/']) {
      expect(err(`packages: [systemd]\nmirror: '${bad}'\n`).message).toContain('/mirror: invalid value');
      expect(err(`packages: [systemd]\nsecurity-mirror: '${bad}'\n`).message).toContain('/security-mirror: invalid value');
    }
    const m = parseManifest('packages: [systemd]\nmirror: http://10.0.2.2:3142/debian\nsecurity-mirror: ""\n');
    expect(aptSources(m)).toEqual(['deb http://10.0.2.2:3142/debian trixie main', 'deb http://10.0.2.2:3142/debian trixie-updates main']);
    expect(parseManifest('packages: [systemd]\nmirror: file:///srv/mirror\n').mirror).toBe('file:///srv/mirror');
    expect(parseManifest('packages: [systemd]\nmirror: http://[fd00::1]:3142/debian\n').mirror).toBe('http://[fd00::1]:3142/debian');
  });

  it('refuses control characters in every string: packages, kernel arguments, dracut args, image env, keys', () => {
    const cases: [string, string][] = [
      ['packages: [systemd, "vim\\u0000"]\n', 'm.yaml:1:21: /packages/1: control character'],
      ['packages: [systemd]\nkernel-arguments: ["quiet\\u0001"]\n', 'm.yaml:2:20: /kernel-arguments/0: control character'],
      ['packages: [systemd]\ninitramfs:\n  args: ["--foo\\nbar"]\n', 'm.yaml:3:10: /initramfs/args/0: control character'],
      ['packages: [systemd]\npretty-name: "x\\ty"\n', 'm.yaml:2:14: /pretty-name: control character'],
      ['packages: [systemd]\nupgrade:\n  url: "http://a/\\rb"\n', 'm.yaml:3:8: /upgrade/url: control character'],
      ['packages: [systemd]\nkubelet: {enabled: true}\nimages:\n  - name: localhost/x\n    tag: "1"\n    from: {rootfs: r}\n    env: {A: "1\\n2"}\n', 'm.yaml:7:14: /images/0/env/A: control character'],
      ['packages: [systemd]\n"a\\nb": 1\n', 'm.yaml:2:1: /: control character in key'],
    ];
    for (const [text, want] of cases) {
      const e = err(text);
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toContain(want);
    }
  });

  it('refuses an ostree= kernel argument at validation, as a user error with its position (it failed later with exit 70)', () => {
    const e = err('packages: [systemd]\nkernel-arguments:\n  - quiet\n  - ostree=/ostree/boot.1/x\n');
    expect(e).toBeInstanceOf(UserError);
    expect(e.exitCode).toBe(1);
    expect(e.message).toContain("m.yaml:4:5: /kernel-arguments/1: 'ostree=/ostree/boot.1/x': ostree= is set by ostree itself");
    expect(err('packages: [systemd]\nkernel-arguments: [ostree]\n').message).toContain('ostree= is set by ostree itself');
    expect(parseManifest('packages: [systemd]\nkernel-arguments: [ostreex=1, quiet]\n')['kernel-arguments']).toEqual(['ostreex=1', 'quiet']);
  });
});
