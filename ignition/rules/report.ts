/** Findings collected while walking a config, attached to JSON paths (positions are added later from the parse tree). */
import type { Severity } from '../report.js';

export type Path = (string | number)[];

export interface Entry {
  severity: Severity;
  path: Path;
  message: string;
}

type Seg = string | number | undefined;

/**
 * The walks hand the rules one path array that they change as they go: an entry takes a copy of it, with the
 * segments given after the message (a, b, …) appended. Nothing is built when there is no message.
 */
export class Report {
  readonly entries: Entry[] = [];
  error(path: readonly (string | number)[], message: string | undefined, a?: Seg, b?: Seg, c?: Seg, d?: Seg): void {
    if (message) this.entries.push({ severity: 'error', path: extend(path, a, b, c, d), message });
  }
  warn(path: readonly (string | number)[], message: string | undefined, a?: Seg, b?: Seg, c?: Seg, d?: Seg): void {
    if (message) this.entries.push({ severity: 'warning', path: extend(path, a, b, c, d), message });
  }
}

function extend(path: readonly (string | number)[], a: Seg, b: Seg, c: Seg, d: Seg): Path {
  const out = path.slice();
  if (a !== undefined) out.push(a);
  if (b !== undefined) out.push(b);
  if (c !== undefined) out.push(c);
  if (d !== undefined) out.push(d);
  return out;
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

/** A walk's visit of each item of a list, with the item's index on the path while it is visited. */
export function walkItems<P>(items: readonly unknown[], plan: P, path: Path, ctx: Ctx, walk: (v: unknown, plan: P, path: Path, ctx: Ctx) => void): void {
  for (let i = 0; i < items.length; i++) {
    path.push(i);
    walk(items[i], plan, path, ctx);
    path.pop();
  }
}
