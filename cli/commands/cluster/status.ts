import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base.js';
import { statusCluster, type StatusResult } from '../../../qemu/cluster/launch.js';
import { formatUpdates } from '../../../qemu/cluster/updates.js';

export default class ClusterStatus extends BaseCommand {
  static override summary = 'show the members, the health and the fleet updates of the cluster';
  static override description = 'etcdctl over TLS on each node; per node its booted and staged version, the reboot lock holders and the failed versions from /fcos/updates/. Exit 1 when not all are healthy.';
  static override args = { dir: Args.string({ description: 'cluster directory', required: true }) };

  async run(): Promise<void> {
    const { args } = await this.parse(ClusterStatus);
    const r = await statusCluster(args.dir);
    this.output(r, (x: StatusResult) =>
      [
        `cluster ${x.name}: ${x.healthy ? 'healthy' : 'NOT healthy'}`,
        'nodes:',
        ...x.nodes.map((n) => `  ${n.name}  ${n.ip}  ${n.running ? `running (pid ${n.pid}) ${n.endpoint}` : 'not running'}  ${n.healthy ? 'healthy' : `unhealthy: ${n.error ?? ''}`}`),
        'members:',
        ...(x.members.length ? x.members.map((m) => `  ${m.id}  ${m.started ? 'started' : 'unstarted'}  ${m.name || '-'}  peers ${m.peerURLs.join(',')}  clients ${m.clientURLs.join(',')}`) : ['  (none reachable)']),
        ...formatUpdates(x.updates),
      ].join('\n'),
    );
    if (!r.healthy) process.exitCode = 1;
  }
}
