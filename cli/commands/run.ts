import { Args, Flags } from '../oclif.js';
import { BaseCommand } from '../base.js';
import { buildsDir } from '../../lib/paths.js';
import { runVm, type RunVmResult } from '../../qemu/run.js';

export default class Run extends BaseCommand {
  static override summary = 'boot an image under QEMU';
  static override description = 'The latest build by default, through a throw-away overlay; prints the ssh line, the console log and the QMP socket. Ctrl-C powers the VM off.';
  static override args = { image: Args.string({ description: 'disk image (qcow2 or raw); default: builds/latest images.qemu' }) };
  static override flags = {
    ignition: Flags.string({ char: 'i', description: 'Ignition config for the first boot (an SSH key for core is added)' }),
    firmware: Flags.string({ description: 'firmware', options: ['bios', 'uefi'], default: 'bios' }),
    memory: Flags.integer({ char: 'm', description: 'memory in MiB (default 2048; 3072 with --pxe)' }),
    cpus: Flags.integer({ description: 'virtual CPUs (default 2)' }),
    'ssh-port': Flags.integer({ description: 'host port forwarded to the guest SSH (default: a free one)' }),
    // -d is --files-dir elsewhere (butane, as in Butane); kept here for one release, with a warning.
    detach: Flags.boolean({ charAliases: ['d'], deprecateAliases: true, description: 'leave the VM running and exit once SSH answers', default: false, exclusive: ['console'] }),
    console: Flags.boolean({ char: 'c', description: 'the serial console on this terminal too (Ctrl-A X quits)', default: false }),
    persist: Flags.boolean({ description: 'write to the image itself instead of a throw-away overlay', default: false }),
    baseline: Flags.boolean({ description: 'boot the plain Debian baseline image instead (bench/boot, harness self-tests)', default: false }),
    accel: Flags.string({ description: 'accelerator', options: ['auto', 'kvm', 'tcg'], default: 'auto' }),
    builds: Flags.string({ description: 'builds directory (default ./builds)' }),
    pxe: Flags.boolean({ description: 'boot from the network (iPXE) from `fcos pxe serve` instead of a disk image', default: false, exclusive: ['baseline', 'persist'] }),
    'pxe-url': Flags.string({ description: 'the fcos pxe serve URL as the VM sees it', default: 'http://10.0.2.2:8080' }),
    mac: Flags.string({ description: 'MAC address of the VM (--pxe: picks its config)' }),
    'disk-size': Flags.integer({ description: '--pxe: an empty disk of this many GiB (to install to)' }),
    dir: Flags.string({ description: 'where console.txt, the overlay and the QMP socket go (default tmp/fcos-run/<time>)' }),
    'ssh-timeout': Flags.integer({ description: 'seconds to wait for SSH before giving up (default 600)', min: 1 }),
  };
  static override examples = ['<%= config.bin %> run', '<%= config.bin %> run -i examples/config.ign --detach', '<%= config.bin %> run --baseline --console', '<%= config.bin %> run --pxe --mac 52:54:00:00:00:01 --disk-size 8 --console'];

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Run);
    const text = (r: RunVmResult) =>
      [
        `ssh: ${r.sshCommand}`,
        `console: ${r.console}`,
        `qmp: ${r.qmpSocket}`,
        `pid: ${r.pid}`,
        r.detached ? `stop it with: kill ${r.pid}   (or QMP system_powerdown on ${r.qmpSocket})` : r.stopped ? `stopped: ${r.stopped}` : '',
      ]
        .filter(Boolean)
        .join('\n');
    const result = await runVm({
      image: args.image,
      baseline: flags.baseline,
      buildsDir: buildsDir(flags.builds),
      ignition: flags.ignition,
      firmware: flags.firmware as 'bios' | 'uefi',
      memoryMiB: flags.memory,
      cpus: flags.cpus,
      sshPort: flags['ssh-port'],
      detach: flags.detach,
      console: flags.console,
      persist: flags.persist,
      accel: flags.accel as 'auto' | 'kvm' | 'tcg',
      dir: flags.dir,
      sshTimeoutSec: flags['ssh-timeout'],
      pxe: flags.pxe ? { url: flags['pxe-url'], mac: flags.mac, diskGiB: flags['disk-size'] } : undefined,
      // Without --json the login line is printed as soon as SSH answers (stderr, so stdout stays the result).
      onReady: (r) => {
        if (!this.jsonMode && !flags.detach) process.stderr.write(`ready: ${r.sshCommand}\n`);
      },
    });
    this.output(result, text);
  }
}
