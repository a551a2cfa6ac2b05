/**
 * Where each part of the generated Ignition config came from in the Butane source: Butane's TranslationSet and
 * TranslateReportPaths (config/util/util.go), which map a finding on the output (`$.storage.files.4.path`,
 * `$.passwd.users.0.sshAuthorizedKeys.1`) back to the YAML the user wrote (`$.storage.trees.0`,
 * `$.passwd.users.0.ssh_authorized_keys_local.0`).
 *
 * The translator marks the objects and arrays it creates (a side table, so the config itself stays plain JSON):
 * the YAML path the node came from, YAML paths for some of its keys or items (`source` ← `inline`), and whether
 * everything below it comes from that one place (a tree's files). Merging and canonical ordering carry the marks to
 * the objects they build. Where nothing is marked, the JSON names are snake_cased below the nearest mark, as
 * Butane's fallback does.
 */
import { snake } from './schema.js';

export interface SourceMark {
  /** YAML path of the node. */
  path: string;
  /** YAML paths of some keys (objects) or indexes (arrays). */
  keys?: Record<string, string>;
  /** Everything below comes from `path` (Butane's AddFromCommonSource). */
  whole?: boolean;
}

const marks = new WeakMap<object, SourceMark>();

/** Mark a node with the YAML path it came from; returns the node. */
export function markSource<T>(node: T, path: string, extra: Omit<SourceMark, 'path'> = {}): T {
  if (node !== null && typeof node === 'object') marks.set(node as object, { ...marks.get(node as object), path, ...extra });
  return node;
}

/** Map a key (or an index) of a marked node to its own YAML path. */
export function markKey(node: object, key: string | number, path: string): void {
  const m = marks.get(node);
  if (!m) return;
  m.keys = { ...m.keys, [String(key)]: path };
}

export function sourceOf(node: unknown): SourceMark | undefined {
  return node !== null && typeof node === 'object' ? marks.get(node) : undefined;
}

/** Carry the mark of `from` (or of `fallback`) to a node built from it. */
export function carrySource(to: object, from: unknown, fallback?: unknown): void {
  const m = sourceOf(from) ?? sourceOf(fallback);
  if (!m) return;
  const other = sourceOf(from) ? sourceOf(fallback) : undefined;
  // Keys mapped on either side (a merged node keeps what the parent mapped, the child's mapping wins).
  const keys = other?.keys || m.keys ? { ...other?.keys, ...m.keys } : undefined;
  marks.set(to, { ...m, ...(keys ? { keys } : {}) });
}

/**
 * The YAML path of a JSON path ("$.storage.files.4.path") of the generated config `root`. `inSource` tells whether
 * the Butane source has a value at a YAML path: a field the source left out has no translation in Butane, which
 * then falls back to the JSON path with its names snake_cased (TranslateReportPaths), output indexes and all.
 */
export function yamlPathOf(root: unknown, jsonPath: string, inSource?: (yamlPath: string) => boolean): string {
  const segs = jsonPath === '$' ? [] : jsonPath.replace(/^\$\.?/, '').split('.');
  const snakeSeg = (seg: string) => (/^\d+$/.test(seg) ? seg : snake(seg));
  let yaml = sourceOf(root)?.path ?? '$';
  let node: unknown = root;
  let whole = false;
  let guessed = false;
  for (const seg of segs) {
    const m = sourceOf(node);
    const child = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
    if (whole) {
      node = child;
      continue;
    }
    const own = sourceOf(child);
    guessed = false;
    if (own) yaml = own.path;
    else if (m?.keys?.[seg] !== undefined) yaml = m.keys[seg]!;
    else {
      yaml = `${yaml}.${snakeSeg(seg)}`;
      guessed = true;
    }
    whole = own?.whole ?? false;
    node = child;
  }
  if (guessed && inSource && !inSource(yaml)) return ['$', ...segs.map(snakeSeg)].join('.');
  return yaml;
}
