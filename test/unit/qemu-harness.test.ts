import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseSystemdAnalyze, parseSystemdTime } from '../../qemu/boot-time.js';
import { forwardedHostPort, latestBuildImage, scenarioNetwork } from '../../qemu/harness.js';
import { buildQemuArgs } from '../../qemu/args.js';
import { uefi } from '../../test/scenarios/uefi.js';
import { findPod, helloPodManifest, kubelet, kubeletConfig, podReady, podman, POD_MESSAGE } from '../../test/scenarios/kubelet.js';
import { validateConfig } from '../../ignition/validate.js';
import jsyaml from 'js-yaml';
import { selectScenarios, SCENARIOS } from '../../test/scenarios/index.js';
import { basicConfig } from '../../test/scenarios/basic.js';
import { UserError } from '../../lib/errors.js';

describe('systemd-analyze parsing', () => {
  it('time spans', () => {
    expect(parseSystemdTime('13.537s')).toBe(13.537);
    expect(parseSystemdTime('812ms')).toBe(0.812);
    expect(parseSystemdTime('1min 2.5s')).toBe(62.5);
    expect(parseSystemdTime('1h 1min 1s')).toBe(3661);
    expect(() => parseSystemdTime('soon')).toThrow();
  });
  it('plain Debian (no initrd line) and an initrd boot', () => {
    const a = parseSystemdAnalyze('Startup finished in 13.537s (kernel) + 27.255s (userspace) = 40.792s \ngraphical.target reached after 25.861s in userspace.\n');
    expect(a).toEqual({ kernel: 13.537, userspace: 27.255, total: 40.792, target: 'graphical.target', targetInUserspace: 25.861 });
    const b = parseSystemdAnalyze('Startup finished in 1.2s (firmware) + 300ms (loader) + 5.8s (kernel) + 19.9s (initrd) + 25.6s (userspace) = 52.8s\nmulti-user.target reached after 25.1s in userspace');
    expect(b).toMatchObject({ firmware: 1.2, loader: 0.3, kernel: 5.8, initrd: 19.9, userspace: 25.6, total: 52.8, target: 'multi-user.target', targetInUserspace: 25.1 });
  });
});

describe('the latest build', () => {
  it('is a clear user error when nothing is built', () => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-builds-'));
    const e = (() => {
      try {
        latestBuildImage(d);
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).toMatch(/no image built yet.*run fcos build/);
  });
  it('reads builds/latest/meta.json images.qemu.path relative to the build dir', () => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-builds-'));
    mkdirSync(join(d, '1.0'));
    writeFileSync(join(d, '1.0', 'fcos-1.0-qemu.qcow2'), '');
    writeFileSync(join(d, '1.0', 'meta.json'), JSON.stringify({ buildid: '1.0', images: { qemu: { path: 'fcos-1.0-qemu.qcow2', sha256: 'x', size: 0 } } }));
    symlinkSync('1.0', join(d, 'latest'));
    // The build's own directory (latest may move on while a VM runs from it).
    expect(latestBuildImage(d)).toEqual({ path: join(realpathSync(d), '1.0', 'fcos-1.0-qemu.qcow2'), format: 'qcow2', buildId: '1.0' });
  });
  it('says so when the latest build has no qemu image', () => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-builds-'));
    mkdirSync(join(d, 'latest'));
    writeFileSync(join(d, 'latest', 'meta.json'), JSON.stringify({ buildid: '1.0' }));
    expect(() => latestBuildImage(d)).toThrow(/has no qemu image/);
  });
});

describe('scenario registry', () => {
  it('a bare fcos test runs the non-self-test scenarios', () => {
    expect(selectScenarios([]).map((s) => s.name)).toEqual(['basic', 'uefi', 'kubelet', 'podman']);
  });
  it('names select, unknown names are user errors listing the known ones', () => {
    expect(selectScenarios(['baseline-panic']).map((s) => s.name)).toEqual(['baseline-panic']);
    expect(() => selectScenarios(['nope'])).toThrow(/no such scenario: nope/);
  });
  it('names are unique and every scenario says how many boots it costs', () => {
    expect(new Set(SCENARIOS.map((s) => s.name)).size).toBe(SCENARIOS.length);
    for (const s of SCENARIOS) expect(s.boots).toBeGreaterThan(0);
  });
  it('basic config: fetch with a sha512, owner/mode, units', () => {
    const c = basicConfig('http://10.0.2.2:1234/payload.bin', 'ab'.repeat(64)) as any;
    expect(c.ignition.version).toBe('3.3.0');
    const fetched = c.storage.files.find((f: any) => f.path === '/var/lib/fcos-test/fetched.bin');
    expect(fetched.contents).toEqual({ source: 'http://10.0.2.2:1234/payload.bin', verification: { hash: `sha512-${'ab'.repeat(64)}` } });
    const hello = c.storage.files.find((f: any) => f.path === '/etc/fcos-test/hello.txt');
    expect(hello).toMatchObject({ mode: 0o640, user: { name: 'core' }, group: { name: 'root' } });
    expect(c.systemd.units.map((u: any) => u.name)).toEqual(['fcos-test-ran.service', 'fcos-test-firstboot.service', 'etcd.service']);
    expect(c.systemd.units[2]).toEqual({ name: 'etcd.service', enabled: true });
    expect(c.systemd.units[1].contents).toContain('ConditionFirstBoot=yes');
  });
});

describe('scenario networking (forwarded ports, restrict=on)', () => {
  it('forwardPorts become hostfwd rules on 127.0.0.1 and restrictNetwork restrict=on', () => {
    const net = scenarioNetwork({ image: 'fcos', forwardPorts: [8080, 9000], restrictNetwork: true }, [40001, 40002]);
    expect(net).toEqual({ forwards: [{ hostPort: 40001, guestPort: 8080 }, { hostPort: 40002, guestPort: 9000 }], restrict: true });
    const argv = buildQemuArgs({ accel: 'tcg', nics: [{ kind: 'user', forwards: [{ hostPort: 2222, guestPort: 22 }, ...net.forwards!], restrict: net.restrict }] });
    expect(argv[argv.indexOf('-netdev') + 1]).toBe('user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:40001-:8080,hostfwd=tcp:127.0.0.1:40002-:9000');
  });
  it('without them the network is unchanged', () => {
    expect(scenarioNetwork({ image: 'fcos' }, [])).toEqual({});
  });
  it('rejects a port count mismatch, duplicates and 22', () => {
    expect(() => scenarioNetwork({ image: 'fcos', forwardPorts: [8080] }, [])).toThrow(/1 forwarded port\(s\) but 0 host port/);
    expect(() => scenarioNetwork({ image: 'fcos', forwardPorts: [80, 80] }, [1, 2])).toThrow(/twice/);
    expect(() => scenarioNetwork({ image: 'fcos', forwardPorts: [22] }, [1])).toThrow(/always forwarded/);
  });
  it('forwardedHostPort finds the tcp forward of a guest port, or says which ones exist', () => {
    const spec = { forwards: [{ hostPort: 5353, guestPort: 8080, proto: 'udp' as const }, { hostPort: 40001, guestPort: 8080 }] };
    expect(forwardedHostPort(spec, 8080)).toBe(40001);
    expect(() => forwardedHostPort(spec, 9000)).toThrow(/guest port 9000 is not forwarded \(forwarded: 8080, 8080\)/);
    expect(() => forwardedHostPort({}, 80)).toThrow(/forwarded: none/);
  });
  it('the kubelet and podman scenarios run restricted with guest port 8080 forwarded (kubelet and uefi: 8081, the pod, too)', () => {
    expect(podman.needs).toMatchObject({ image: 'fcos', forwardPorts: [8080], restrictNetwork: true });
    for (const s of [kubelet, uefi]) expect(s.needs).toMatchObject({ image: 'fcos', forwardPorts: [8080, 8081], restrictNetwork: true });
    expect(uefi.needs.firmware).toBe('uefi');
  });
});

describe('kubelet scenario', () => {
  it('its Ignition config is valid and drops the static pod manifest', () => {
    const c = kubeletConfig() as any;
    const v = validateConfig(JSON.stringify(c));
    expect(v.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const f = c.storage.files[0];
    expect(f.path).toBe('/etc/kubernetes/manifests/fcos-hello.yaml');
    expect(decodeURIComponent(f.contents.source.replace(/^data:,/, ''))).toBe(helloPodManifest());
  });
  it('the pod uses the preloaded image, never pulls, and maps a host port', () => {
    const pod = jsyaml.load(helloPodManifest()) as any;
    expect(pod).toMatchObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'fcos-hello' } });
    const c = pod.spec.containers[0];
    expect(c).toMatchObject({ image: 'localhost/fcos/hello:1', imagePullPolicy: 'Never', ports: [{ containerPort: 80, hostPort: 8081, protocol: 'TCP' }] });
    expect(c.env).toContainEqual({ name: 'MESSAGE', value: POD_MESSAGE });
  });
  it('finds the static pod under its node-suffixed name and judges readiness', () => {
    const running = { metadata: { name: 'fcos-hello-node1', namespace: 'default' }, status: { phase: 'Running', containerStatuses: [{ name: 'hello', ready: true }] } };
    expect(findPod({ items: [{ metadata: { name: 'other' } }, running] })).toBe(running);
    expect(findPod({ items: [{ metadata: { name: 'fcos-hellox' } }] })).toBeUndefined();
    expect(findPod({})).toBeUndefined();
    expect(podReady(running)).toBe(true);
    expect(podReady({ ...running, status: { phase: 'Pending', containerStatuses: [{ ready: false }] } })).toBe(false);
    expect(podReady({ ...running, status: { phase: 'Running', containerStatuses: [{ ready: false }] } })).toBe(false);
    expect(podReady({ ...running, status: { phase: 'Running', containerStatuses: [] } })).toBe(false);
    expect(podReady(undefined)).toBe(false);
  });
});
