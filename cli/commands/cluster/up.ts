import { Args, Flags } from '../../oclif.js';
import { BaseCommand } from '../../base.js';
import { buildsDir } from '../../../lib/paths.js';
import { upCluster, type UpResult } from '../../../qemu/cluster/launch.js';

export default class ClusterUp extends BaseCommand {
  static override summary = 'boot the cluster nodes and wait until etcd is healthy';
  static override description = 'Boots the nodes that are not running as detached QEMU VMs, then waits until every etcd member is healthy.';
  static override args = { dir: Args.string({ description: 'cluster directory (from fcos cluster init)', required: true }) };
  static override flags = {
    image: Flags.string({ description: 'disk image (default: the latest build images.qemu)' }),
    builds: Flags.string({ description: 'builds directory (default ./builds)' }),
    memory: Flags.integer({ char: 'm', description: 'memory per node in MiB', default: 1024 }),
    cpus: Flags.integer({ description: 'virtual CPUs per node', default: 1 }),
    accel: Flags.string({ description: 'accelerator', options: ['auto', 'kvm', 'tcg'], default: 'auto' }),
    timeout: Flags.integer({ description: 'seconds to wait for every member to be healthy', default: 1200 }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ClusterUp);
    const r = await upCluster(args.dir, {
      image: flags.image,
      buildsDir: buildsDir(flags.builds),
      memoryMiB: flags.memory,
      cpus: flags.cpus,
      accel: flags.accel as 'auto' | 'kvm' | 'tcg',
      timeoutSec: flags.timeout,
    });
    this.output(r, (x: UpResult) =>
      [
        `cluster up in ${x.seconds} s (started: ${x.started.join(', ') || 'none'}${x.alreadyRunning.length ? `; already running: ${x.alreadyRunning.join(', ')}` : ''})`,
        ...x.nodes.map((n) => `  ${n.name}  ${n.ip}  ${n.endpoint}  pid ${n.pid}\n    ssh: ${n.ssh}`),
        `etcdctl: set -a; . ${x.etcdctlEnv}; set +a; etcdctl member list`,
        `stop: fcos cluster down ${x.dir}`,
      ].join('\n'),
    );
  }
}
