/**
 * Duplicate detection (Ignition's config/validate ValidateDups): at each struct, every list field is checked for
 * entries with the same key; files, directories and links share one namespace ("Node"), as do the two kernel
 * argument lists. Then the walk goes down into the fields. Each repeated entry is an error at the entry.
 */
import { memoOnType, type GoType } from '../schema/types.js';
import { E } from './errors.js';
import { walkItems, type Ctx, type Path } from './report.js';

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

/** Per type, what the walk needs, computed once: for a struct, the keyed lists checked here and the fields to go down. */
interface DupPlan {
  kind: 'object' | 'array';
  lists: { name: string; ns: string; key: (v: V) => string }[];
  down: { name: string; plan: DupPlan }[];
  /** For lists: the items' plan. */
  item: DupPlan | undefined;
}
const PLAN = Symbol('dups plan');

/** The plan of a type (kept on it), or null when nothing below it can hold a duplicate (the walk skips it). */
function planOf(t: GoType): DupPlan | null {
  return memoOnType(t, PLAN, () => makePlan(t), null);
}

const stringKey = (item: V): string => item as string;

function makePlan(t: GoType): DupPlan | null {
  if (t.k === 'array') {
    const item = planOf(t.item);
    return item ? { kind: 'array', lists: [], down: [], item } : null;
  }
  if (t.k !== 'object') return null;
  const lists: DupPlan['lists'] = [];
  const down: DupPlan['down'] = [];
  for (const [name, ft] of Object.entries(t.fields)) {
    if (ft.k === 'array' && !IGNORED[t.struct]?.has(name) && (ft.item.k === 'string' || (ft.item.k === 'object' && KEYS[ft.item.struct]))) {
      const item = ft.item;
      lists.push({ name, ns: MERGED[t.struct]?.[name] ?? name, key: item.k === 'string' ? stringKey : KEYS[item.struct]! });
    }
    const plan = ft.k === 'object' || ft.k === 'array' ? planOf(ft) : null;
    if (plan) down.push({ name, plan });
  }
  return lists.length || down.length ? { kind: 'object', lists, down, item: undefined } : null;
}

export function walkDups(v: V, t: GoType, c: Path, ctx: Ctx): void {
  // One path array for the whole walk (ctx.r copies it for a finding).
  const plan = planOf(t);
  if (plan) walk(v, plan, c.slice(), ctx);
}

function walk(v: V, plan: DupPlan, path: Path, ctx: Ctx): void {
  if (plan.kind === 'array') return walkItems(v as V[], plan.item!, path, ctx, walk);
  const obj = v ?? {};
  let seen: Map<string, Set<string>> | undefined;
  for (const { name, ns, key } of plan.lists) {
    const list = obj[name];
    if (!Array.isArray(list) || list.length === 0) continue;
    seen ??= new Map();
    let keys = seen.get(ns);
    if (!keys) seen.set(ns, (keys = new Set()));
    for (let i = 0; i < list.length; i++) {
      const k = key(list[i]);
      if (keys.has(k)) ctx.r.error(path, E.Duplicate, name, i);
      keys.add(k);
    }
  }
  for (const { name, plan: fp } of plan.down) {
    const fv = obj[name];
    if (fv === undefined || (fp.kind === 'array' && !Array.isArray(fv))) continue;
    path.push(name);
    walk(fv, fp, path, ctx);
    path.pop();
  }
}
