/** Offsets in the decoded text to 1-based line and column, the way Ignition counts them (columns in bytes of UTF-8). */
export class Positions {
  private readonly lineStarts: number[] = [0];
  private readonly ascii: boolean;
  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0x0a) this.lineStarts.push(i + 1);
    // eslint-disable-next-line no-control-regex
    this.ascii = !/[^\x00-\x7f]/.test(text);
  }
  lineCol(offset: number): { line: number; col: number } {
    const lo = lineIndex(this.lineStarts, offset);
    const startOfLine = this.lineStarts[lo]!;
    const col = this.ascii ? offset - startOfLine + 1 : Buffer.byteLength(this.text.slice(startOfLine, offset), 'utf8') + 1;
    return { line: lo + 1, col };
  }
}

/** Index of the line holding offset, given the sorted offsets where lines start (binary search). */
export function lineIndex(lineStarts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
