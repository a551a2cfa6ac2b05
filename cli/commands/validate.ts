import { Args, Flags } from '../oclif.js';
import { BaseCommand } from '../base.js';
import { validateFiles, renderText } from '../../ignition/files.js';

export default class Validate extends BaseCommand {
  static override summary = 'validate Ignition configs like ignition-validate';
  static override description =
    'Spec 3.0.0–3.6.0: the errors and warnings of ignition-validate, each with its line and column. Exit 1 when a config is invalid.';
  static override strict = false;
  static override args = { file: Args.string({ description: 'Ignition config file(s)', required: true }) };
  static override pure = true;
  static override flags = {
    strict: Flags.boolean({ char: 's', description: 'treat warnings as errors', default: false }),
  };
  static override examples = ['<%= config.bin %> validate examples/config.ign', '<%= config.bin %> validate --json a.ign b.ign'];

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Validate);
    const files = argv as string[];
    const results = await validateFiles(files, { strict: flags.strict });
    // --json: [{file, valid, errors, warnings}] (the ordered findings list is only for the text form).
    this.output(
      results.map(({ findings: _f, ...rest }) => rest),
      () => renderText(results),
    );
    if (results.some((r) => !r.valid)) process.exitCode = 1;
  }
}
