/** Spec 3.0.0: the Go types Ignition decodes a 3.0.0 config into (schema/index.ts makes the JSON schema ajv compiles from them). */
import { buildTree } from './build.js';

export const version = '3.0.0';
export const tree = buildTree(0);
