/** Spec 3.2.0: the Go types Ignition decodes a 3.2.0 config into (schema/index.ts makes the JSON schema ajv compiles from them). */
import { buildTree } from './build.js';

export const version = '3.2.0';
export const tree = buildTree(2);
