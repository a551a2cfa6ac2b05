
import { BugError } from '../lib/errors.js';/**
 * buildQemuArgs(config): the pure QEMU command-line builder (linuxkit's buildQemuCmdline, kola's qemu.go flags).
 * No I/O: it only turns a typed config into argv. The runner (vm.ts) creates overlays, OVMF vars copies, ports and
 * sockets first, and passes their paths in.
 *
 * Defaults and why:
 * - memory 2048 MiB (cosa uses 1024): our ostree+Ignition initramfs is ~43 MB, first boot runs podman/etcd checks,
 *   and PXE with the rootfs by URL needs 2 GiB (coreos-installer docs). The host has 24 GiB.
 * - 2 vCPUs, q35, virtio everything, `-nographic -nodefaults`, virtio-rng, disks with `cache=unsafe`.
 */

export type Accel = 'kvm' | 'tcg';
export type Firmware = 'bios' | 'uefi';

export const DEFAULT_MEMORY_MIB = 2048;
export const DEFAULT_CPUS = 2;

/** Debian's `ovmf` package (bookworm and trixie): 4 MiB flash images. */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export interface DiskSpec {
  path: string;
  format?: 'qcow2' | 'raw';
  /** QEMU's own throw-away snapshot (-drive snapshot=on): writes go to a temp file. The runner prefers an overlay. */
  snapshot?: boolean;
  readonly?: boolean;
  /** Serial number seen by the guest (/dev/disk/by-id/virtio-SERIAL). */
  serial?: string;
  /** Defaults to `unsafe` (kola: the primary disk gets cache=unsafe). */
  cache?: 'unsafe' | 'none' | 'writeback' | 'writethrough' | 'directsync';
}

export interface PortForward {
  proto?: 'tcp' | 'udp';
  /** Host address, default 127.0.0.1 (never expose a test VM to the network). */
  hostAddr?: string;
  hostPort: number;
  guestPort: number;
}

export interface UserNic {
  kind: 'user';
  forwards?: PortForward[];
  /** restrict=on: the guest cannot reach anything outside (host included, 10.0.2.2); only forwarded ports and guestfwd. */
  restrict?: boolean;
  /** guestfwd rules, e.g. `tcp:10.0.2.100:80-cmd:nc 127.0.0.1 8080` (commas are escaped for you). */
  guestfwd?: string[];
  /** Built-in TFTP server root (PXE). */
  tftp?: string;
  /** BOOTP boot file name (PXE), relative to tftp or an http:// URL for iPXE. */
  bootfile?: string;
  mac?: string;
  /** Guest network, e.g. 10.0.2.0/24 (QEMU's default). */
  net?: string;
  hostname?: string;
}

export interface McastNic {
  kind: 'mcast';
  /** Multicast group address:port shared by the VMs of one cluster, e.g. 230.0.0.1:1234. */
  group: string;
  /** Local address to bind (127.0.0.1 keeps the traffic on the host). */
  localaddr?: string;
  /** Required in practice: VMs on one segment need distinct MACs. */
  mac?: string;
}

export interface SocketNic {
  kind: 'socket';
  listen?: string;
  connect?: string;
  mac?: string;
}

export type NicSpec = UserNic | McastNic | SocketNic;

export interface KernelBoot {
  kernel: string;
  initrd?: string;
  append?: string;
}

export interface QemuConfig {
  binary?: string;
  name?: string;
  accel: Accel;
  machine?: 'q35' | 'pc';
  memoryMiB?: number;
  cpus?: number;
  firmware?: Firmware;
  /** UEFI: the read-only code and the per-VM writable copy of OVMF_VARS (the runner copies it). */
  ovmf?: { code?: string; vars: string };
  disks?: DiskSpec[];
  kernelBoot?: KernelBoot;
  /** Ignition config, passed by fw_cfg like cosa/kola (platform qemu). */
  ignition?: string;
  nics?: NicSpec[];
  /** Boot from the network (PXE) instead of the first disk. */
  netboot?: boolean;
  /** The serial console: always into logFile; with stdio also on the terminal (interactive). */
  serial?: { logFile: string; stdio?: boolean };
  /** QMP unix socket path. */
  qmpSocket?: string;
  /** virtio-rng from /dev/urandom; default true. */
  rng?: boolean;
  /** Exit instead of rebooting (a guest reboot stops QEMU). */
  noReboot?: boolean;
  pidfile?: string;
  /** Appended verbatim. */
  extraArgs?: string[];
}

/** QEMU option values: a comma inside a value is written as two commas. */
export function qemuEscape(value: string): string {
  return value.replace(/,/g, ',,');
}

export function nicDevice(index: number, nic: NicSpec, bootindex?: number): string[] {
  const id = `net${index}`;
  let netdev: string;
  switch (nic.kind) {
    case 'user': {
      const parts = [`user`, `id=${id}`];
      if (nic.net) parts.push(`net=${nic.net}`);
      if (nic.hostname) parts.push(`hostname=${qemuEscape(nic.hostname)}`);
      if (nic.restrict) parts.push('restrict=on');
      for (const f of nic.forwards ?? []) {
        parts.push(`hostfwd=${f.proto ?? 'tcp'}:${f.hostAddr ?? '127.0.0.1'}:${f.hostPort}-:${f.guestPort}`);
      }
      for (const g of nic.guestfwd ?? []) parts.push(`guestfwd=${qemuEscape(g)}`);
      if (nic.tftp) parts.push(`tftp=${qemuEscape(nic.tftp)}`);
      if (nic.bootfile) parts.push(`bootfile=${qemuEscape(nic.bootfile)}`);
      netdev = parts.join(',');
      break;
    }
    case 'mcast':
      netdev = `socket,id=${id},mcast=${nic.group}${nic.localaddr ? `,localaddr=${nic.localaddr}` : ''}`;
      break;
    case 'socket':
      if (!nic.listen === !nic.connect) throw new BugError('a socket NIC needs exactly one of listen or connect');
      netdev = `socket,id=${id},${nic.listen ? `listen=${nic.listen}` : `connect=${nic.connect}`}`;
      break;
  }
  let dev = `virtio-net-pci,netdev=${id}`;
  if (nic.mac) dev += `,mac=${nic.mac}`;
  if (bootindex !== undefined) dev += `,bootindex=${bootindex}`;
  return ['-netdev', netdev, '-device', dev];
}

/**
 * The TCG CPU: QEMU's `max` without CMPXCHG16B. QEMU 7.2's TCG mishandles the flags of the kernel's
 * `cmpxchg16b %gs:(…)` (SLUB's per-CPU freelist fast path): twice on 2026-12-04 a guest died with "Oops: double
 * fault" at the same RIP, __kmalloc_cache_node_noprof+0x11a right after that instruction, with EFLAGS holding a
 * pointer's bits (once with -smp 2 at shutdown, once with -smp 1 during a first boot). Without cx16 the kernel takes
 * SLUB's locked path; Debian's userland and our Go binaries target x86-64 v1, which has no cx16 either.
 */
export const TCG_CPU = 'max,cx16=off';

export function buildQemuArgs(c: QemuConfig): string[] {
  const a: string[] = [];
  const machine = c.machine ?? 'q35';
  const firmware = c.firmware ?? 'bios';
  if (c.name) a.push('-name', qemuEscape(c.name));
  a.push('-nodefaults', '-nographic');
  a.push('-machine', `${machine},accel=${c.accel}`);
  a.push('-cpu', c.accel === 'kvm' ? 'host' : TCG_CPU);
  a.push('-smp', String(c.cpus ?? DEFAULT_CPUS));
  a.push('-m', String(c.memoryMiB ?? DEFAULT_MEMORY_MIB));

  if (firmware === 'uefi') {
    if (!c.ovmf?.vars) throw new BugError('UEFI firmware needs a per-VM copy of OVMF_VARS (ovmf.vars)');
    a.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${qemuEscape(c.ovmf.code ?? OVMF_CODE)}`);
    a.push('-drive', `if=pflash,format=raw,unit=1,file=${qemuEscape(c.ovmf.vars)}`);
  }

  if (c.kernelBoot) {
    a.push('-kernel', c.kernelBoot.kernel);
    if (c.kernelBoot.initrd) a.push('-initrd', c.kernelBoot.initrd);
    if (c.kernelBoot.append) a.push('-append', c.kernelBoot.append);
  }

  (c.disks ?? []).forEach((d, i) => {
    const parts = [`if=none`, `id=disk${i}`, `file=${qemuEscape(d.path)}`, `format=${d.format ?? 'qcow2'}`, `cache=${d.cache ?? 'unsafe'}`, 'discard=unmap'];
    if (d.snapshot) parts.push('snapshot=on');
    if (d.readonly) parts.push('readonly=on');
    a.push('-drive', parts.join(','));
    let dev = `virtio-blk-pci,drive=disk${i}`;
    if (d.serial) dev += `,serial=${qemuEscape(d.serial)}`;
    // Disks boot first unless we netboot; the first disk is the boot disk.
    if (!c.kernelBoot) dev += `,bootindex=${c.netboot ? i + 2 : i + 1}`;
    a.push('-device', dev);
  });

  (c.nics ?? []).forEach((n, i) => a.push(...nicDevice(i, n, c.netboot && i === 0 ? 1 : undefined)));
  if (c.netboot) a.push('-boot', 'order=n');

  if (c.ignition) a.push('-fw_cfg', `name=opt/com.coreos/config,file=${qemuEscape(c.ignition)}`);

  if (c.rng ?? true) a.push('-object', 'rng-random,id=rng0,filename=/dev/urandom', '-device', 'virtio-rng-pci,rng=rng0');

  if (c.serial) {
    const log = qemuEscape(c.serial.logFile);
    if (c.serial.stdio) a.push('-chardev', `stdio,id=serial0,signal=off,logfile=${log},logappend=on`);
    else a.push('-chardev', `file,id=serial0,path=${log},append=on`);
    a.push('-serial', 'chardev:serial0');
  }
  if (c.qmpSocket) a.push('-qmp', `unix:${qemuEscape(c.qmpSocket)},server=on,wait=off`);
  if (c.noReboot) a.push('-no-reboot');
  if (c.pidfile) a.push('-pidfile', c.pidfile);
  if (c.extraArgs) a.push(...c.extraArgs);
  return a;
}

/** The whole command: binary first. */
export function qemuCommand(c: QemuConfig): { file: string; args: string[] } {
  return { file: c.binary ?? 'qemu-system-x86_64', args: buildQemuArgs(c) };
}
