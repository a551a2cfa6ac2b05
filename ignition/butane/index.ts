/**
 * `fcos butane`: Butane → Ignition, as a file-level service. The translation itself is pure
 * (translate/); this module reads the input, validates the output, and writes it atomically.
 */
import { chmodSync, readFileSync, renameSync, unlinkSync, writeFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { holdSignals } from '../../lib/signals.js';
import { formatFinding, hasErrors } from '../report.js';
import { firstInvalidUtf8, isFcosOnlyWarning, lineColOfByte, validateConfig } from '../validate.js';
import { E } from '../rules/errors.js';
import { nodeFilesDir } from './filesdir.js';
import { yamlPathOf } from './srcmap.js';
import { marshalIgnition, translateButane, type TranslateOptions, type TranslateResult } from './translate/index.js';
import { elidedFields, marshalMachineConfig } from './openshift.js';
import { snake } from './schema.js';

export { translateButane, marshalIgnition, SPEC_VERSIONS } from './translate/index.js';
export { marshalMachineConfig } from './openshift.js';
export type { TranslateOptions, TranslateResult } from './translate/index.js';
export { memoryFilesDir, nodeFilesDir, type FilesDir } from './filesdir.js';

export interface TranslateFileOptions {
  file?: string;
  filesDir?: string;
  strict?: boolean;
  output?: string;
  pretty?: boolean;
  /** openshift: write the Ignition config instead of the MachineConfig (Butane's -r/--raw). */
  raw?: boolean;
  /** Input text instead of reading `file` or stdin (tests, library callers). */
  input?: string;
}
export interface TranslateFileResult {
  /** Text printed in non-JSON mode: the Ignition config (when not written to a file) plus warnings. */
  text: string;
  ignition: unknown;
  /** openshift (without raw): the MachineConfig that was written. */
  machineConfig?: unknown;
  warnings: unknown[];
}

export interface TextTranslation extends TranslateResult {
  /** The serialized Ignition config, when translation and validation succeeded. */
  json?: string;
  /** What to write: the Ignition JSON, or for openshift (unless raw) the MachineConfig YAML. */
  output?: string;
}

/**
 * Translate Butane text and validate the result with validateConfig. Findings of the validator are
 * reported on the Ignition JSON path, with the YAML position where the paths correspond.
 */
export function translateAndValidate(text: string, opts: TranslateOptions & { pretty?: boolean; raw?: boolean } = {}): TextTranslation {
  const r: TextTranslation = translateButane(text, { validateIgnition: (t) => validateConfig(t), ...opts });
  if (!r.config || hasErrors(r.findings)) return r;
  if (r.machineConfig && opts.raw) {
    // Butane -r: the MachineConfig-only fields have nowhere to go.
    for (const k of elidedFields(r.machineConfig)) {
      const p = `$.openshift.${snake(k)}`;
      const pos = r.locate?.(p);
      r.findings.push({ severity: 'warning', path: p, ...(pos ? { line: pos.line, col: pos.col } : {}), message: 'field ignored in raw mode' });
    }
  }
  // Under --strict a warning already fails the translation: don't validate a config that won't be written.
  if (opts.strict && r.findings.length > 0) return r;
  const json = marshalIgnition(r.config, opts.pretty ?? false);
  // 3.7.0-experimental (fcos 1.8.0-experimental) has the shape of 3.6.0 in everything we emit; the
  // validator knows the stable specs, so the experimental output is checked as 3.6.0.
  const cfg = r.config as { ignition: { version: string } };
  const v = r.ignitionVersion?.endsWith('-experimental')
    ? validateConfig(marshalIgnition({ ...cfg, ignition: { ...cfg.ignition, version: '3.6.0' } }, false))
    : validateConfig(json);
  // Findings on the generated config are reported where their part came from in the Butane source (Butane's
  // TranslateReportPaths): `$.passwd.users.0.sshAuthorizedKeys.1` → `$.passwd.users.0.ssh_authorized_keys_local.0`.
  // Butane checks duplicates before the rest of Ignition's validation (config/util/util.go Translate).
  const dupsFirst = [...v.findings].sort((a, b) => Number(b.message === ERR_DUPLICATE) - Number(a.message === ERR_DUPLICATE));
  for (const f of dupsFirst) {
    if (f.severity === 'warning' && isFcosOnlyWarning(f.message)) continue;
    const yamlPath = yamlPathOf(r.config, f.path, r.inSource);
    const pos = r.locate?.(yamlPath);
    r.findings.push({ severity: f.severity, path: yamlPath, ...(pos ? { line: pos.line, col: pos.col } : {}), message: f.severity === 'error' ? `config generated was invalid: ${f.message}` : f.message });
  }
  if (!hasErrors(r.findings)) {
    r.json = json;
    r.output = r.machineConfig && !opts.raw ? marshalMachineConfig(r.machineConfig) : json;
  }
  return r;
}

const ERR_DUPLICATE = E.Duplicate;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Butane input bytes as text. Not UTF-8 is refused (as `fcos validate` refuses it) instead of being turned into
 * U+FFFD: the message gives the line and column (in bytes) of the first bad byte.
 */
export function decodeButane(data: Uint8Array, where = ''): string {
  try {
    return utf8.decode(data);
  } catch {
    const bad = firstInvalidUtf8(data);
    const { line, col } = lineColOfByte(data, bad);
    throw new UserError(`${where}error at line ${line} col ${col}: config is not valid UTF-8 text`, 'save the Butane config as UTF-8');
  }
}


function readStdin(): string {
  let data: Buffer;
  try {
    data = readFileSync(0);
  } catch (e) {
    throw new UserError(`cannot read the Butane config from stdin: ${(e as Error).message}`);
  }
  return decodeButane(data);
}

function readInput(file: string): string {
  let data: Buffer;
  try {
    if (statSync(file).isDirectory()) throw new UserError(`${file} is a directory, not a Butane config`);
    data = readFileSync(file);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`no such file: ${file}`);
    if (code === 'EACCES') throw new UserError(`permission denied: ${file}`);
    throw new UserError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return decodeButane(data, `${file}: `);
}

/**
 * Write a file atomically: a new temporary file in the same directory (O_EXCL, so nothing already there is
 * written through), then rename over the target. An existing target keeps its permission bits (0644 otherwise).
 */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let created = false;
  try {
    let keep: number | undefined;
    try {
      const st = statSync(path);
      if (st.isFile()) keep = st.mode & 0o7777;
    } catch {
      /* a new file */
    }
    // A new file: 0644 less the umask. Replacing one: private while written, then the old file's mode.
    writeFileSync(tmp, data, { mode: keep === undefined ? 0o644 : 0o600, flag: 'wx' });
    created = true;
    if (keep !== undefined) chmodSync(tmp, keep);
    renameSync(tmp, path);
  } catch (e) {
    if (created)
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`cannot write ${path}: directory ${dirname(path)} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') throw new UserError(`cannot write ${path}: permission denied`);
    if (code === 'EISDIR') throw new UserError(`cannot write ${path}: is a directory`);
    if (code === 'EEXIST') throw new UserError(`cannot write ${path}: the temporary file ${tmp} exists`, 'remove it and try again');
    throw e;
  }
}

export async function translateButaneFile(o: TranslateFileOptions): Promise<TranslateFileResult> {
  const text = o.input ?? (o.file !== undefined && o.file !== '-' ? readInput(o.file) : readStdin());
  if (o.filesDir !== undefined) {
    let isDir = false;
    try {
      isDir = statSync(o.filesDir).isDirectory();
    } catch {
      throw new UserError(`files directory ${o.filesDir} does not exist`);
    }
    if (!isDir) throw new UserError(`files directory ${o.filesDir} is not a directory`);
  }
  const r = translateAndValidate(text, { filesDir: o.filesDir !== undefined ? nodeFilesDir(o.filesDir) : undefined, strict: o.strict, pretty: o.pretty, raw: o.raw });
  const where = o.file && o.file !== '-' ? `${o.file}: ` : '';
  const errors = r.findings.filter((f) => f.severity === 'error');
  const warnings = r.findings.filter((f) => f.severity === 'warning');
  if (errors.length > 0 || r.output === undefined) {
    const shown = errors.length > 0 ? errors : r.findings;
    throw new UserError(shown.map((f) => where + formatFinding(f)).join('\n') || `${where}translation failed`);
  }
  if (o.strict && warnings.length > 0) {
    throw new UserError(warnings.map((f) => where + formatFinding(f)).join('\n'), '--strict turns warnings into errors');
  }
  if (o.output) {
    // A signal now waits until the file is in place (no temporary file left behind), then ends the process.
    holdSignals();
    writeFileAtomic(o.output, r.output + '\n');
  }
  return { text: o.output ? '' : r.output, ignition: r.config, ...(r.machineConfig && !o.raw ? { machineConfig: r.machineConfig } : {}), warnings };
}
