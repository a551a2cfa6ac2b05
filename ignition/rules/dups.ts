/**
 * Duplicate detection (Ignition's config/validate ValidateDups): at each struct, every list field is checked for
 * entries with the same key; files, directories and links share one namespace ("Node"), as do the two kernel
 * argument lists. Then the walk goes down into the fields. Each repeated entry is an error at the entry.
 */
import { memoOnType, type GoType } from '../schema/types.js';
import { E } from './errors.js';
import type { Ctx, Path } from './report.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type V = any;

/** The key of a list entry (the Go types' Key() methods); undefined when the type has none. */
const KEYS: Record<string, (v: V) => string> = {
  File: (v) => v.path ?? '',
  Directory: (v) => v.path ?? '',
  Link: (v) => v.path ?? '',
  Disk: (v) => v.device ?? '',
  Raid: (v) => v.name ?? '',
  Filesystem: (v) => v.device ?? '',
  Luks: (v) => v.name ?? '',
  Unit: (v) => v.name ?? '',
  Dropin: (v) => v.name ?? '',
  PasswdUser: (v) => v.name ?? '',
  PasswdGroup: (v) => v.name ?? '',
  Resource: (v) => v.source ?? '',
  ConfigReference: (v) => v.source ?? '',
  CaReference: (v) => v.source ?? '',
  HTTPHeader: (v) => v.name ?? '',
  Tang: (v) => v.url ?? '',
  Partition: (v) => (v.number ? `number:${v.number}` : v.label !== undefined ? `label:${v.label}` : ''),
};

/** Lists that share a namespace (Go MergedKeys), per struct. */
const MERGED: Record<string, Record<string, string>> = {
  Storage: { directories: 'Node', files: 'Node', links: 'Node' },
  KernelArguments: { shouldExist: 'KernelArgument', shouldNotExist: 'KernelArgument' },
};

/** Lists where repeats are allowed (Go IgnoreDuplicates), per struct. */
const IGNORED: Record<string, Set<string>> = {
  Filesystem: new Set(['options', 'mountOptions']),
  // Only options: repeated openOptions are errors (config/v3_4/types/luks.go:31 IgnoreDuplicates).
  Luks: new Set(['options']),
  Raid: new Set(['options']),
  File: new Set(['append']),
};

function keyOf(item: V, t: GoType): string | undefined {
  if (t.k === 'string') return item as string;
  if (t.k === 'object') return KEYS[t.struct]?.(item);
  return undefined;
}

/** Per struct type, what the walk needs, computed once: the keyed lists checked here, and the fields to go down. */
interface DupPlan {
  lists: { name: string; ns: string; item: GoType }[];
  down: { name: string; t: GoType }[];
}
const PLAN = Symbol('dups plan');

/** The plan of a type (kept on it), or null when nothing below it can hold a duplicate (the walk skips it). */
function planOf(t: GoType): DupPlan | null {
  return memoOnType(t, PLAN, () => makePlan(t), null);
}

function makePlan(t: GoType): DupPlan | null {
  let plan: DupPlan | null = null;
  if (t.k === 'array') plan = planOf(t.item) ? { lists: [], down: [] } : null;
  else if (t.k === 'object') {
    const lists: DupPlan['lists'] = [];
    const down: DupPlan['down'] = [];
    for (const [name, ft] of Object.entries(t.fields)) {
      if (ft.k === 'array' && !IGNORED[t.struct]?.has(name) && (ft.item.k === 'string' || (ft.item.k === 'object' && KEYS[ft.item.struct])))
        lists.push({ name, ns: MERGED[t.struct]?.[name] ?? name, item: ft.item });
      if ((ft.k === 'object' || ft.k === 'array') && planOf(ft)) down.push({ name, t: ft });
    }
    plan = lists.length || down.length ? { lists, down } : null;
  }
  return plan;
}

export function walkDups(v: V, t: GoType, c: Path, ctx: Ctx): void {
  // One path array for the whole walk, copied only for a finding.
  if (planOf(t)) walk(v, t, [...c], ctx);
}

function walk(v: V, t: GoType, path: Path, ctx: Ctx): void {
  if (t.k === 'array') {
    const items = v as V[];
    for (let i = 0; i < items.length; i++) {
      path.push(i);
      walk(items[i], t.item, path, ctx);
      path.pop();
    }
    return;
  }
  if (t.k !== 'object') return;
  const obj = v ?? {};
  const plan = planOf(t)!;
  let seen: Map<string, Set<string>> | undefined;
  for (const { name, ns, item } of plan.lists) {
    const list = obj[name];
    if (!Array.isArray(list) || list.length === 0) continue;
    seen ??= new Map();
    let keys = seen.get(ns);
    if (!keys) seen.set(ns, (keys = new Set()));
    for (let i = 0; i < list.length; i++) {
      const k = keyOf(list[i], item);
      if (k === undefined) continue;
      if (keys.has(k)) ctx.r.error([...path, name, i], E.Duplicate);
      keys.add(k);
    }
  }
  for (const { name, t: ft } of plan.down) {
    const fv = obj[name];
    if (fv === undefined || (ft.k === 'array' && !Array.isArray(fv))) continue;
    path.push(name);
    walk(fv, ft, path, ctx);
    path.pop();
  }
}
