/**
 * Ignition's config merge (config/merge), on plain JSON objects: Butane renders its sugar (mount units,
 * boot_device layouts, grub user.cfg) as a parent config and merges the user's translated config into it as
 * the child, so user entries with the same key refine or override the generated ones.
 *
 * - objects merge field by field; a child value that is set replaces the parent's;
 * - `append` and `ignition.config.merge` lists are concatenated;
 * - other lists merge entries with the same key and append the child's new entries; primitives are their own key;
 * - storage.files/directories/links share one key space (the path): a child entry drops a parent entry of
 *   the same path from another of those lists.
 */
import { carrySource } from './srcmap.js';

type Json = unknown;
type Obj = Record<string, Json>;

const isObj = (v: Json): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

const CONCAT = new Set(['append', 'merge']);
const NODE_LISTS = ['files', 'directories', 'links'];

export function itemKey(list: string, item: Json): string {
  if (!isObj(item)) return JSON.stringify(item);
  switch (list) {
    case 'partitions':
      if (typeof item.number === 'number' && item.number !== 0) return `number:${item.number}`;
      return item.label !== undefined ? `label:${String(item.label)}` : '';
    case 'files':
    case 'directories':
    case 'links':
      return String(item.path ?? '');
    case 'disks':
    case 'filesystems':
      return String(item.device ?? '');
    case 'tang':
      return String(item.url ?? '');
    case 'certificateAuthorities':
      return String(item.source ?? '');
    default:
      return String(item.name ?? JSON.stringify(item));
  }
}

export function mergeConfigs(parent: Json, child: Json): Json {
  return mergeValue(parent, child, '');
}

function mergeValue(parent: Json, child: Json, field: string): Json {
  if (child === undefined) return parent;
  if (parent === undefined) return child;
  if (isObj(parent) && isObj(child)) return mergeObj(parent, child, field);
  if (Array.isArray(parent) && Array.isArray(child)) return mergeList(field, parent, child, new Map());
  return child;
}

function mergeObj(parent: Obj, child: Obj, field: string): Obj {
  const out: Obj = {};
  // Where the merged node came from in the Butane source: the child's (the user's config) first.
  carrySource(out, child, parent);
  // Keys shared by files/directories/links: which child list holds each path.
  const nodeOwner = new Map<string, string>();
  if (field === 'storage') {
    for (const l of NODE_LISTS) for (const it of (child[l] as Json[] | undefined) ?? []) nodeOwner.set(itemKey(l, it), l);
  }
  for (const k of new Set([...Object.keys(parent), ...Object.keys(child)])) {
    const p = parent[k];
    const c = child[k];
    if (Array.isArray(p) || Array.isArray(c)) {
      const merged = mergeList(k, (p as Json[] | undefined) ?? [], (c as Json[] | undefined) ?? [], NODE_LISTS.includes(k) ? nodeOwner : new Map());
      if (merged.length > 0) out[k] = merged;
    } else {
      const v = mergeValue(p, c, k);
      if (v !== undefined) out[k] = v;
    }
  }
  return out;
}

function mergeList(field: string, parent: Json[], child: Json[], owner: Map<string, string>): Json[] {
  const out: Json[] = [];
  carrySource(out, child.length > 0 ? child : parent, parent);
  if (CONCAT.has(field)) {
    out.push(...parent, ...child);
    return out;
  }
  const childByKey = new Map<string, Json>();
  for (const c of child) childByKey.set(itemKey(field, c), c);
  const parentKeys = new Set(parent.map((p) => itemKey(field, p)));
  for (const p of parent) {
    const key = itemKey(field, p);
    const otherList = owner.get(key);
    if (otherList !== undefined && otherList !== field) continue; // the child has this path in another list
    if (childByKey.has(key)) {
      const c = childByKey.get(key);
      if (field === 'httpHeaders' && isObj(c) && c.value === undefined) continue;
      out.push(isObj(p) && isObj(c) ? mergeObj(p, c, field) : c);
    } else out.push(p);
  }
  for (const c of child) if (!parentKeys.has(itemKey(field, c))) out.push(c);
  return out;
}
