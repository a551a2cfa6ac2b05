/** Shared helpers of the ignition-* and butane-* unit tests, and the one definition of the reference material. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv04 from 'ajv-draft-04';
import type { Finding } from '../../ignition/report.js';
import { haveTool } from '../../lib/tools.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The reference material the Ignition and Butane tests compare against (not part of the repository): the upstream
 * documentation examples (`ignition/doc-examples/{ignition,butane}/`) and Ignition's JSON schemas
 * (`ignition/upstream-schemas/v3_N.json`). Named by this variable; default `../shared` next to the repository.
 */
export const REFERENCE_ENV = 'FCOS_REFERENCE_DIR';
export const REFERENCE_DIR = process.env[REFERENCE_ENV] ? resolve(process.env[REFERENCE_ENV]) : join(REPO, '..', 'shared');

/**
 * A path inside the reference directory, which must exist: a missing one is an error that names the variable and
 * what to do (the tests that need it fail, they are never skipped).
 */
export function referencePath(parts: string[], dir: string = REFERENCE_DIR, env: NodeJS.ProcessEnv = process.env): string {
  const p = join(dir, ...parts);
  if (existsSync(p)) return p;
  const how = env[REFERENCE_ENV] ? `${REFERENCE_ENV}=${env[REFERENCE_ENV]}` : `${REFERENCE_ENV} is not set, so the default ${dir} (../shared next to the repository) was used`;
  throw new Error(
    `the reference material is missing: ${p} does not exist (${how}). ` +
      `Set ${REFERENCE_ENV} to the directory that holds ignition/doc-examples/{ignition,butane}/ and ignition/upstream-schemas/ ` +
      `(the Ignition and Butane documentation examples and Ignition's JSON schemas), e.g. ${REFERENCE_ENV}=/path/to/shared make test`,
  );
}

/**
 * ignition-validate (Debian's `ignition`, installed by scripts/deps.sh) must be on PATH: the cross-checks against it
 * fail without it, with this message, instead of being skipped.
 */
export async function requireTool(tool = 'ignition-validate', pkg = 'ignition'): Promise<void> {
  if (haveTool(tool)) return;
  throw new Error(`${tool} is not installed (not on PATH): these tests compare fcos with it. Install it with: apt-get install ${pkg} (make deps / make test do it through scripts/deps.sh)`);
}

export interface RuleCase {
  name: string;
  version: string;
  config: string;
  /** The expected findings, in report order (checked against ignition-validate for spec <= 3.3 by ignition-crosscheck). */
  findings: Finding[];
}

export function ruleCases(): RuleCase[] {
  return JSON.parse(readFileSync(join(REPO, 'test', 'fixtures', 'ignition', 'rule-cases.json'), 'utf8')) as RuleCase[];
}

export function docExamples(): { name: string; text: string }[] {
  const dir = referencePath(['ignition', 'doc-examples', 'ignition']);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ign') || f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

const upstream = new Map<string, (data: unknown) => boolean>();
/** The upstream draft-04 schema of a spec version, compiled with ajv-draft-04. */
export function upstreamValidator(version: string): ((data: unknown) => boolean) & { errors?: unknown } {
  let v = upstream.get(version);
  if (!v) {
    const minor = /^3\.(\d)\.0$/.exec(version)![1];
    const schema = JSON.parse(readFileSync(referencePath(['ignition', 'upstream-schemas', `v3_${minor}.json`]), 'utf8'));
    type AjvCtor = new (o: object) => { compile(s: unknown): (data: unknown) => boolean };
    const Ajv = ((Ajv04 as unknown as { default?: unknown }).default ?? Ajv04) as AjvCtor;
    const compiled = new Ajv({ strict: false, allErrors: true }).compile(schema);
    upstream.set(version, compiled);
    v = compiled;
  }
  return v as ((data: unknown) => boolean) & { errors?: unknown };
}

/** The first error of ignition-validate's output as {path, message}; the path is '' when it prints none. */
export function firstError(out: string): { path: string; message: string } | undefined {
  for (const line of out.split('\n')) {
    const parse = /^couldn't parse config: (.*)$/.exec(line);
    if (parse) return { path: '', message: parse[1]! };
    const m = /^error at (?:(\$[^,]*), )?line -?\d+ col -?\d+: (.*)$/.exec(line) ?? /^error(?: at (\$[^,:]*))?: (.*)$/.exec(line);
    if (m) return { path: m[1] ?? '', message: m[2]! };
  }
  return undefined;
}

/** Runs fn over items, at most `width` at a time. */
export async function pool<T, R>(items: T[], width: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}
