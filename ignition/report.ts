/** The report that every ignition/ function returns: findings attached to JSON paths, with positions in the user's file. */
export type Severity = 'error' | 'warning';

export interface Finding {
  severity: Severity;
  /** JSON path in Ignition's notation: "$.storage.files.0.path" ("$" for the whole document). */
  path: string;
  /** 1-based line and column in the user's file, when known. */
  line?: number;
  col?: number;
  message: string;
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}

/** Ignition's text form: "error at $.storage.files.0.path, line 12 col 16: path not absolute". */
export function formatFinding(f: Finding): string {
  const where = f.path && f.path !== '$' ? ` at ${f.path}` : '';
  const pos = f.line !== undefined ? `${where ? ',' : ''} line ${f.line} col ${f.col ?? 0}` : '';
  return `${f.severity}${where}${pos}: ${f.message}`;
}
