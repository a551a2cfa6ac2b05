import { Args, Flags } from '../oclif.js';
import { BaseCommand } from '../base.js';
import { translateButaneFile } from '../../ignition/butane/index.js';
import { formatFinding, type Finding } from '../../ignition/report.js';

export default class Butane extends BaseCommand {
  static override summary = 'translate a Butane config into an Ignition config';
  static override description = 'Variants fcos 1.0.0–1.7.0, flatcar, r4e, fiot and openshift (a MachineConfig); flags as in Butane. Warnings go to stderr, the config to stdout or --output.';
  static override args = { file: Args.string({ description: 'Butane YAML file (stdin when omitted or -)', required: false, ignoreStdin: true }) };
  static override pure = true;
  static override flags = {
    'files-dir': Flags.string({ char: 'd', description: 'directory that local file references are confined to' }),
    strict: Flags.boolean({ char: 's', description: 'fail on any warning', default: false }),
    output: Flags.string({ char: 'o', description: 'write the Ignition config to this file instead of stdout' }),
    pretty: Flags.boolean({ char: 'p', description: 'indent the output', default: false }),
    raw: Flags.boolean({ char: 'r', description: 'openshift: write the Ignition config, not a MachineConfig', default: false }),
  };
  static override examples = [
    '<%= config.bin %> butane config.bu',
    '<%= config.bin %> butane -s -d files/ -o config.ign config.bu',
    'cat config.bu | <%= config.bin %> butane --pretty',
  ];

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Butane);
    const r = await translateButaneFile({ file: args.file, filesDir: flags['files-dir'], strict: flags.strict, output: flags.output, pretty: flags.pretty, raw: flags.raw });
    // Warnings go to stderr (as Butane prints its report), so stdout stays a clean config.
    if (!this.jsonMode) for (const w of r.warnings as Finding[]) process.stderr.write(`${args.file ? `${args.file}: ` : ''}${formatFinding(w)}\n`);
    this.output({ ignition: r.ignition, ...(r.machineConfig ? { machineConfig: r.machineConfig } : {}), warnings: r.warnings }, () => r.text);
  }
}
