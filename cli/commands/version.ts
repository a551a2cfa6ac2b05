import { BaseCommand } from '../base.js';
import { toolVersions } from '../../lib/version.js';

export default class Version extends BaseCommand {
  static override description = 'print the version of fcos and of the host tools it drives';

  async run(): Promise<void> {
    const r = await toolVersions();
    this.output(r, (v) => Object.entries(v).map(([k, x]) => `${k}: ${x}`).join('\n'));
  }
}
