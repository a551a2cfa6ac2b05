/** The per-version trees and their ajv validators, compiled once per process and cached. */
import { Ajv, type ValidateFunction } from 'ajv';
import * as v3_0 from './v3_0.js';
import * as v3_1 from './v3_1.js';
import * as v3_2 from './v3_2.js';
import * as v3_3 from './v3_3.js';
import * as v3_4 from './v3_4.js';
import * as v3_5 from './v3_5.js';
import * as v3_6 from './v3_6.js';
import type { ObjT } from './types.js';

export interface SpecVersion {
  version: string;
  minor: number;
  tree: ObjT;
  schema: Record<string, unknown>;
}

export const SPECS: readonly SpecVersion[] = [v3_0, v3_1, v3_2, v3_3, v3_4, v3_5, v3_6].map((m, minor) => ({ version: m.version, minor, tree: m.tree, schema: m.schema }));

export function specFor(version: string): SpecVersion | undefined {
  return SPECS.find((s) => s.version === version);
}

let ajv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

export function validatorFor(spec: SpecVersion): ValidateFunction {
  let fn = compiled.get(spec.version);
  if (!fn) {
    ajv ??= new Ajv({ allErrors: true, strict: true });
    fn = ajv.compile(spec.schema);
    compiled.set(spec.version, fn);
  }
  return fn;
}
