/**
 * Every Butane config from the upstream Butane docs (../shared/ignition/doc-examples/butane) translates in
 * strict mode, with our own fixture files as --files-dir; the output has the Ignition version Butane maps the
 * spec to, satisfies upstream Ignition's JSON schema of that version and, for specs ≤ 3.3 (what Debian's
 * ignition 2.14 knows), passes the real ignition-validate.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import yaml from 'js-yaml';
import { translateButane, marshalIgnition } from '../../ignition/butane/translate.js';
import { nodeFilesDir } from '../../ignition/butane/filesdir.js';
import { run } from '../../lib/run.js';

const require = createRequire(import.meta.url);
// ajv-draft-04 is CommonJS; its default export is the class.
const Ajv04 = require('ajv-draft-04') as new (o: object) => { compile(s: object): ((d: unknown) => boolean) & { errors?: unknown } };

const root = join(__dirname, '..', '..');
const docs = join(root, '..', 'shared', 'ignition', 'doc-examples', 'butane');
const schemas = join(root, '..', 'shared', 'ignition', 'upstream-schemas');
const filesDir = nodeFilesDir(join(root, 'test', 'fixtures', 'butane', 'files'));

/** Butane's variant/version → Ignition spec table (Butane docs, specs.md). */
const EXPECTED: Record<string, string> = {
  'fcos 1.0.0': '3.0.0',
  'fcos 1.1.0': '3.1.0',
  'fcos 1.2.0': '3.2.0',
  'fcos 1.3.0': '3.2.0',
  'fcos 1.4.0': '3.3.0',
  'fcos 1.5.0': '3.4.0',
  'fcos 1.6.0': '3.5.0',
  'fcos 1.7.0': '3.6.0',
  'fcos 1.8.0-experimental': '3.7.0-experimental',
  'flatcar 1.0.0': '3.3.0',
  'flatcar 1.1.0': '3.4.0',
  'r4e 1.0.0': '3.3.0',
  'r4e 1.1.0': '3.4.0',
  'r4e 1.2.0-experimental': '3.7.0-experimental',
  'flatcar 1.2.0-experimental': '3.7.0-experimental',
  'fiot 1.0.0': '3.4.0',
  'fiot 1.1.0-experimental': '3.7.0-experimental',
};

const examples = readdirSync(docs)
  .filter((f) => f.endsWith('.bu'))
  .sort();

const validators = new Map<string, (d: unknown) => boolean>();
function schemaFor(spec: string) {
  const minor = spec.split('.')[1]!;
  if (!validators.has(minor)) {
    const ajv = new Ajv04({ allErrors: true, strict: false });
    validators.set(minor, ajv.compile(JSON.parse(readFileSync(join(schemas, `v3_${minor}.json`), 'utf8'))));
  }
  return validators.get(minor)! as ((d: unknown) => boolean) & { errors?: unknown };
}

describe('Butane doc examples', () => {
  it('are all there', () => {
    expect(examples.length).toBe(76);
  });

  for (const name of examples) {
    const text = readFileSync(join(docs, name), 'utf8');
    const head = yaml.load(text) as { variant: string; version: string };
    if (head.variant === 'openshift') {
      it(`${name}: refused with a clear message (OpenShift MachineConfig output is not implemented)`, () => {
        const r = translateButane(text, { filesDir, strict: true });
        expect(r.config).toBeUndefined();
        expect(r.findings).toHaveLength(1);
        expect(r.findings[0]!.message).toBe(
          `No translator exists for variant openshift with version ${head.version} (fcos butane supports the variants fcos, flatcar, r4e, fiot; OpenShift MachineConfig output is not supported)`,
        );
        expect(r.findings[0]!.line).toBe(2);
      });
      continue;
    }
    it(`${name}: translates strictly to the right spec, valid by schema${'' /* and ignition-validate */}`, async () => {
      const r = translateButane(text, { filesDir, strict: true });
      expect(r.findings).toEqual([]);
      const spec = EXPECTED[`${head.variant} ${head.version}`];
      expect(spec).toBeDefined();
      expect(r.ignitionVersion).toBe(spec);
      const cfg = r.config as { ignition: { version: string } };
      expect(cfg.ignition.version).toBe(spec);
      const json = marshalIgnition(cfg, false);
      expect(JSON.parse(json)).toEqual(cfg);
      if (spec!.endsWith('-experimental')) return; // no published schema, no validator knows it
      const validate = schemaFor(spec!);
      const ok = validate(cfg);
      expect(validate.errors ?? null, JSON.stringify(validate.errors)).toBeNull();
      expect(ok).toBe(true);
      if (Number(spec!.split('.')[1]) <= 3) {
        const dir = mkdtempSync(join(tmpdir(), 'fcos-butane-'));
        try {
          const file = join(dir, 'config.ign');
          writeFileSync(file, json);
          const v = await run('ignition-validate', [file], { allowFailure: true });
          expect(v.stdout + v.stderr).toBe('');
          expect(v.exitCode).toBe(0);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });
  }
});
