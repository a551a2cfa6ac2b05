import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base.js';
import { downCluster, type DownResult } from '../../../qemu/cluster/launch.js';

export default class ClusterDown extends BaseCommand {
  static override summary = 'stop the cluster VMs';
  static override description = 'Drops the disk overlays; the keys and configs stay.';
  static override args = { dir: Args.string({ description: 'cluster directory', required: true }) };

  async run(): Promise<void> {
    const { args } = await this.parse(ClusterDown);
    const r = await downCluster(args.dir);
    this.output(r, (x: DownResult) => `stopped: ${x.stopped.join(', ') || 'none'}${x.notRunning.length ? `\nwas not running: ${x.notRunning.join(', ')}` : ''}`);
  }
}
