#!/usr/bin/env node
// Generated documentation: the parts of README.md and ostree/COMPOSE.md that are made from the code, so that they
// cannot drift from it.
//  - README.md, between <!-- commands:start --> and <!-- commands:end -->: the command table, from
//    oclif.manifest.json (written by `make build`: every command's summary, args and flags) and package.json's
//    oclif topics;
//  - ostree/COMPOSE.md, between <!-- manifest-keys:start --> and <!-- manifest-keys:end -->: the manifest's keys,
//    from MANIFEST_SCHEMA (ostree/manifest-schema.ts, compiled to dist/): type, default and description.
// Run `npm run docs` (make build, then this script) after changing a command or the manifest schema;
// `node scripts/gen-docs.mjs --check` only says what is stale (exit 1). test/unit/docs-generated.test.ts checks both.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The flags every command has (BaseCommand), described once under the table instead of in every row. */
export const GLOBAL_FLAGS = ['json', 'verbose'];

/** text with the lines between `<!-- NAME:start -->` and `<!-- NAME:end -->` replaced by body. */
export function replaceBetween(text, name, body) {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`gen-docs: markers ${start} … ${end} not found`);
  return `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`;
}

/** The lines between the markers (what replaceBetween writes there). */
export function between(text, name) {
  const start = `<!-- ${name}:start -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(`<!-- ${name}:end -->`);
  if (i < 0 || j < i) return undefined;
  return text.slice(i + start.length + 1, j - 1);
}

const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n+/g, ' ');

// ---- README: the command table -----------------------------------------------------------------------------------

function flagSynopsis(name, f) {
  const names = f.char ? `-${f.char}/--${name}` : `--${name}`;
  let s = names;
  if (f.type === 'option') s += f.options ? ` ${f.options.join('|')}` : ` ${name.toUpperCase().replace(/-/g, '_')}`;
  if (f.multiple) s += '…';
  return f.required ? `\`${s}\`` : `\`[${s}]\``;
}

function argSynopsis(c) {
  return Object.values(c.args ?? {})
    .map((a) => {
      const n = `${a.name.toUpperCase()}${c.strict === false ? '…' : ''}`;
      return a.required ? n : `[${n}]`;
    })
    .join(' ');
}

/** The README's command table: one row per topic and per command (id order, a topic before its commands), with the
 * command's summary and description and its own flags. */
export function renderCommands(oclifManifest, topics = {}) {
  const rows = [];
  const ids = Object.keys(oclifManifest.commands).sort();
  const shown = new Set();
  for (const id of ids) {
    const c = oclifManifest.commands[id];
    if (c.hidden) continue;
    const parts = id.split(':');
    if (parts.length > 1 && topics[parts[0]] && !shown.has(parts[0])) {
      shown.add(parts[0]);
      rows.push(`| \`fcos ${parts[0]}\` | ${cell(topics[parts[0]].description)} | commands: ${ids.filter((x) => x.startsWith(`${parts[0]}:`)).map((x) => `\`${x.split(':').slice(1).join(' ')}\``).join(', ')} |`);
    }
    const usage = [`fcos ${parts.join(' ')}`, argSynopsis(c)].filter(Boolean).join(' ');
    const flags = Object.entries(c.flags)
      .filter(([n, f]) => !f.hidden && !GLOBAL_FLAGS.includes(n))
      .map(([n, f]) => cell(flagSynopsis(n, f)));
    const what = [c.summary, c.description].filter(Boolean).join('. ');
    rows.push(`| \`${cell(usage)}\` | ${cell(what)} | ${flags.join(' ') || '–'} |`);
  }
  return ['| command | what it does | flags |', '|---|---|---|', ...rows].join('\n');
}

/** Every deprecated alias of a flag: [{command, flag, alias}] (alias as typed: --long or -c). */
export function deprecatedAliases(oclifManifest) {
  const out = [];
  for (const [id, c] of Object.entries(oclifManifest.commands)) {
    for (const [name, f] of Object.entries(c.flags)) {
      if (!f.deprecateAliases) continue;
      for (const a of f.aliases ?? []) out.push({ command: id.split(':').join(' '), flag: name, alias: `--${a}` });
      for (const a of f.charAliases ?? []) out.push({ command: id.split(':').join(' '), flag: name, alias: `-${a}` });
    }
  }
  return out;
}

// ---- COMPOSE.md: the manifest keys -------------------------------------------------------------------------------

function typeOf(s) {
  if (s.enum) return `one of ${s.enum.map((v) => `\`${v}\``).join(', ')}`;
  const t = Array.isArray(s.type) ? s.type.join(' or ') : s.type;
  if (t === 'array') return `list of ${s.items.type === 'object' ? 'mappings' : typeOf(s.items).replace(/^one of/, 'values of')}`;
  if (t === 'object') return s.properties ? 'mapping' : `mapping: name → ${typeOf(s.additionalProperties)}`;
  return t;
}

function defaultOf(s, required) {
  if (required) return 'required';
  if (s.default === undefined || (s.type === 'object' && s.properties)) return '';
  return `\`${JSON.stringify(s.default)}\``;
}

/** Rows for the keys of an object schema, depth first; `prefix` is the key path so far. */
function keyRows(s, prefix, out) {
  const required = new Set(s.required ?? []);
  for (const [k, p] of Object.entries(s.properties)) {
    const key = `${prefix}${k}`;
    if (p.description === undefined) throw new Error(`gen-docs: manifest key ${key} has no description`);
    out.push(`| \`${key}\` | ${cell(typeOf(p))} | ${cell(defaultOf(p, required.has(k)))} | ${cell(p.description)} |`);
    if (p.type === 'object' && p.properties) keyRows(p, `${key}.`, out);
    if (p.type === 'array' && p.items.type === 'object' && p.items.properties) keyRows(p.items, `${key}[].`, out);
  }
  return out;
}

/** COMPOSE.md's key table, from the manifest's JSON schema. */
export function renderManifestKeys(schema) {
  return ['| key | type | default | what |', '|---|---|---|---|', ...keyRows(schema, '', [])].join('\n');
}

// ---- main --------------------------------------------------------------------------------------------------------

/** The generated files as they should be: [{path, text, now}] (now: what is there). */
export async function generate() {
  const oclifPath = join(root, 'oclif.manifest.json');
  const schemaPath = join(root, 'dist', 'ostree', 'manifest-schema.js');
  if (!existsSync(oclifPath) || !existsSync(schemaPath)) throw new Error('gen-docs: dist/ or oclif.manifest.json is missing: run `make build` first');
  const oclifManifest = JSON.parse(readFileSync(oclifPath, 'utf8'));
  const topics = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).oclif?.topics ?? {};
  const { MANIFEST_SCHEMA } = await import(pathToFileURL(schemaPath).href);
  const files = [
    ['README.md', 'commands', renderCommands(oclifManifest, topics)],
    [join('ostree', 'COMPOSE.md'), 'manifest-keys', renderManifestKeys(MANIFEST_SCHEMA)],
  ];
  return files.map(([rel, name, body]) => {
    const now = readFileSync(join(root, rel), 'utf8');
    return { path: rel, text: replaceBetween(now, name, body), now };
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const check = process.argv.includes('--check');
  const stale = [];
  for (const f of await generate()) {
    if (f.text === f.now) continue;
    stale.push(f.path);
    if (check) continue;
    const abs = join(root, f.path);
    writeFileSync(`${abs}.${process.pid}.tmp`, f.text);
    renameSync(`${abs}.${process.pid}.tmp`, abs);
  }
  if (check && stale.length) {
    process.stderr.write(`gen-docs: stale: ${stale.join(', ')} (run \`npm run docs\`)\n`);
    process.exit(1);
  }
  process.stderr.write(`gen-docs: ${stale.length ? `wrote ${stale.join(', ')}` : 'up to date'}\n`);
}
