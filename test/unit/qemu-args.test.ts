import { describe, expect, it } from 'vitest';
import { buildQemuArgs, nicDevice, qemuEscape, OVMF_CODE, DEFAULT_MEMORY_MIB, type QemuConfig } from '../../qemu/args.js';

/** The value following each occurrence of `flag`. */
function values(args: string[], flag: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === flag) out.push(args[i + 1]!);
  });
  return out;
}
const base: QemuConfig = { accel: 'tcg' };

describe('buildQemuArgs', () => {
  it('defaults: q35, tcg with -cpu max (cx16 off), 2 vCPUs, 2048 MiB, -nodefaults -nographic, virtio-rng', () => {
    const a = buildQemuArgs(base);
    expect(a.slice(0, 2)).toEqual(['-nodefaults', '-nographic']);
    expect(values(a, '-machine')).toEqual(['q35,accel=tcg']);
    expect(values(a, '-cpu')).toEqual(['max,cx16=off']);
    expect(values(a, '-smp')).toEqual(['2']);
    expect(values(a, '-m')).toEqual([String(DEFAULT_MEMORY_MIB)]);
    expect(DEFAULT_MEMORY_MIB).toBe(2048);
    expect(values(a, '-object')).toEqual(['rng-random,id=rng0,filename=/dev/urandom']);
    expect(values(a, '-device')).toEqual(['virtio-rng-pci,rng=rng0']);
    expect(a).not.toContain('-drive');
    expect(a).not.toContain('-no-reboot');
  });

  it('kvm uses -cpu host; pc machine, memory and cpus are honoured', () => {
    const a = buildQemuArgs({ accel: 'kvm', machine: 'pc', memoryMiB: 1024, cpus: 4 });
    expect(values(a, '-machine')).toEqual(['pc,accel=kvm']);
    expect(values(a, '-cpu')).toEqual(['host']);
    expect(values(a, '-m')).toEqual(['1024']);
    expect(values(a, '-smp')).toEqual(['4']);
  });

  it('rng can be turned off', () => {
    expect(buildQemuArgs({ ...base, rng: false })).not.toContain('-object');
  });

  it('bios firmware adds no pflash; uefi adds read-only code and the per-VM vars copy', () => {
    expect(buildQemuArgs({ ...base, firmware: 'bios' }).join(' ')).not.toContain('pflash');
    const a = buildQemuArgs({ ...base, firmware: 'uefi', ovmf: { vars: '/vm/OVMF_VARS.fd' } });
    expect(values(a, '-drive')).toEqual([
      `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      'if=pflash,format=raw,unit=1,file=/vm/OVMF_VARS.fd',
    ]);
    expect(OVMF_CODE).toBe('/usr/share/OVMF/OVMF_CODE_4M.fd');
  });

  it('uefi without a vars copy is a bug, not a silent shared vars file', () => {
    expect(() => buildQemuArgs({ ...base, firmware: 'uefi' })).toThrow(/OVMF_VARS/);
  });

  it('disks: virtio-blk, cache=unsafe, format, boot order, serial, snapshot, readonly', () => {
    const a = buildQemuArgs({
      ...base,
      disks: [{ path: '/vm/overlay.qcow2' }, { path: '/vm/data.raw', format: 'raw', serial: 'data', snapshot: true, readonly: true, cache: 'none' }],
    });
    expect(values(a, '-drive')).toEqual([
      'if=none,id=disk0,file=/vm/overlay.qcow2,format=qcow2,cache=unsafe,discard=unmap',
      'if=none,id=disk1,file=/vm/data.raw,format=raw,cache=none,discard=unmap,snapshot=on,readonly=on',
    ]);
    expect(values(a, '-device')).toContain('virtio-blk-pci,drive=disk0,bootindex=1');
    expect(values(a, '-device')).toContain('virtio-blk-pci,drive=disk1,serial=data,bootindex=2');
  });

  it('escapes commas in paths', () => {
    expect(qemuEscape('/a,b/c')).toBe('/a,,b/c');
    const a = buildQemuArgs({ ...base, disks: [{ path: '/x,y.qcow2' }], ignition: '/c,d.ign' });
    expect(values(a, '-drive')[0]).toContain('file=/x,,y.qcow2,');
    expect(values(a, '-fw_cfg')).toEqual(['name=opt/com.coreos/config,file=/c,,d.ign']);
  });

  it('Ignition goes through fw_cfg like cosa', () => {
    expect(values(buildQemuArgs({ ...base, ignition: '/vm/config.ign' }), '-fw_cfg')).toEqual(['name=opt/com.coreos/config,file=/vm/config.ign']);
  });

  it('direct kernel boot: -kernel -initrd -append, and disks get no bootindex', () => {
    const a = buildQemuArgs({ ...base, kernelBoot: { kernel: '/k', initrd: '/i', append: 'root=/dev/vda console=ttyS0' }, disks: [{ path: '/d.raw', format: 'raw' }] });
    expect(values(a, '-kernel')).toEqual(['/k']);
    expect(values(a, '-initrd')).toEqual(['/i']);
    expect(values(a, '-append')).toEqual(['root=/dev/vda console=ttyS0']);
    expect(values(a, '-device')).toContain('virtio-blk-pci,drive=disk0');
  });

  it('user networking: SSH hostfwd on 127.0.0.1, extra forwards, restrict=on, guestfwd', () => {
    const a = buildQemuArgs({
      ...base,
      nics: [
        {
          kind: 'user',
          forwards: [
            { hostPort: 2222, guestPort: 22 },
            { proto: 'udp', hostAddr: '127.0.0.2', hostPort: 5353, guestPort: 53 },
          ],
          restrict: true,
          guestfwd: ['tcp:10.0.2.100:80-cmd:nc 127.0.0.1 8080'],
        },
      ],
    });
    expect(values(a, '-netdev')).toEqual([
      'user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp:127.0.0.2:5353-:53,guestfwd=tcp:10.0.2.100:80-cmd:nc 127.0.0.1 8080',
    ]);
    expect(values(a, '-device')).toContain('virtio-net-pci,netdev=net0');
  });

  it('PXE: tftp and bootfile on the user netdev, -boot order=n, the NIC boots first, disks after', () => {
    const a = buildQemuArgs({
      ...base,
      netboot: true,
      disks: [{ path: '/target.qcow2' }],
      nics: [{ kind: 'user', tftp: '/srv/tftp', bootfile: 'undionly.kpxe', mac: '52:54:00:00:00:01' }],
    });
    expect(values(a, '-netdev')).toEqual(['user,id=net0,tftp=/srv/tftp,bootfile=undionly.kpxe']);
    expect(values(a, '-device')).toContain('virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,bootindex=1');
    expect(values(a, '-device')).toContain('virtio-blk-pci,drive=disk0,bootindex=2');
    expect(values(a, '-boot')).toEqual(['order=n']);
  });

  it('several NICs: user + multicast socket (cluster) + socket listen/connect', () => {
    const a = buildQemuArgs({
      ...base,
      nics: [
        { kind: 'user', forwards: [{ hostPort: 2201, guestPort: 22 }] },
        { kind: 'mcast', group: '230.0.0.1:1234', localaddr: '127.0.0.1', mac: '52:54:00:12:34:01' },
        { kind: 'socket', listen: ':4000' },
      ],
    });
    expect(values(a, '-netdev')).toEqual(['user,id=net0,hostfwd=tcp:127.0.0.1:2201-:22', 'socket,id=net1,mcast=230.0.0.1:1234,localaddr=127.0.0.1', 'socket,id=net2,listen=:4000']);
    expect(values(a, '-device')).toEqual(expect.arrayContaining(['virtio-net-pci,netdev=net1,mac=52:54:00:12:34:01', 'virtio-net-pci,netdev=net2']));
    expect(() => nicDevice(0, { kind: 'socket' })).toThrow(/exactly one/);
  });

  it('serial console to a file, or to the terminal with a log file; QMP; -no-reboot; pidfile; extra args', () => {
    const f = buildQemuArgs({ ...base, serial: { logFile: '/vm/console.txt' }, qmpSocket: '/vm/qmp.sock', noReboot: true, pidfile: '/vm/pid', extraArgs: ['-S'] });
    expect(values(f, '-chardev')).toEqual(['file,id=serial0,path=/vm/console.txt,append=on']);
    expect(values(f, '-serial')).toEqual(['chardev:serial0']);
    expect(values(f, '-qmp')).toEqual(['unix:/vm/qmp.sock,server=on,wait=off']);
    expect(f).toContain('-no-reboot');
    expect(values(f, '-pidfile')).toEqual(['/vm/pid']);
    expect(f.at(-1)).toBe('-S');
    const t = buildQemuArgs({ ...base, serial: { logFile: '/vm/console.txt', stdio: true } });
    expect(values(t, '-chardev')).toEqual(['stdio,id=serial0,signal=off,logfile=/vm/console.txt,logappend=on']);
  });

  it('is pure: the same config gives the same args', () => {
    const c: QemuConfig = { ...base, disks: [{ path: '/d' }], nics: [{ kind: 'user' }] };
    expect(buildQemuArgs(c)).toEqual(buildQemuArgs(c));
  });
});
