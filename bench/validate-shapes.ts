/**
 * Generators of the Ignition config shapes that made the validator slow (issue 15 #8), each about `bytes` long.
 * Used by bench/validate-scale (timings) and test/unit/ignition-scale.test.ts (same findings as before the fix).
 *
 * - findings: many findings (relative paths, unknown keys in every file) and one key repeated at the top level
 *   after `storage`, so that every finding is located past a long list of members.
 * - nonascii: the same kind of findings on one long line with non-ASCII text (columns count UTF-8 bytes).
 * - links: a valid config with as many links as files (links and files in separate trees: no finding).
 * - linkprefix: links under links, files and directories under links, hard links to directories: many findings of
 *   the link rules, each one repeated as often as it matches.
 */
export type Shape = 'findings' | 'nonascii' | 'links' | 'linkprefix';
export const SHAPES: readonly Shape[] = ['findings', 'nonascii', 'links', 'linkprefix'];

/** A JSON object written member by member, so that a key may repeat. */
function object(members: [string, string][], nl: string): string {
  return `{${nl}${members.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(`,${nl}`)}${nl}}`;
}

function fill(bytes: number, per: number, make: (n: number) => string): string {
  // Grow n until the text reaches the size (one estimate, then one correction).
  let n = Math.max(1, Math.floor(bytes / per));
  let text = make(n);
  n = Math.max(1, Math.floor((n * bytes) / Buffer.byteLength(text)));
  text = make(n);
  return text;
}

export function generate(shape: Shape, bytes: number): string {
  switch (shape) {
    case 'findings':
      return fill(bytes, 60, (n) => {
        const files: string[] = [];
        for (let i = 0; i < n; i++) files.push(`    {"path": "r${i}", "bogus${i % 7}": ${i}}`);
        const members: [string, string][] = [
          ['ignition', '{"version": "3.3.0"}'],
          ['storage', `{"files": [\n${files.join(',\n')}\n  ]}`],
        ];
        for (let i = 0; i < 2 * n; i++) members.push(['unknownKey', String(i % 10)]);
        return object(members, '\n');
      });
    case 'nonascii':
      return fill(bytes, 110, (n) => {
        const files: string[] = [];
        for (let i = 0; i < n; i++) files.push(`{"path":"répertoire/fichier-ü-${i}","mode":420,"clé":"ñ","contents":{"source":"data:,%C3%A9t%C3%A9"}}`);
        return `{"ignition":{"version":"3.3.0"},"storage":{"files":[${files.join(',')}]},"😀":"✓"}`;
      });
    case 'links':
      return fill(bytes, 130, (n) => {
        const files: string[] = [];
        const links: string[] = [];
        for (let i = 0; i < n; i++) {
          files.push(`{"path":"/etc/app/d${i % 100}/f${i}","mode":420,"contents":{"source":"data:,x"}}`);
          links.push(`{"path":"/etc/links/d${i % 100}/l${i}","target":"/etc/app/d${i % 100}/f${i}"}`);
        }
        return `{"ignition":{"version":"3.4.0"},"storage":{"files":[\n${files.join(',\n')}\n],"links":[\n${links.join(',\n')}\n]}}\n`;
      });
    case 'linkprefix':
      return fill(bytes, 190, (n) => {
        const files: string[] = [];
        const dirs: string[] = [];
        const links: string[] = [];
        for (let i = 0; i < n; i++) {
          const top = `/srv/t${i}`;
          links.push(`{"path":"${top}","target":"/var/t${i}"}`);
          if (i % 4 === 0) links.push(`{"path":"${top}/sub/l","target":"/var/x"}`);
          if (i % 4 === 1) links.push(`{"path":"/h/l${i}","target":"/d/${i}","hard":true}`);
          dirs.push(i % 4 === 2 ? `{"path":"${top}/d"}` : `{"path":"/d/${i}"}`);
          files.push(i % 2 === 0 ? `{"path":"${top}/sub/f","contents":{"source":"data:,x"}}` : `{"path":"/ok/f${i}","contents":{"source":"data:,x"}}`);
        }
        // An unset link path (Ignition compares with "" + "/": every absolute path is under it) and a repeated one.
        links.push('{"target":"/nowhere"}', '{"path":"/srv/t0","target":"/var/t0"}');
        return `{"ignition":{"version":"3.4.0"},"storage":{"files":[\n${files.join(',\n')}\n],"directories":[\n${dirs.join(',\n')}\n],"links":[\n${links.join(',\n')}\n]}}\n`;
      });
  }
}
