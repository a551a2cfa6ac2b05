import { describe, it, expect, afterAll } from 'vitest';
import { readFileSync, readlinkSync, statSync, mkdtempSync, rmSync, existsSync, writeFileSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import yaml from 'js-yaml';
import { overlayK8sDir, overlayK8sFiles, installK8sPayload } from '../../ostree/k8s/payload.js';
import { PAUSE_IMAGE, goSourcesDir } from '../../ostree/k8s/images.js';

const O = overlayK8sDir();
const read = (p: string) => readFileSync(join(O, p), 'utf8');
const tmps: string[] = [];
afterAll(() => tmps.forEach((d) => rmSync(d, { recursive: true, force: true })));

type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
interface TomlTable {
  [k: string]: TomlValue;
}

/** A strict parser for the TOML subset containerd configs use: [a."b.c".d] tables, key = string|int|bool|[strings]. */
function parseToml(text: string): TomlTable {
  const root: TomlTable = {};
  let cur = root;
  const splitKey = (s: string): string[] => {
    const parts: string[] = [];
    const re = /\s*(?:"([^"]*)"|([A-Za-z0-9_-]+))\s*(?:\.|$)/y;
    let m: RegExpExecArray | null;
    let last = 0;
    while (last < s.length && (m = re.exec(s))) {
      parts.push(m[1] ?? m[2]!);
      last = re.lastIndex;
    }
    if (last !== s.length) throw new Error(`bad TOML key: ${s}`);
    return parts;
  };
  const value = (v: string): TomlValue => {
    v = v.trim();
    if (/^"([^"\\]|\\.)*"$/.test(v)) return JSON.parse(v);
    if (v === 'true' || v === 'false') return v === 'true';
    if (/^-?\d+$/.test(v)) return Number(v);
    if (v.startsWith('[') && v.endsWith(']')) {
      const inner = v.slice(1, -1).trim();
      return inner ? inner.split(',').map((x) => value(x)) : [];
    }
    throw new Error(`bad TOML value: ${v}`);
  };
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/^\s*#.*$/, '').trim();
    if (!line) return;
    const t = /^\[([^\]]+)\]$/.exec(line);
    if (t) {
      cur = root;
      for (const k of splitKey(t[1]!)) {
        if (cur[k] === undefined) cur[k] = {};
        if (typeof cur[k] !== 'object' || Array.isArray(cur[k])) throw new Error(`line ${i + 1}: ${k} is not a table`);
        cur = cur[k] as TomlTable;
      }
      return;
    }
    const kv = /^("[^"]*"|[A-Za-z0-9_-]+)\s*=\s*(.+)$/.exec(line);
    if (!kv) throw new Error(`line ${i + 1}: cannot parse '${line}'`);
    const key = splitKey(kv[1]!)[0]!;
    if (key in cur) throw new Error(`line ${i + 1}: duplicate key ${key}`);
    cur[key] = value(kv[2]!);
  });
  return root;
}

describe('overlay-k8s: containerd', () => {
  const toml = parseToml(read('etc/containerd/config.toml'));
  const cri = (toml.plugins as TomlTable)['io.containerd.grpc.v1.cri'] as TomlTable;

  it('is a version 2 config with the CRI plugin enabled', () => {
    expect(toml.version).toBe(2);
    expect(cri).toBeDefined();
    const disabled = (toml.disabled_plugins as string[] | undefined) ?? [];
    expect(disabled).not.toContain('cri');
    expect(disabled).not.toContain('io.containerd.grpc.v1.cri');
  });

  it('uses the offline pause image, systemd cgroups for runc, Debian CNI paths', () => {
    expect(cri.sandbox_image).toBe(PAUSE_IMAGE);
    expect(cri.sandbox_image).toBe('localhost/fcos/pause:3.10');
    const runc = ((cri.containerd as TomlTable).runtimes as TomlTable).runc as TomlTable;
    expect(runc.runtime_type).toBe('io.containerd.runc.v2');
    expect((runc.options as TomlTable).SystemdCgroup).toBe(true);
    expect((cri.containerd as TomlTable).snapshotter).toBe('overlayfs');
    const cni = cri.cni as TomlTable;
    expect(cni.bin_dir).toBe('/usr/lib/cni');
    expect(cni.conf_dir).toBe('/etc/cni/net.d');
  });

  it('the parser is strict enough to catch a broken file', () => {
    expect(() => parseToml('version = 2\n[plugins\n')).toThrow();
    expect(() => parseToml('a = 1\na = 2\n')).toThrow();
  });
});

describe('overlay-k8s: CNI', () => {
  const conf = JSON.parse(read('etc/cni/net.d/10-fcos-bridge.conflist'));
  it('is a bridge + portmap conflist on its own bridge and subnet, disjoint from podman', () => {
    expect(conf.cniVersion).toBe('1.0.0');
    const bridge = conf.plugins.find((p: { type: string }) => p.type === 'bridge');
    expect(bridge.bridge).toBe('cni-fcos0');
    expect(bridge.bridge).not.toBe('podman0');
    expect(bridge.bridge.length).toBeLessThanOrEqual(15); // IFNAMSIZ
    const subnet: string = bridge.ipam.ranges[0][0].subnet;
    expect(subnet).toBe('10.85.0.0/24');
    // podman: default network 10.88.0.0/16, new networks from 10.89.0.0/16 … 10.255.255.0/24
    const [a, b] = subnet.split('.').map(Number);
    expect(a).toBe(10);
    expect(b).toBeLessThan(88);
    expect(conf.plugins.some((p: { type: string; capabilities?: { portMappings?: boolean } }) => p.type === 'portmap' && p.capabilities?.portMappings)).toBe(true);
  });
  it('is the first CNI file containerd loads (max_conf_num = 1), before podman’s 87-podman-bridge.conflist', () => {
    const toml = parseToml(read('etc/containerd/config.toml'));
    const cni = ((toml.plugins as TomlTable)['io.containerd.grpc.v1.cri'] as TomlTable).cni as TomlTable;
    expect(cni.max_conf_num).toBe(1);
    const files = readdirSync(join(O, 'etc/cni/net.d')).sort();
    expect(files).toEqual(['10-fcos-bridge.conflist']);
    expect([...files, '87-podman-bridge.conflist'].sort()[0]).toBe('10-fcos-bridge.conflist');
  });
});

describe('overlay-k8s: kubelet', () => {
  const cfg = yaml.load(read('etc/kubernetes/kubelet.yaml')) as Record<string, any>;
  it('is a standalone KubeletConfiguration', () => {
    expect(cfg.apiVersion).toBe('kubelet.config.k8s.io/v1beta1');
    expect(cfg.kind).toBe('KubeletConfiguration');
    expect(cfg.staticPodPath).toBe('/etc/kubernetes/manifests');
    expect(cfg.cgroupDriver).toBe('systemd');
    expect(cfg.containerRuntimeEndpoint).toBe('unix:///run/containerd/containerd.sock');
    expect(cfg.registerNode).toBe(false);
    expect(cfg.failSwapOn).toBe(false);
    expect(cfg.imageGCHighThresholdPercent).toBeGreaterThan(cfg.imageGCLowThresholdPercent);
  });
  it('is locked down: loopback only, no read-only port, no anonymous access, client certs from the local CA', () => {
    expect(cfg.address).toBe('127.0.0.1');
    expect(cfg.healthzBindAddress).toBe('127.0.0.1');
    expect(cfg.readOnlyPort).toBe(0);
    expect(cfg.authentication.anonymous.enabled).toBe(false);
    expect(cfg.authentication.webhook.enabled).toBe(false);
    expect(cfg.authentication.x509.clientCAFile).toBe('/etc/kubernetes/pki/ca.crt');
    expect(cfg.tlsCertFile).toBe('/etc/kubernetes/pki/kubelet.crt');
    expect(cfg.tlsPrivateKeyFile).toBe('/etc/kubernetes/pki/kubelet.key');
  });
  it('uses only fields of KubeletConfiguration v1beta1 (no typos)', () => {
    // The top-level json names of k8s.io/kubelet/config/v1beta1 KubeletConfiguration that fcos uses.
    const known = new Set([
      'apiVersion', 'kind', 'staticPodPath', 'fileCheckFrequency', 'containerRuntimeEndpoint', 'cgroupDriver', 'registerNode',
      'address', 'port', 'readOnlyPort', 'healthzBindAddress', 'healthzPort', 'tlsCertFile', 'tlsPrivateKeyFile',
      'tlsMinVersion', 'rotateCertificates', 'serverTLSBootstrap', 'authentication', 'authorization',
      'enableDebuggingHandlers', 'failSwapOn', 'imageMinimumGCAge', 'imageGCHighThresholdPercent',
      'imageGCLowThresholdPercent', 'evictionHard', 'maxPods', 'podPidsLimit', 'containerLogMaxSize',
      'containerLogMaxFiles', 'logging', 'resolvConf',
    ]);
    for (const k of Object.keys(cfg)) expect(known.has(k), k).toBe(true);
  });
  it('the unit runs kubelet with the config and the drop-in dir, after containerd and the preload', () => {
    const unit = read('usr/lib/systemd/system/kubelet.service');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/kubelet --config=\/etc\/kubernetes\/kubelet\.yaml --config-dir=\/run\/kubelet\/config\.d$/m);
    expect(unit).toMatch(/^ExecStartPre=\/usr\/libexec\/fcos\/kubelet-prepare$/m);
    expect(unit).toMatch(/^Requires=containerd\.service$/m);
    expect(unit).toMatch(/^After=.*containerd\.service/m);
    expect(unit).toMatch(/^After=.*fcos-preload-images\.service/m);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).not.toMatch(/kubeconfig/);
  });
  it('the preload unit runs before kubelet, after containerd', () => {
    const unit = read('usr/lib/systemd/system/fcos-preload-images.service');
    expect(unit).toMatch(/^Before=kubelet\.service$/m);
    expect(unit).toMatch(/^After=containerd\.service/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/libexec\/fcos\/preload-images$/m);
    expect(unit).toMatch(/^Type=oneshot$/m);
  });
  it('units are started by fcos-node.target, which multi-user.target wants without waiting for it', () => {
    const wants = join(O, 'etc/systemd/system/fcos-node.target.wants');
    const target = read('usr/lib/systemd/system/fcos-node.target');
    for (const u of ['kubelet.service', 'containerd.service', 'fcos-preload-images.service']) {
      expect(readlinkSync(join(wants, u))).toBe(`/usr/lib/systemd/system/${u}`);
      expect(target).toMatch(new RegExp(`^Wants=.*\\b${u.replace('.', '\\.')}`, 'm'));
      expect(target).toMatch(new RegExp(`^After=.*\\b${u.replace('.', '\\.')}`, 'm'));
    }
    // multi-user.target orders itself after a wanted unit only when that unit has default dependencies
    expect(target).toMatch(/^DefaultDependencies=no$/m);
    expect(target).not.toMatch(/^Before=.*multi-user/m);
    expect(readlinkSync(join(O, 'etc/systemd/system/multi-user.target.wants/fcos-node.target'))).toBe('/usr/lib/systemd/system/fcos-node.target');
    expect(readdirSync(join(O, 'etc/systemd/system/multi-user.target.wants'))).toEqual(['fcos-node.target']);
    expect(read('usr/lib/systemd/system-preset/40-fcos-kubelet.preset')).toMatch(/^enable fcos-node\.target$/m);
    for (const u of ['kubelet.service', 'fcos-preload-images.service']) expect(read(`usr/lib/systemd/system/${u}`)).toMatch(/^WantedBy=fcos-node\.target$/m);
  });
});

describe('overlay-k8s: scripts', () => {
  for (const s of ['usr/libexec/fcos/kubelet-prepare', 'usr/libexec/fcos/preload-images']) {
    it(`${s} is executable POSIX sh`, () => {
      expect(statSync(join(O, s)).mode & 0o111).toBe(0o111);
      execFileSync('sh', ['-n', join(O, s)]);
      expect(read(s).startsWith('#!/bin/sh\n')).toBe(true);
    });
  }

  it('kubelet-prepare makes a CA, a serving cert for 127.0.0.1 and a client cert, once; and the resolv.conf drop-in', () => {
    const root = mkdtempSync(join(tmpdir(), 'fcos-prep-'));
    tmps.push(root);
    const run = () => execFileSync(join(O, 'usr/libexec/fcos/kubelet-prepare'), { env: { ...process.env, FCOS_ROOT: root }, encoding: 'utf8' });
    run();
    const pki = join(root, 'etc/kubernetes/pki');
    const ca = readFileSync(join(pki, 'ca.crt'), 'utf8');
    for (const f of ['ca.key', 'kubelet.key', 'admin.key']) expect(statSync(join(pki, f)).mode & 0o077).toBe(0);
    expect(statSync(pki).mode & 0o777).toBe(0o700);
    const verify = execFileSync('openssl', ['verify', '-CAfile', join(pki, 'ca.crt'), join(pki, 'kubelet.crt'), join(pki, 'admin.crt')], { encoding: 'utf8' });
    expect(verify).toMatch(/kubelet\.crt: OK/);
    expect(verify).toMatch(/admin\.crt: OK/);
    const serving = execFileSync('openssl', ['x509', '-in', join(pki, 'kubelet.crt'), '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], { encoding: 'utf8' });
    expect(serving).toContain('IP Address:127.0.0.1');
    expect(serving).toContain('TLS Web Server Authentication');
    const client = execFileSync('openssl', ['x509', '-in', join(pki, 'admin.crt'), '-noout', '-subject', '-ext', 'extendedKeyUsage'], { encoding: 'utf8' });
    expect(client).toContain('CN = fcos-admin');
    expect(client).toContain('TLS Web Client Authentication');
    expect(existsSync(join(root, 'etc/kubernetes/manifests'))).toBe(true);
    const drop = yaml.load(readFileSync(join(root, 'run/kubelet/config.d/50-fcos-resolv.conf'), 'utf8')) as Record<string, string>;
    expect(drop).toEqual({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', resolvConf: '/etc/resolv.conf' });
    // second run: keeps the PKI; with systemd-resolved present, points at its file
    mkdirSync(join(root, 'run/systemd/resolve'), { recursive: true });
    writeFileSync(join(root, 'run/systemd/resolve/resolv.conf'), 'nameserver 10.0.2.3\n');
    run();
    expect(readFileSync(join(pki, 'ca.crt'), 'utf8')).toBe(ca);
    expect(readFileSync(join(root, 'run/kubelet/config.d/50-fcos-resolv.conf'), 'utf8')).toContain('resolvConf: /run/systemd/resolve/resolv.conf');
  });
});

describe('installK8sPayload', () => {
  it('lists the overlay and copies it with the kubelet into a rootfs (symlinks verbatim)', async () => {
    const files = await overlayK8sFiles();
    expect(files).toContain('etc/containerd/config.toml');
    expect(files).toContain('etc/kubernetes/kubelet.yaml');
    expect(files).toContain('usr/lib/systemd/system/kubelet.service');
    const root = mkdtempSync(join(tmpdir(), 'fcos-payload-'));
    tmps.push(root);
    const kubelet = join(root, 'kubelet-src');
    writeFileSync(kubelet, '#!/bin/sh\necho Kubernetes v1.35.4\n');
    const rootfs = join(root, 'rootfs');
    mkdirSync(rootfs);
    const r = await installK8sPayload(rootfs, { kubelet: { path: kubelet }, images: false });
    expect(r.files).toContain('usr/bin/kubelet');
    expect(statSync(join(rootfs, 'usr/bin/kubelet')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(rootfs, 'etc/systemd/system/fcos-node.target.wants/kubelet.service'))).toBe('/usr/lib/systemd/system/kubelet.service');
    expect(statSync(join(rootfs, 'usr/libexec/fcos/preload-images')).mode & 0o111).toBe(0o111);
    for (const f of files) expect(existsSync(join(rootfs, f)) || readlinkSync(join(rootfs, f)), f).toBeTruthy();
  });

  it('replaces links the packages already made in the tree, even when their targets are not on the host', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fcos-payload-'));
    tmps.push(root);
    const kubelet = join(root, 'kubelet-src');
    writeFileSync(kubelet, '#!/bin/sh\necho Kubernetes v1.35.4\n');
    const rootfs = join(root, 'rootfs');
    const wants = join(rootfs, 'etc/systemd/system/multi-user.target.wants');
    mkdirSync(wants, { recursive: true });
    // what containerd's postinst leaves (deb-systemd-helper), and a link whose target no host has
    symlinkSync('/lib/systemd/system/containerd.service', join(wants, 'containerd.service'));
    const nodeWants = join(rootfs, 'etc/systemd/system/fcos-node.target.wants');
    mkdirSync(nodeWants, { recursive: true });
    symlinkSync('/usr/lib/systemd/system/fcos-nonexistent-on-host.service', join(nodeWants, 'kubelet.service'));
    await installK8sPayload(rootfs, { kubelet: { path: kubelet }, images: false });
    expect(readlinkSync(join(nodeWants, 'containerd.service'))).toBe('/usr/lib/systemd/system/containerd.service');
    expect(readlinkSync(join(nodeWants, 'kubelet.service'))).toBe('/usr/lib/systemd/system/kubelet.service');
    // the postinst's link into multi-user.target is gone: containerd no longer holds up multi-user.target
    expect(existsSync(join(wants, 'containerd.service'))).toBe(false);
    expect(readdirSync(wants)).toEqual(['fcos-node.target']);
  });

  it('the Go sources of the images are found', () => {
    expect(readdirSync(goSourcesDir()).sort()).toEqual(['hello', 'pause']);
  });
});
