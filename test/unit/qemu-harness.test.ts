import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseSystemdAnalyze, parseSystemdTime } from '../../qemu/bench.js';
import { latestBuildImage } from '../../qemu/harness.js';
import { selectScenarios, SCENARIOS } from '../../qemu/scenarios/index.js';
import { basicConfig } from '../../qemu/scenarios/basic.js';
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
    expect(selectScenarios([]).map((s) => s.name)).toEqual(['basic', 'uefi']);
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
