#!/usr/bin/env node
// The second half of `make build` (after tsc): what is generated from the compiled code, so that a start of the CLI
// loads only what the invoked command needs.
//  - dist/ignition/schema/validators/v3_X_0.cjs: the ajv validators as standalone code (ignition/schema/standalone.ts);
//  - oclif.manifest.json: every command's id, flags, args and help texts, so that oclif imports only the invoked
//    command's module (without it, oclif imports every command to list them). bin/fcos ignores a manifest older
//    than the compiled commands or package.json (see manifestFresh there), so a stale one cannot break a command.
import { renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const { writeStandaloneValidators } = await import('../dist/ignition/schema/standalone.js');
const files = writeStandaloneValidators();
process.stderr.write(`build: ${files.length} ajv validators in ${relative(root, dirname(files[0]))}\n`);

const { Plugin } = await import('@oclif/core');
const plugin = new Plugin({ root, isRoot: true, ignoreManifest: true, errorOnManifestCreate: true });
await plugin.load();
const manifest = join(root, 'oclif.manifest.json');
writeFileSync(`${manifest}.${process.pid}.tmp`, JSON.stringify(plugin.manifest, null, 2) + '\n');
renameSync(`${manifest}.${process.pid}.tmp`, manifest);
process.stderr.write(`build: oclif.manifest.json (${Object.keys(plugin.manifest.commands).length} commands)\n`);
