/** Line lookups in text, shared by the Ignition positions (ignition/positions.ts) and the YAML tracker (lib/yaml.ts). */

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
