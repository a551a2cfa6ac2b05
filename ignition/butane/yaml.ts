/**
 * Butane's YAML: the shared position tracker (lib/yaml.ts) with the schema of Go's yaml.v3 as Butane sees it.
 */
import yaml from 'js-yaml';
import { parseYaml as parseYamlWith, type ParsedYaml } from '../../lib/yaml.js';

export { SourceText, YamlSyntaxError, type Pos, type YMap, type YNode, type YScalar, type YSeq } from '../../lib/yaml.js';

/** Go's strconv.ParseInt(s, 0, 64) after yaml.v3 drops underscores: 0x.., 0o.., 0b.., and 0-prefixed octal. */
export function parseGoInt(raw: string): number | undefined {
  const s = raw.replace(/_/g, '');
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!;
  let v: number;
  if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
  else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
  else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
  else if (body.length > 1 && body.startsWith('0')) v = parseInt(body.slice(1), 8);
  else v = parseInt(body, 10);
  return m[1] === '-' ? -v : v;
}

/** js-yaml's default schema (YAML 1.2 core + merge keys, timestamps), except that integers resolve as Go's yaml.v3 resolves them (so `mode: 0644` is 420). */
const goInt = new yaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && parseGoInt(data) !== undefined,
  construct: (data: string) => parseGoInt(data),
  predicate: (o: unknown) => typeof o === 'number' && Number.isInteger(o),
  represent: (o: unknown) => String(o),
});
const SCHEMA = yaml.DEFAULT_SCHEMA.extend({ implicit: [goInt] });

/** Parse one Butane document. Throws YamlSyntaxError (with 1-based line/col) on bad YAML. */
export function parseYaml(text: string): ParsedYaml {
  return parseYamlWith(text, SCHEMA);
}
