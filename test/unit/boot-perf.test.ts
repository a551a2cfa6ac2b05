/**
 * Boot-time trims of the default image (issue #4's boot-speed goal) and the benchmark's report:
 * - the default manifest's dracut command line has no dracut-systemd (its shell hooks ran on every boot);
 * - the 35fcos dracut module then installs systemd's own emergency/rescue units (a failed first boot still ends in
 *   an emergency shell), and leaves them to dracut-systemd when that module is added back;
 * - the kernel's LSM list without bpf (systemd's bpf-restrict-fs load, twice per boot);
 * - renderBench prints both sides' breakdowns and the ratio.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { HASH_ERROR } from '../../test/scenarios/basic.js';
import { join, resolve } from 'node:path';
import { loadManifest } from '../../ostree/manifest.js';
import { dracutArgs } from '../../ostree/initramfs.js';
import { BASELINE_SUITE, renderBench, type BootBench } from '../../bench/boot.js';
import { medianRun } from '../../qemu/boot-time.js';

const ROOT = resolve(__dirname, '../..');
const MODULE = join(ROOT, 'ostree/guest/overlay/usr/lib/dracut/modules.d/35fcos/module-setup.sh');

/** Run 35fcos's install() with dracut's helpers stubbed: returns what it installs, one call a line. */
function fcosModuleInstalls(included: string[]): string[] {
  const script = `
set -e
moddir=/m; initdir=$(mktemp -d); systemdsystemunitdir=/usr/lib/systemd/system; systemdutildir=/usr/lib/systemd
trap 'rm -rf "$initdir"' EXIT
dracut_module_included() { case " ${included.join(' ')} " in *" $1 "*) return 0;; *) return 1;; esac; }
inst_multiple() { echo "inst_multiple $*"; }
inst_script() { echo "inst_script $*"; }
inst_simple() { echo "inst_simple $*"; }
inst_dir() { echo "inst_dir $*"; }
ln_r() { :; }
. "${MODULE}"
install
[ -L "$initdir/init" ] && echo "init -> $(readlink "$initdir/init")"
`;
  return execFileSync('bash', ['-c', script], { encoding: 'utf8' }).trim().split('\n');
}

const FCOS_INIT = join(ROOT, 'ostree/guest/overlay/usr/lib/dracut/modules.d/35fcos/fcos-init.sh');

/** Run a snippet against fcos-init's functions (sourced with FCOS_INIT_LIB=1: nothing is mounted or exec'd). */
function fcosInit(snippet: string): string {
  return execFileSync('bash', ['-c', `FCOS_INIT_LIB=1; . "${FCOS_INIT}"; ${snippet}`], { encoding: 'utf8' }).trim();
}

describe('default image boot path', () => {
  const m = loadManifest().manifest;

  it('builds the initramfs without dracut-systemd but with the systemd initrd, root and udev modules', () => {
    const args = dracutArgs(m.initramfs, '6.12.0-test');
    const i = args.indexOf('--modules');
    expect(i).toBeGreaterThanOrEqual(0);
    const modules = args[i + 1]!.split(/\s+/);
    expect(modules).not.toContain('dracut-systemd');
    for (const mod of ['systemd', 'systemd-initrd', 'systemd-udevd', 'rootfs-block', 'base']) expect(modules).toContain(mod);
    const add = args[args.indexOf('--add') + 1]!.split(' ');
    expect(add).toEqual(expect.arrayContaining(['ostree', 'ignition', 'fcos']));
    expect(args).toContain('--zstd');
  });

  it('35fcos installs systemd emergency and rescue units only when dracut-systemd is not included', () => {
    const unit = (l: string) => l.includes('emergency.service') && !l.includes('emergency.service.d');
    const without = fcosModuleInstalls(['ignition', 'ostree']).filter(unit);
    expect(without).toHaveLength(1);
    expect(without[0]).toContain('/usr/lib/systemd/systemd-sulogin-shell');
    expect(without[0]).toContain('/usr/lib/systemd/system/rescue.service');
    const withDs = fcosModuleInstalls(['ignition', 'ostree', 'dracut-systemd']);
    expect(withDs.some(unit)).toBe(false);
    // The rest of the module is installed either way, the emergency drop-in that shows Ignition's errors included.
    expect(withDs.some((l) => l.includes('fcos-mount-var.service'))).toBe(true);
    for (const mods of [['ignition', 'ostree'], ['ignition', 'ostree', 'dracut-systemd']]) {
      const lines = fcosModuleInstalls(mods);
      expect(lines.some((l) => l.includes('emergency.service.d/10-fcos-emergency.conf'))).toBe(true);
      expect(lines.some((l) => l.includes('fcos-ignition-failure.sh') && l.includes('/usr/libexec/fcos-ignition-failure'))).toBe(true);
    }
  });

  it('35fcos makes /init the fcos-init shim (over the link to systemd) and installs what its short path runs', () => {
    const lines = fcosModuleInstalls(['ignition', 'ostree']);
    expect(lines).toContain('inst_script /m/fcos-init.sh /usr/libexec/fcos-init');
    expect(lines).toContain('inst_multiple bash switch_root blkid modprobe');
    expect(lines).toContain('init -> usr/libexec/fcos-init');
  });

  it('fcos-init takes the short path only on a later boot of a disk deployment', () => {
    const ok = (cmdline: string) => fcosInit(`fcos_short_path_ok ${JSON.stringify(cmdline)} && echo short || echo systemd`);
    const later = 'BOOT_IMAGE=/ostree/x/vmlinuz root=LABEL=root rw console=ttyS0 ostree=/ostree/boot.1/fcos/abc/0';
    expect(ok(later)).toBe('short');
    // first boot (Ignition), live and installer boots, debugging, the opt-out: systemd
    for (const extra of ['ignition.firstboot', 'ignition.firstboot=1', 'fcos.live.rootfs_url=http://h/r', 'fcos.inst.install_dev=/dev/vda',
      'rd.break', 'rd.break=pre-mount', 'rd.shell', 'rd.emergency', 'systemd.unit=emergency.target', 'fcos.initrd=systemd', 'init=/bin/sh']) {
      expect(ok(`${later} ${extra}`), extra).toBe('systemd');
    }
    expect(ok('root=LABEL=root rw console=ttyS0')).toBe('systemd');
    expect(ok('ostree=/ostree/boot.1/fcos/abc/0 rw')).toBe('systemd');
    expect(ok('root= ostree=/ostree/boot.1/fcos/abc/0')).toBe('systemd');
    // names that only start like the triggers do not count
    expect(ok(`${later} ignition.platform.id=qemu rd.timeout=10`)).toBe('short');
  });

  it('fcos-init reads the last value of a kernel argument', () => {
    const v = (cmdline: string, key: string) => fcosInit(`fcos_cmdline_value ${JSON.stringify(cmdline)} ${key}`);
    expect(v('root=LABEL=root rw root=UUID=1234 rootflags=noatime', 'root')).toBe('UUID=1234');
    expect(v('root=LABEL=root rw', 'rootflags')).toBe('');
    expect(v('rd.timeout=5 rootfstype=ext4', 'rd.timeout')).toBe('5');
    expect(v('xroot=/dev/sda root=/dev/vda4', 'root')).toBe('/dev/vda4');
  });

  it('boots with the kernel LSM list minus bpf', () => {
    const lsm = m['kernel-arguments'].filter((a) => a.startsWith('lsm='));
    expect(lsm).toHaveLength(1);
    const list = lsm[0]!.slice(4).split(',');
    expect(list).not.toContain('bpf');
    // The LSMs the image relies on stay.
    expect(list).toEqual(expect.arrayContaining(['capability', 'apparmor', 'landlock', 'yama']));
  });
});

describe('bench/boot report', () => {
  const analyze = (kernel: number, initrd: number | undefined, userspace: number) => ({
    kernel,
    ...(initrd === undefined ? {} : { initrd }),
    userspace,
    total: kernel + (initrd ?? 0) + userspace,
  });
  const r: BootBench = {
    accel: 'tcg',
    memoryMiB: 2048,
    cpus: 2,
    goal: 1.3,
    ratio: 1.5,
    wallRatio: 1.7,
    baseline: {
      name: 'Debian baseline',
      image: 'b.raw',
      wallSeconds: 30,
      multiUserSeconds: 20,
      analyze: analyze(5, undefined, 15),
      analyzeText: 'Startup finished in 5s (kernel) + 15s (userspace) = 20s\nmulti-user.target reached after 15s in userspace.',
      criticalChain: 'multi-user.target @15s\n└─ssh.service @12s +3s',
      blame: '3s ssh.service\n1s systemd-udevd.service',
      cmdline: 'root=/dev/vda rw',
    },
    fcos: {
      name: 'fcos',
      image: 'f.qcow2',
      wallSeconds: 51,
      multiUserSeconds: 30,
      analyze: analyze(5, 8, 17),
      analyzeText: 'Startup finished in 5s (kernel) + 8s (initrd) + 17s (userspace) = 30s',
      criticalChain: 'multi-user.target @17s\n└─containerd.service @10s +7s',
      blame: '7s containerd.service',
      cmdline: 'root=LABEL=root ostree=/ostree/boot.1/x',
    },
  };

  it('prints both sides with their breakdowns and the ratio against the goal', () => {
    const out = renderBench(r);
    expect(out).toMatch(/^Debian baseline\s+20\.0\s+5\.0\s+-\s+15\.0\s+30\.0$/m);
    expect(out).toMatch(/^fcos\s+30\.0\s+5\.0\s+8\.0\s+17\.0\s+51\.0$/m);
    expect(out).toContain('ratio fcos/baseline (multi-user.target): 1.50x  (goal <= 1.3x: NOT met)');
    expect(out).toContain('--- fcos: Startup finished in 5s (kernel) + 8s (initrd) + 17s (userspace) = 30s');
    expect(out).toContain('  └─containerd.service @10s +7s');
    expect(out).toContain('  3s ssh.service');
    expect(out).toContain('cmdline: root=/dev/vda rw');
    expect(renderBench({ ...r, ratio: 1.2 })).toContain('(goal <= 1.3x: met)');
  });

  it('with rounds, reports the median runs, every run, and when fcos-node.target came up', () => {
    const run = (m: number, node?: number) => ({ ...r.fcos!, multiUserSeconds: m, ...(node === undefined ? {} : { nodeReadySeconds: node }) });
    expect(medianRun([run(30), run(10), run(20)]).multiUserSeconds).toBe(20);
    expect(medianRun([run(40), run(10), run(20), run(30)]).multiUserSeconds).toBe(20);
    const fcosRuns = [run(31, 40), run(29, 38), run(35, 44)];
    const out = renderBench({ ...r, rounds: 3, fcos: medianRun(fcosRuns), fcosRuns, baselineRuns: [r.baseline, r.baseline, r.baseline] });
    expect(out).toContain('alternated 3 times, medians shown');
    expect(out).toContain('multi-user.target of each run: baseline 20.0 20.0 20.0; fcos 31.0 29.0 35.0');
    expect(out).toMatch(/^fcos: fcos-node\.target .* at 40\.0$/m);
  });

  it('compares against the same Debian release as the default manifest', () => {
    expect(BASELINE_SUITE).toBe(loadManifest().manifest.suite);
  });
});

describe('fcos-ignition-failure (before the initramfs emergency shell)', () => {
  const script = join(__dirname, '..', '..', 'ostree', 'guest', 'overlay', 'usr', 'lib', 'dracut', 'modules.d', '35fcos', 'fcos-ignition-failure.sh');
  const runWith = (failedUnits: string) => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-ignfail-'));
    const stub = (name: string, body: string) => writeFileSync(join(d, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    stub('systemctl', `printf '${failedUnits}'`);
    stub('journalctl', `echo 'files: op(6): [failed]   creating file "/sysroot/x": hash verification failed (calculated sha512-${'cd'.repeat(64)} but expected sha512-${'ab'.repeat(64)})'`);
    const out = join(d, 'console');
    const r = spawnSync('bash', [script], { env: { ...process.env, PATH: `${d}:${process.env.PATH}`, FCOS_CONSOLE: out }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    return existsSync(out) ? readFileSync(out, 'utf8') : '';
  };
  it("prints a failed Ignition stage's errors on the console, where the harness's hash check finds them", () => {
    const text = runWith('ignition-files.service loaded failed failed Ignition (files)\\n');
    expect(text).toMatch(/fcos: Ignition failed \(ignition-files.service\); its errors:/);
    expect(text.split('\n').some((l) => HASH_ERROR('ab'.repeat(64)).test(l))).toBe(true);
  });
  it('prints nothing when no Ignition stage failed (another reason for the emergency shell)', () => {
    expect(runWith('systemd-fsck-root.service loaded failed failed File System Check\\n')).toBe('');
  });
});
