/** Validating config files on disk: read safely, validate, and render results in ignition-validate's text form. */
import { readFileSync, statSync } from 'node:fs';
import { formatFinding, hasErrors, type Finding } from './report.js';
import { MAX_CONFIG_BYTES, tooLargeMessage, validateConfig } from './validate.js';

export interface FileResult {
  file: string;
  valid: boolean;
  errors: Omit<Finding, 'severity'>[];
  warnings: Omit<Finding, 'severity'>[];
  /** All findings in report order (not part of the JSON output). */
  findings: Finding[];
}

function strip(f: Finding): Omit<Finding, 'severity'> {
  const { severity: _s, ...rest } = f;
  return rest;
}

/**
 * Read a config file, turning file-system problems into a finding rather than a crash. Synchronously: files are read
 * one after the other anyway, and each asynchronous call was a round trip through the thread pool (with many small
 * configs, more time than validating them).
 */
function readConfig(file: string): Buffer | Finding {
  try {
    const st = statSync(file);
    if (st.isDirectory()) return { severity: 'error', path: '$', message: `${file} is a directory, not a config file` };
    if (!st.isFile()) return { severity: 'error', path: '$', message: `${file} is not a regular file` };
    if (st.size > MAX_CONFIG_BYTES) return { severity: 'error', path: '$', message: `${file}: ${tooLargeMessage(st.size)}` };
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const msg = code === 'ENOENT' ? `no such file: ${file}` : code === 'EACCES' ? `permission denied: ${file}` : `cannot read ${file}: ${(e as Error).message}`;
    return { severity: 'error', path: '$', message: msg };
  }
}

export async function validateFiles(files: readonly string[], opts: { strict?: boolean } = {}): Promise<FileResult[]> {
  const out: FileResult[] = [];
  for (const file of files) {
    const data = readConfig(file);
    const findings = Buffer.isBuffer(data) ? validateConfig(data).findings : [data];
    const errors = findings.filter((f) => f.severity === 'error');
    const warnings = findings.filter((f) => f.severity === 'warning');
    const valid = !hasErrors(findings) && !(opts.strict && warnings.length > 0);
    out.push({ file, valid, errors: errors.map(strip), warnings: warnings.map(strip), findings });
  }
  return out;
}

export function renderText(results: readonly FileResult[]): string {
  const multi = results.length > 1;
  const lines: string[] = [];
  for (const r of results) {
    // Findings keep Ignition's report order (its traversal order), so the first error is the one Ignition prints first.
    for (const f of r.findings) lines.push((multi ? `${r.file}: ` : '') + formatFinding(f));
  }
  return lines.join('\n');
}
