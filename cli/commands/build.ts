import { Flags } from '../oclif.js';
import { BaseCommand } from '../base.js';
import { buildImage, type BuildImageResult, type ComposeFn } from '../../images/build.js';
import { compose as composeTree } from '../../ostree/compose.js';
import { FORMATS } from '../../images/formats.js';
import { buildsDir } from '../../lib/paths.js';
import { latestCompose } from '../../ostree/builds.js';
import { join } from 'node:path';

export default class Build extends BaseCommand {
  static override summary = 'build a bootable disk image that applies an Ignition config at first boot';
  static override description =
    'Composes the manifest when its inputs changed, then writes the images (GPT, BIOS+UEFI GRUB, an ostree deployment) with the Ignition or Butane config embedded; Ignition applies it at first boot.';
  static override flags = {
    ignition: Flags.string({ char: 'i', description: 'Ignition config (.ign) or Butane config (.bu) to embed', required: true }),
    // -m is --memory elsewhere (run, cluster up, as in cosa run); kept here for one release, with a warning.
    manifest: Flags.string({ charAliases: ['m'], deprecateAliases: true, description: 'compose manifest (default: ostree/manifests/default.yaml)' }),
    builds: Flags.string({ description: 'builds directory (default: ./builds)' }),
    format: Flags.string({ char: 'f', description: 'output format', options: [...Object.keys(FORMATS), 'all'], multiple: true, default: ['qcow2'] }),
    firmware: Flags.string({ description: 'boot firmware to install GRUB for', options: ['bios', 'uefi', 'both'], default: 'both' }),
    force: Flags.boolean({ description: 'compose and write the images even when their inputs are unchanged', default: false }),
    'no-compose': Flags.boolean({ description: 'use the latest compose in the builds directory as it is', default: false }),
  };
  static override examples = [
    '<%= config.bin %> build --ignition examples/config.ign',
    '<%= config.bin %> build -i config.bu --format qcow2 --format raw --firmware uefi --json',
  ];

  async run(): Promise<void> {
    const { flags } = await this.parse(Build);
    const dir = buildsDir(flags.builds);
    const compose: ComposeFn = flags['no-compose'] ? async (o) => latestCompose(o.buildsDir) : (o) => composeTree(o);
    const r = await buildImage({
      ignition: flags.ignition,
      manifest: flags.manifest,
      buildsDir: dir,
      formats: flags.format,
      firmware: flags.firmware as 'bios' | 'uefi' | 'both',
      force: flags.force,
      compose,
    });
    this.output(r, render);
  }
}

function render(r: BuildImageResult): string {
  const lines = [
    `build ${r.buildId} (${r.composed ? 'new compose' : 'reused compose'}, commit ${r.commit.slice(0, 12)})`,
    `  firmware: ${r.firmware}; kernel arguments: ${r.kernelArguments.join(' ')}`,
  ];
  if (r.configVersion && r.configVersion !== r.imageConfigVersion) lines.push(`  config: spec ${r.configVersion} translated to ${r.imageConfigVersion}`);
  for (const [k, i] of Object.entries(r.images)) lines.push(`  ${k}: ${join(r.buildDir, i.path)} (${(i.size / 1024 / 1024).toFixed(0)} MiB, sha256 ${i.sha256.slice(0, 16)}…)`);
  return lines.join('\n');
}
