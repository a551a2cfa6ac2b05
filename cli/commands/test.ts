import { Args, Flags } from '../oclif.js';
import { BaseCommand } from '../base.js';
import { buildsDir } from '../../lib/paths.js';
import { runScenarios, type TestReport } from '../../qemu/harness.js';
import { SCENARIOS, selectScenarios } from '../../test/scenarios/index.js';

export default class Test extends BaseCommand {
  static override summary = 'run kola-style test scenarios in QEMU VMs';
  static override description =
    'Boots the images each scenario needs and runs its checks; logs in tmp/fcos-test/<scenario>/. --parallel N runs up to N scenarios at once (like kola). Exit 1 when a check fails.';
  static override strict = false;
  static override args = { scenario: Args.string({ description: `scenario name(s): ${SCENARIOS.map((s) => s.name).join(', ')}` }) };
  static override flags = {
    builds: Flags.string({ description: 'builds directory (default ./builds)' }),
    list: Flags.boolean({ description: 'list the scenarios and exit', default: false }),
    out: Flags.string({ description: 'results directory (default tmp/fcos-test)' }),
    parallel: Flags.integer({ description: 'run up to this many scenarios at once (1: one after the other)', default: 1, min: 1 }),
  };
  static override examples = [
    '<%= config.bin %> test basic',
    '<%= config.bin %> test basic uefi --parallel 2',
    '<%= config.bin %> test baseline-smoke --json',
    '<%= config.bin %> test --list',
  ];

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Test);
    if (flags.list) {
      const list = SCENARIOS.map((s) => ({ name: s.name, description: s.description, image: s.needs.image, boots: s.boots, selftest: !!s.selftest }));
      this.output(list, (l) => l.map((s) => `${s.name.padEnd(24)} ${s.image.padEnd(8)} ${s.boots} boot(s)  ${s.description}`).join('\n'));
      return;
    }
    const scenarios = selectScenarios(argv as string[]);
    const report = await runScenarios({ scenarios, buildsDir: buildsDir(flags.builds), outRoot: flags.out, parallel: flags.parallel });
    this.output(report, renderReport);
    if (!report.ok) process.exitCode = 1;
  }
}

export function renderReport(r: TestReport): string {
  const lines: string[] = [];
  for (const s of r.scenarios) {
    lines.push(`${s.ok ? 'PASS' : 'FAIL'} ${s.name} (${s.seconds.toFixed(0)} s, ${s.boots} boot(s), logs: ${s.dir})`);
    for (const c of s.checks) {
      lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
      if (!c.ok && c.error) lines.push(...c.error.split('\n').slice(0, 12).map((l) => `       ${l}`));
    }
  }
  lines.push(`scenarios: ${r.passed} passed, ${r.failed} failed`);
  return lines.join('\n');
}
