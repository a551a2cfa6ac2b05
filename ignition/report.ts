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

/** Ignition's text form: "error at $.storage.files.0.path, line 12 col 16: path not absolute" ("error at line 1 col 2: …" without a path). */
export function formatFinding(f: Finding): string {
  const parts: string[] = [];
  if (f.path && f.path !== '$') parts.push(f.path);
  if (f.line !== undefined) parts.push(`line ${f.line} col ${f.col ?? 0}`);
  return parts.length > 0 ? `${f.severity} at ${parts.join(', ')}: ${f.message}` : `${f.severity}: ${f.message}`;
}
