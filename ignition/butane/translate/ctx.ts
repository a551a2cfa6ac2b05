/** The translation context: the options, the findings so far and where each YAML path is in the source. */
import type { Finding } from '../../report.js';
import type { FilesDir } from '../filesdir.js';
import type { SourceText } from '../yaml.js';

export interface TranslateOptions {
  /** Where `local` references are read from; absent → such references are errors (as with Butane without -d). */
  filesDir?: FilesDir;
  /** Turn warnings into failure (the caller decides; findings keep their severity). */
  strict?: boolean;
  /** Never gzip inline/local contents (Butane's --no-resource-auto-compression… internal option). */
  noAutoCompression?: boolean;
  /**
   * Validates an Ignition config given inline or as a local file in ignition.config.merge/replace, as Butane
   * does (e.g. ignition/validate.ts validateConfig). Without it, such configs are embedded unchecked.
   */
  validateIgnition?: (text: string) => { version?: string; findings: Finding[] };
}

export type Obj = Record<string, unknown>;
type Pos = { line: number; col: number };

export class Ctx {
  findings: Finding[] = [];
  /** YAML path → position of the value, and of the key for mapping entries. */
  valuePos = new Map<string, Pos>();
  keyPos = new Map<string, Pos>();
  constructor(
    readonly src: SourceText,
    readonly opts: TranslateOptions,
  ) {}
  add(severity: Finding['severity'], path: string, message: string, at: 'key' | 'value' = 'value'): void {
    const p = (at === 'key' ? this.keyPos.get(path) : undefined) ?? this.valuePos.get(path) ?? this.nearest(path);
    this.findings.push({ severity, path, ...(p ? { line: p.line, col: p.col } : {}), message });
  }
  error(path: string, message: string): void {
    this.add('error', path, message);
  }
  /**
   * An error Butane gets from Go (yaml.v3's type errors, the version lookup) rather than from its report: it has no
   * path there, so none here either; the position of the value is kept.
   */
  goError(path: string, message: string): undefined {
    this.add('error', path, message);
    this.findings[this.findings.length - 1]!.path = '$';
    return undefined;
  }
  warn(path: string, message: string, at: 'key' | 'value' = 'value'): void {
    this.add('warning', path, message, at);
  }
  /** Position of the closest ancestor we know (for paths of generated or absent fields). */
  nearest(path: string): Pos | undefined {
    let p = path;
    while (p.includes('.')) {
      p = p.slice(0, p.lastIndexOf('.'));
      const pos = this.valuePos.get(p) ?? this.keyPos.get(p);
      if (pos) return pos;
    }
    return undefined;
  }
}
