/** Shared helpers of the ignition-* unit tests. */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv04 from 'ajv-draft-04';
import type { Finding } from '../../ignition/report.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = join(REPO, '..', 'shared', 'ignition');
export const DOC_EXAMPLES = join(SHARED, 'doc-examples', 'ignition');

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
  return readdirSync(DOC_EXAMPLES)
    .filter((f) => f.endsWith('.ign') || f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(DOC_EXAMPLES, name), 'utf8') }));
}

const upstream = new Map<string, (data: unknown) => boolean>();
/** The upstream draft-04 schema of a spec version, compiled with ajv-draft-04. */
export function upstreamValidator(version: string): ((data: unknown) => boolean) & { errors?: unknown } {
  let v = upstream.get(version);
  if (!v) {
    const minor = /^3\.(\d)\.0$/.exec(version)![1];
    const schema = JSON.parse(readFileSync(join(SHARED, 'upstream-schemas', `v3_${minor}.json`), 'utf8'));
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
