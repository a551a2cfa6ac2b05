/**
 * The per-version trees and their ajv validators. The validators are compiled at build time (ajv standalone code,
 * dist/ignition/schema/validators/v3_X_0.cjs, written by scripts/build-dist.mjs) and loaded on first use; when a
 * file is missing or was built from another schema (its hash differs), the schema is compiled here instead, once
 * per process.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv, Options, ValidateFunction } from 'ajv';
import * as v3_0 from './v3_0.js';
import * as v3_1 from './v3_1.js';
import * as v3_2 from './v3_2.js';
import * as v3_3 from './v3_3.js';
import * as v3_4 from './v3_4.js';
import * as v3_5 from './v3_5.js';
import * as v3_6 from './v3_6.js';
import { schemaOf, type ObjT } from './types.js';

export interface SpecVersion {
  version: string;
  minor: number;
  tree: ObjT;
  /** The JSON schema of the tree, made on first use (a start needs one version's at most). */
  readonly schema: Record<string, unknown>;
}

export const SPECS: readonly SpecVersion[] = [v3_0, v3_1, v3_2, v3_3, v3_4, v3_5, v3_6].map((m, minor) => {
  let schema: Record<string, unknown> | undefined;
  return {
    version: m.version,
    minor,
    tree: m.tree,
    get schema() {
      return (schema ??= schemaOf(m.tree));
    },
  };
});

export function specFor(version: string): SpecVersion | undefined {
  return SPECS.find((s) => s.version === version);
}

/** The ajv options of both paths (build-time standalone code and run-time compile): they must not differ. */
export const AJV_OPTIONS: Options = { allErrors: true, strict: true };

/** The file name of a version's precompiled validator, relative to this module. */
export const precompiledFile = (spec: SpecVersion): string => `validators/v${spec.version.replace(/\./g, '_')}.cjs`;

/** What a precompiled validator is checked against: the hash of the schema it was generated from. */
export function schemaHash(schema: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex');
}

const require = createRequire(import.meta.url);
let ajv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

function loadPrecompiled(spec: SpecVersion): ValidateFunction | undefined {
  let fn: ValidateFunction & { schemaHash?: string };
  try {
    fn = require(`./${precompiledFile(spec)}`) as typeof fn;
  } catch {
    return undefined; // not built (the sources run under vitest), or unreadable: compile instead
  }
  return typeof fn === 'function' && fn.schemaHash === schemaHash(spec.schema) ? fn : undefined;
}

export function validatorFor(spec: SpecVersion): ValidateFunction {
  let fn = compiled.get(spec.version);
  if (!fn) {
    fn = loadPrecompiled(spec);
    if (!fn) {
      // ajv (and its code generator) is loaded only on this path.
      const AjvClass = (require('ajv') as typeof import('ajv')).Ajv;
      ajv ??= new AjvClass(AJV_OPTIONS);
      fn = ajv.compile(spec.schema);
    }
    compiled.set(spec.version, fn);
  }
  return fn;
}
