import { BaseCommand } from '../base.js';
import { toolVersions } from '../../lib/version.js';

export default class Version extends BaseCommand {
  static override summary = 'print the versions of fcos and its host tools';
  static override description = 'fcos, Node.js, and the host tools fcos drives (ostree, QEMU, mmdebstrap, …).';

  async run(): Promise<void> {
    const r = await toolVersions();
    this.output(r, (v) => Object.entries(v).map(([k, x]) => `${k}: ${x}`).join('\n'));
  }
}
