#!/usr/bin/env node
// The second half of `make build` (after tsc): what is generated from the compiled code, so that a start of the CLI
// loads only what the invoked command needs.
//  - dist/vendor/oclif-core.cjs: @oclif/core bundled into one file (esbuild), with a V8 code cache made here
//    (oclif-core.cjs.v8cache), and dist/cli/oclif.js replaced by its loader (see cli/oclif.ts);
//  - dist/cli/commands/validate.js: the validate command with everything it imports (but oclif) in one ES module, in
//    place of tsc's output (a start then resolves and reads one file, not two dozen);
//  - oclif.manifest.json: every command's id, flags, args and help texts, so that oclif imports only the invoked
//    command's module (without it, oclif imports every command to list them). bin/fcos ignores a manifest older
//    than the compiled commands or package.json (see manifestFresh there), so a stale one cannot break a command.
// Every file is written aside and renamed into place: a CLI started meanwhile never reads half a file.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const say = (line) => process.stderr.write(`build: ${line}\n`);
function put(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.${process.pid}.tmp`, data);
  renameSync(`${path}.${process.pid}.tmp`, path);
}

// 1. What earlier builds generated and nothing loads any more: the ajv validators (validation checks types and
// required keys in decode.ts now).
rmSync(join(dist, 'ignition', 'schema', 'validators'), { recursive: true, force: true });
for (const f of ['standalone.js', 'standalone.js.map']) rmSync(join(dist, 'ignition', 'schema', f), { force: true });

// 2. @oclif/core in one file. typescript stays outside: oclif loads it only to run .ts commands in development.
// Code compiled by vm.Script has no import() of its own (Node 20 loses vm's import callback when the code comes from
// a code cache), so oclif's `await import(x)` (command modules, ts-node, config files) calls a function the loader
// hands in, falling back to the native import() when the bundle is loaded by plain require.
const bundle = join(dist, 'vendor', 'oclif-core.cjs');
const IMPORT = /\bawait import\(/g;
const out = await build({
  entryPoints: [createRequire(import.meta.url).resolve('@oclif/core')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['typescript'],
  write: false,
  logLevel: 'warning',
  legalComments: 'none',
});
let code = out.outputFiles[0].text;
const imports = code.match(IMPORT)?.length ?? 0;
if (imports < 3) throw new Error(`build: expected oclif's dynamic imports in the bundle, found ${imports}`);
code = `const __fcosImport = globalThis[Symbol.for('fcos.import')] ?? ((s) => import(s));\n${code.replace(IMPORT, 'await __fcosImport(')}`;
// oclif sorts the command list with localeCompare at every start: the first call sets up ICU's collator (15-20 ms).
// Command ids are ASCII, so code-unit order is the same order.
const SORT = 'a.id.localeCompare(b.id)';
if (code.split(SORT).length === 2) code = code.replace(SORT, '(a.id < b.id ? -1 : a.id > b.id ? 1 : 0)');
else say(`note: oclif's command sort (${SORT}) not found once in the bundle; left as it is`);
// oclif's parser is quadratic in the number of arguments (`fcos validate` of a directory of configs): it counts the
// arguments so far by filtering all tokens at each one, and sorts argv with indexOf in the comparator (512 files:
// about 10 ms). The same results: a running count (arguments are added to raw in this one place), and each
// argument's first index looked up in a map.
const PATCHES = [
  ['const arg = Object.keys(this.input.args)[this._argTokens.length];', 'const arg = Object.keys(this.input.args)[this.__fcosArgCount = (this.__fcosArgCount ?? -1) + 1];'],
  ['argv: unsortedArgv.sort((a, b) => originalArgv.indexOf(a) - originalArgv.indexOf(b)),', 'argv: __fcosSortByFirstIndex(unsortedArgv, originalArgv),'],
];
for (const [from, to] of PATCHES) {
  if (code.split(from).length === 2) code = code.replace(from, () => to);
  else say(`note: oclif's \`${from}\` not found once in the bundle; left as it is`);
}
code = `function __fcosSortByFirstIndex(list, order) {
  const at = new Map();
  order.forEach((a, i) => at.has(a) || at.set(a, i));
  const pos = (a) => at.get(a) ?? -1;
  return list.sort((a, b) => pos(a) - pos(b));
}
${code}`;
put(bundle, code);

// 3. The loader in place of tsc's plain re-export: the same names, from the bundle. The wrapper and options must be
// the loader's own, or V8 rejects the cache (it then compiles as usual).
const plain = join(dist, 'cli', 'oclif.js');
const names = Object.keys(await import(pathToFileURL(plain).href)).filter((n) => n !== 'default').sort();
const loader = `// Generated by scripts/build-dist.mjs in place of tsc's output of cli/oclif.ts (a bare tsc puts that back).
// @oclif/core from one file, dist/vendor/oclif-core.cjs, compiled with the V8 code cache made at build time; a cache
// V8 rejects (another Node version) is ignored. The bundle's dynamic imports go through fcos.import, defined here.
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

function load() {
  const file = fileURLToPath(new URL('../vendor/oclif-core.cjs', import.meta.url));
  globalThis[Symbol.for('fcos.import')] ??= (s) => import(s);
  let cachedData;
  try {
    cachedData = readFileSync(file + '.v8cache');
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

const core = load();
export const { ${names.join(', ')} } = core;
`;
put(plain, loader);

// 4. The code cache, taken after loading the bundle and a Config, so that the functions a start runs are in it.
{
  globalThis[Symbol.for('fcos.import')] ??= (s) => import(s);
  const script = new vm.Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  await module.exports.Config.load({ root });
  put(`${bundle}.v8cache`, script.createCachedData());
}
say(`${relative(root, bundle)} (${(code.length / 1024).toFixed(0)} KiB) with its V8 code cache; ${relative(root, plain)} loads it`);

// 5. The validate command in one file: the command most often run on many configs in a row (and started by tools per
// file). oclif stays outside (one copy of it, loaded by the loader above); a bare tsc puts the plain module back.
{
  const entry = join(dist, 'cli', 'commands', 'validate.js');
  const oclif = join(dist, 'cli', 'oclif.js');
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'warning',
    legalComments: 'none',
    plugins: [
      {
        name: 'oclif-outside',
        setup(b) {
          b.onResolve({ filter: /oclif\.js$/ }, (args) => {
            if (join(args.resolveDir, args.path) !== oclif) return undefined;
            return { path: relative(dirname(entry), oclif).split(sep).join('/'), external: true };
          });
        },
      },
    ],
  });
  const text = out.outputFiles[0].text;
  const local = [...text.matchAll(/^import\b[^;]*?from\s*"([^"]+)"/gm)].map((m) => m[1]).filter((f) => !f.startsWith('node:') && f !== '../oclif.js');
  if (local.length) throw new Error(`build: the validate bundle still imports ${local.join(', ')}`);
  put(entry, `// Generated by scripts/build-dist.mjs: tsc's output of cli/commands/validate.ts and what it imports, in one module.\n${text}`);
  say(`${relative(root, entry)} (${(text.length / 1024).toFixed(0)} KiB, one module)`);
}

// 6. The manifest, read by the oclif that bin/fcos runs.
const { Plugin } = await import(pathToFileURL(plain).href);
const plugin = new Plugin({ root, isRoot: true, ignoreManifest: true, errorOnManifestCreate: true });
await plugin.load();
put(join(root, 'oclif.manifest.json'), JSON.stringify(plugin.manifest, null, 2) + '\n');
say(`oclif.manifest.json (${Object.keys(plugin.manifest.commands).length} commands)`);
