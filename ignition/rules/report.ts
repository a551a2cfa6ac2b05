/** Findings collected while walking a config, attached to JSON paths (positions are added later from the parse tree). */
import type { Severity } from '../report.js';

export type Path = (string | number)[];

export interface Entry {
  severity: Severity;
  path: Path;
  message: string;
}

export class Report {
  readonly entries: Entry[] = [];
  error(path: Path, message: string | undefined): void {
    if (message) this.entries.push({ severity: 'error', path, message });
  }
  warn(path: Path, message: string | undefined): void {
    if (message) this.entries.push({ severity: 'warning', path, message });
  }
}

/** What every rule sees: the spec's minor version (3.<minor>.0), the whole decoded config and the report. */
export interface Ctx {
  minor: number;
  config: Record<string, unknown>;
  r: Report;
}

/** Go's pointer helpers from config/util. */
export const isTrue = (b: unknown): boolean => b === true;
export const isFalse = (b: unknown): boolean => b === false;
export const nilOrEmpty = (s: unknown): boolean => s === undefined || s === '';
export const notEmpty = (s: unknown): boolean => typeof s === 'string' && s !== '';
