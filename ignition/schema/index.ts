/**
 * The per-version trees and their ajv validators. The validators are compiled at build time (ajv standalone code,
 * dist/ignition/schema/validators/v3_X_0.cjs, written by scripts/build-dist.mjs) and loaded on first use; when a
 * file is missing or was built from another schema (its hash differs), the schema is compiled here instead, once
 * per process.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv, Options, ValidateFunction } from 'ajv';
import { buildTree } from './build.js';
import { schemaOf, type ObjT } from './types.js';

export interface SpecVersion {
  version: string;
  minor: number;
  /** The Go types Ignition decodes a config of this version into (build.ts), made on first use. */
  readonly tree: ObjT;
  /** The JSON schema of the tree, made on first use (a start needs one version's at most). */
  readonly schema: Record<string, unknown>;
}

/** Spec 3.0.0 to 3.6.0. A start builds the tree and schema of the versions it meets only. */
export const SPECS: readonly SpecVersion[] = [0, 1, 2, 3, 4, 5, 6].map((minor) => {
  let tree: ObjT | undefined;
  let schema: Record<string, unknown> | undefined;
  return {
    version: `3.${minor}.0`,
    minor,
    get tree() {
      return (tree ??= buildTree(minor));
    },
    get schema() {
      return (schema ??= schemaOf(this.tree));
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
