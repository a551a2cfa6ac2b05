/** Butane → Ignition translation. (Stub: the implementation lands with the Butane work.) */
import { BugError } from '../../lib/errors.js';

export interface TranslateFileOptions {
  file?: string;
  filesDir?: string;
  strict?: boolean;
  output?: string;
  pretty?: boolean;
}
export interface TranslateFileResult {
  /** Text printed in non-JSON mode: the Ignition config (when not written to a file) plus warnings. */
  text: string;
  ignition: unknown;
  warnings: unknown[];
}

export async function translateButaneFile(_o: TranslateFileOptions): Promise<TranslateFileResult> {
  throw new BugError('butane translation is not implemented yet');
}
