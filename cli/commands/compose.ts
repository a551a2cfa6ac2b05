import { Flags } from '../oclif.js';
import { BaseCommand } from '../base.js';
import { compose, type ComposeResult } from '../../ostree/compose.js';
import { buildsDir } from '../../lib/paths.js';

export default class Compose extends BaseCommand {
  static override summary = 'compose a manifest into an ostree commit';
  static override description = 'A reproducible ostree commit in builds/repo and its record in builds/<version>/meta.json; nothing is done when the inputs did not change.';
  static override flags = {
    manifest: Flags.string({ description: 'manifest YAML (default: ostree/manifests/default.yaml)' }),
    builds: Flags.string({ description: 'builds directory (default: ./builds or $FCOS_BUILDS_DIR)' }),
    force: Flags.boolean({ description: 'compose even when the inputs did not change', default: false }),
  };
  static override examples = ['<%= config.bin %> compose', '<%= config.bin %> compose --manifest my.yaml --builds /srv/builds --json'];

  async run(): Promise<void> {
    const { flags } = await this.parse(Compose);
    const r = await compose({ manifest: flags.manifest, buildsDir: buildsDir(flags.builds), force: flags.force });
    this.output(r, render);
  }
}

function render(r: ComposeResult): string {
  if (!r.changed) return `No changes in image inputs: ${r.ref} stays at ${r.version} (${r.commit})`;
  return [
    `composed ${r.ref} ${r.version}`,
    `  commit:  ${r.commit}${r.parent ? ` (parent ${r.parent.slice(0, 12)})` : ''}`,
    `  build:   ${r.buildDir}`,
    `  repo:    ${r.repo}`,
    `  packages: ${r.packages}, ${r.seconds.toFixed(1)}s (${Object.entries(r.timings).map(([k, v]) => `${k} ${v.toFixed(1)}s`).join(', ')})`,
    ...(r.kubelet ? [`  kubelet: ${r.kubelet.version} (${r.kubelet.source}${r.kubelet.goVersion ? `, ${r.kubelet.goVersion}` : ''}, sha256 ${r.kubelet.sha256.slice(0, 12)})`] : []),
  ].join('\n');
}
