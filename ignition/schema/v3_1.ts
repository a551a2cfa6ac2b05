/** Spec 3.1.0: the Go types Ignition decodes a 3.1.0 config into, and the JSON schema ajv compiles from them. */
import { buildTree } from './build.js';
import { schemaOf } from './types.js';

export const version = '3.1.0';
export const tree = buildTree(1);
export const schema = schemaOf(tree);
