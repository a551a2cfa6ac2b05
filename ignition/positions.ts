/**
 * Offsets in the decoded text to 1-based line and column, the way Ignition counts them (columns in bytes of UTF-8).
 *
 * Each lookup costs O(log lines + STEP): the line comes from a binary search over the line starts, and for
 * non-ASCII text the column from a table of UTF-8 byte offsets taken every STEP UTF-16 units (so that many findings
 * on one long line do not each count the bytes from the start of the line).
 */
import { lineIndex } from '../lib/lines.js';

const STEP = 64;

export class Positions {
  private readonly lineStarts: number[] = [0];
  /** For non-ASCII text: checkpoint UTF-16 offsets (never inside a surrogate pair) and their UTF-8 byte offsets. */
  private readonly cpIndex?: number[];
  private readonly cpByte?: number[];
  constructor(private readonly text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
    // eslint-disable-next-line no-control-regex
    if (!/[^\x00-\x7f]/.test(text)) return;
    const idx = [0];
    const bytes = [0];
    let prev = 0;
    let total = 0;
    for (let k = STEP; k < text.length; k += STEP) {
      let at = k;
      const c = text.charCodeAt(at);
      // Do not split a surrogate pair: Buffer.byteLength counts a lone half as 3 bytes, a pair as 4.
      if (c >= 0xdc00 && c <= 0xdfff && (text.charCodeAt(at - 1) & 0xfc00) === 0xd800) at++;
      if (at <= prev) continue;
      total += Buffer.byteLength(text.slice(prev, at), 'utf8');
      idx.push(at);
      bytes.push(total);
      prev = at;
    }
    this.cpIndex = idx;
    this.cpByte = bytes;
  }

  lineCol(offset: number): { line: number; col: number } {
    const lo = lineIndex(this.lineStarts, offset);
    const startOfLine = this.lineStarts[lo]!;
    const col = this.cpIndex ? this.byteOffset(offset) - this.byteOffset(startOfLine) + 1 : offset - startOfLine + 1;
    return { line: lo + 1, col };
  }

  /** UTF-8 bytes of text[0, offset) (as Buffer.byteLength of that slice would count them). */
  private byteOffset(offset: number): number {
    const k = lineIndex(this.cpIndex!, offset);
    const from = this.cpIndex![k]!;
    return this.cpByte![k]! + (offset > from ? Buffer.byteLength(this.text.slice(from, offset), 'utf8') : 0);
  }
}
