/**
 * The per-version type trees. A tree is built on first use, so a start builds only the versions it meets. Its JSON
 * schema (schemaOf) is what ajv would check; validation does without it: decode.ts checks every value's JSON type
 * and the required keys itself (test/unit/ignition-decode.test.ts holds it to ajv's findings on that schema).
 */
import { buildTree } from './build.js';
import { schemaOf, type ObjT } from './types.js';

export interface SpecVersion {
  version: string;
  minor: number;
  /** The Go types Ignition decodes a config of this version into (build.ts), made on first use. */
  readonly tree: ObjT;
  /** The JSON schema of the tree, made on first use. */
  readonly schema: Record<string, unknown>;
}

/** Spec 3.0.0 to 3.6.0. */
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
