/** Path rules (config/v3_X/types/path.go) and Go's path.Clean. */
import { E } from './errors.js';

/** Go's path.Clean. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!rooted) parts.push('..');
      continue;
    }
    parts.push(seg);
  }
  const out = (rooted ? '/' : '') + parts.join('/');
  return out === '' ? '.' : out;
}

export function goJoin(...elems: string[]): string {
  const nonEmpty = elems.filter((e) => e !== '');
  return nonEmpty.length === 0 ? '' : goClean(nonEmpty.join('/'));
}

export function validatePath(p: string | undefined): string | undefined {
  if (p === undefined || p === '') return E.NoPath;
  if (!p.startsWith('/')) return E.PathRelative;
  // Clean already when no segment is empty, "." or ".." (no "//", no "/." at all) and no "/" ends it.
  if (!p.includes('//') && !p.includes('/.') && (p.length === 1 || !p.endsWith('/'))) return undefined;
  if (goClean(p) !== p) return E.DirtyPath;
  return undefined;
}

export function validatePathNilOk(p: string | undefined): string | undefined {
  return p === undefined ? undefined : validatePath(p);
}
