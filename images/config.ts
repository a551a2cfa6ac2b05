/**
 * The user's config, made ready for the image: Butane → Ignition, validation (all before any other work),
 * translation down to the image's Ignition (2.14, spec ≤ 3.3.0), and a last check with the image's own
 * validator version (ignition-validate 2.14 from Debian) so that first boot cannot reject what the build accepted.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { UserError } from '../lib/errors.js';
import { run } from '../lib/run.js';
import { haveTool } from '../lib/tools.js';
import { validateConfig } from '../ignition/validate.js';
import { translateButaneFile } from '../ignition/butane/index.js';
import { downlevelConfig } from '../ignition/downlevel.js';
import { formatFinding, hasErrors, type Finding } from '../ignition/report.js';
import { warn } from '../lib/log.js';

export interface PreparedConfig {
  /** The config handed to the image (JSON text, spec ≤ 3.3.0). */
  text: string;
  fromVersion?: string;
  toVersion?: string;
  warnings: Finding[];
}

export class ConfigRefusedError extends UserError {
  constructor(
    file: string,
    readonly findings: Finding[],
  ) {
    super(
      `${file}: the config cannot be used for this image:\n${findings
        .filter((f) => f.severity === 'error')
        .map((f) => `  ${formatFinding(f)}`)
        .join('\n')}`,
    );
  }
}

/** Read, translate (Butane), validate and down-level a config file. Throws ConfigRefusedError on any error. */
export async function prepareConfig(file: string): Promise<PreparedConfig> {
  let text: string;
  if (['.bu', '.yaml', '.yml'].includes(extname(file))) {
    const r = await translateButaneFile({ file, strict: false });
    text = JSON.stringify(r.ignition);
  } else {
    text = readFileSync(file, 'utf8');
  }
  const warnings: Finding[] = [];
  const v = validateConfig(text);
  if (hasErrors(v.findings)) throw new ConfigRefusedError(file, v.findings);
  warnings.push(...v.findings);
  let parsed: unknown = v.config;
  if (parsed === undefined) {
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ConfigRefusedError(file, [{ severity: 'error', path: '$', message: `not valid JSON: ${(e as Error).message}` }]);
    }
  }
  const d = downlevelConfig(parsed);
  if (hasErrors(d.findings) || !d.config) throw new ConfigRefusedError(file, d.findings);
  warnings.push(...d.findings.filter((f) => f.severity === 'warning'));
  const out = d.fromVersion === d.toVersion && d.config === parsed ? text : JSON.stringify(d.config);
  // The image's Ignition is Debian's 2.14; so is the host's ignition-validate (Debian bookworm and trixie ship 2.14).
  if (haveTool('ignition-validate')) {
    const r = await run('ignition-validate', ['-'], { input: out, allowFailure: true });
    if (r.exitCode !== 0) {
      const findings: Finding[] = (r.stdout + r.stderr)
        .split('\n')
        .filter((l) => /^error/.test(l.trim()))
        .map((l) => ({ severity: 'error' as const, path: '$', message: `ignition-validate (2.14): ${l.trim()}` }));
      throw new ConfigRefusedError(file, findings.length ? findings : [{ severity: 'error', path: '$', message: `ignition-validate (2.14) refused it: ${(r.stdout + r.stderr).trim()}` }]);
    }
  } else {
    warn('ignition-validate not found (apt-get install ignition): the config was not checked against Ignition 2.14');
  }
  for (const w of warnings) warn(`${file}: ${formatFinding(w)}`);
  return { text: out, fromVersion: d.fromVersion, toVersion: d.toVersion, warnings };
}
