/**
 * Bounds on YAML alias expansion ("billion laughs"), as Go's yaml.v3 has them.
 *
 * js-yaml resolves an alias to the very object of its anchor, so loading a document of nested anchors is cheap;
 * it is every consumer that walks the value as a tree (Butane's translation, the manifest's schema validation,
 * JSON.stringify) that expands it exponentially. js-yaml also resolves an alias inside its own anchor to a cycle.
 * yaml.v3 rejects a document when the nodes decoded through aliases are too large a share of all decoded nodes
 * (99% up to 400,000 nodes, then down to 10% at 4,000,000), and an anchor that contains itself. We apply the same
 * rule to the loaded value, counting the expanded tree without expanding it (sizes memoized per object).
 */

const RANGE_LOW = 400_000;
const RANGE_HIGH = 4_000_000;
/** Beyond this the exact count does not matter (and stays a finite number). */
const CAP = 1e15;

/** yaml.v3's allowedAliasRatio. */
export function allowedAliasRatio(decodeCount: number): number {
  if (decodeCount <= RANGE_LOW) return 0.99;
  if (decodeCount >= RANGE_HIGH) return 0.1;
  return 0.99 - 0.89 * ((decodeCount - RANGE_LOW) / (RANGE_HIGH - RANGE_LOW));
}

export interface AliasStats {
  /** Nodes of the value as a tree, aliases expanded (keys count as nodes), capped at 1e15. */
  expanded: number;
  /** Nodes the first time each object is seen (what the source spelled out, roughly). */
  unique: number;
  /** An object contains itself (an alias inside its own anchor). */
  cyclic: boolean;
}

export function aliasStats(value: unknown): AliasStats {
  const memo = new Map<object, number>();
  const onPath = new Set<object>();
  let unique = 0;
  let cyclic = false;
  const size = (v: unknown): number => {
    if (v === null || typeof v !== 'object' || v instanceof Date || ArrayBuffer.isView(v)) {
      unique++;
      return 1;
    }
    const known = memo.get(v);
    if (known !== undefined) return known;
    if (onPath.has(v)) {
      cyclic = true;
      return CAP;
    }
    onPath.add(v);
    unique++;
    let n = 1;
    if (Array.isArray(v)) for (const x of v) n = Math.min(CAP, n + size(x));
    else
      for (const k of Object.keys(v)) {
        unique++;
        n = Math.min(CAP, n + 1 + size((v as Record<string, unknown>)[k]));
      }
    onPath.delete(v);
    memo.set(v, n);
    return n;
  };
  const expanded = size(value);
  return { expanded, unique, cyclic };
}

/** Why a loaded YAML value must be refused (yaml.v3's messages), or undefined when its aliases are harmless. */
export function aliasProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  let s: AliasStats;
  try {
    s = aliasStats(value);
  } catch (e) {
    if (e instanceof RangeError) return 'document is nested too deeply';
    throw e;
  }
  if (s.cyclic) return 'anchor value contains itself (an alias inside its own anchor)';
  const aliasCount = s.expanded - s.unique;
  if (aliasCount > 100 && s.expanded > 1000 && aliasCount / s.expanded > allowedAliasRatio(s.expanded)) {
    const n = s.expanded >= CAP ? 'more than 10^15' : String(s.expanded);
    return `document contains excessive aliasing (${n} nodes once aliases are expanded, from ${s.unique} written out)`;
  }
  return undefined;
}
