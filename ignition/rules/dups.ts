/**
 * Duplicate detection (Ignition's config/validate ValidateDups): at each struct, every list field is checked for
 * entries with the same key; files, directories and links share one namespace ("Node"), as do the two kernel
 * argument lists. Then the walk goes down into the fields. Each repeated entry is an error at the entry.
 */
import type { GoType, ObjT } from '../schema/types.js';
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

export function walkDups(v: V, t: GoType, c: Path, ctx: Ctx): void {
  if (t.k === 'array') {
    (v as V[]).forEach((item, i) => walkDups(item, t.item, [...c, i], ctx));
    return;
  }
  if (t.k !== 'object') return;
  const obj = v ?? {};
  const st = t as ObjT;
  const seen = new Map<string, Set<string>>();
  for (const [name, ft] of Object.entries(st.fields)) {
    if (ft.k !== 'array' || !Array.isArray(obj[name]) || IGNORED[st.struct]?.has(name)) continue;
    const ns = MERGED[st.struct]?.[name] ?? name;
    let keys = seen.get(ns);
    if (!keys) seen.set(ns, (keys = new Set()));
    (obj[name] as V[]).forEach((item, i) => {
      const k = keyOf(item, ft.item);
      if (k === undefined) return;
      if (keys!.has(k)) ctx.r.error([...c, name, i], E.Duplicate);
      keys!.add(k);
    });
  }
  for (const [name, ft] of Object.entries(st.fields)) {
    if (ft.k === 'object' && obj[name] !== undefined) walkDups(obj[name], ft, [...c, name], ctx);
    else if (ft.k === 'array' && Array.isArray(obj[name])) walkDups(obj[name], ft, [...c, name], ctx);
  }
}
