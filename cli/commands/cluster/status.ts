import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base.js';
import { statusCluster, type StatusResult } from '../../../qemu/cluster.js';

export default class ClusterStatus extends BaseCommand {
  static override description = 'the members of the cluster and the health of each node (etcdctl over TLS); exit 1 when not all healthy';
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
      ].join('\n'),
    );
    if (!r.healthy) process.exitCode = 1;
  }
}
