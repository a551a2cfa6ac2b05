/**
 * Public API of Ignition validation. (Stub: the implementation lands with the validator work.)
 */
import { BugError } from '../lib/errors.js';
import type { Finding } from './report.js';

export interface ValidationResult {
  /** The config's ignition.version, when it could be read. */
  version?: string;
  /** The parsed config (only when the JSON parsed). */
  config?: unknown;
  findings: Finding[];
}

/** Validate one config given as raw bytes or text. Never throws on bad input: problems are findings. */
export function validateConfig(_input: string | Uint8Array): ValidationResult {
  throw new BugError('ignition validation is not implemented yet');
}
