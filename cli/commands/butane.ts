import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base.js';
import { translateButaneFile } from '../../ignition/butane/index.js';

export default class Butane extends BaseCommand {
  static override description = 'translate a Butane config (variant fcos, 1.0.0–1.7.0) into Ignition JSON';
  static override args = { file: Args.string({ description: 'Butane YAML file (stdin when omitted)', required: false }) };
  static override flags = {
    'files-dir': Flags.string({ char: 'd', description: 'directory that local file references are confined to' }),
    strict: Flags.boolean({ description: 'fail on any warning', default: false }),
    output: Flags.string({ char: 'o', description: 'write the Ignition config to this file instead of stdout' }),
    pretty: Flags.boolean({ char: 'p', description: 'indent the output', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Butane);
    const r = await translateButaneFile({ file: args.file, filesDir: flags['files-dir'], strict: flags.strict, output: flags.output, pretty: flags.pretty });
    this.output(r, (x) => x.text);
  }
}
