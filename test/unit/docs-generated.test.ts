// The generated parts of README.md (command table) and ostree/COMPOSE.md (manifest keys) must be what
// scripts/gen-docs.mjs makes from the code now. The command table needs `make build` (oclif.manifest.json); the unit
// project runs after it in `make test`.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/version.js';
import { MANIFEST_SCHEMA, parseManifest, type ImageSpec, type Manifest, type UpgradeStrategy } from '../../ostree/manifest.js';
import { between, deprecatedAliases, renderCommands, renderManifestKeys, replaceBetween } from '../../scripts/gen-docs.mjs';

const root = projectRoot();
const REGENERATE = 'regenerate with `npm run docs` (make build, then node scripts/gen-docs.mjs) and commit the result';

function oclifManifest(): { commands: Record<string, unknown> } {
  const p = join(root, 'oclif.manifest.json');
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`make build\` first (it writes oclif.manifest.json, which the README's command table is made from)`);
  return JSON.parse(readFileSync(p, 'utf8'));
}

describe('generated docs', () => {
  it("ostree/COMPOSE.md's key table is the one generated from MANIFEST_SCHEMA", () => {
    const text = readFileSync(join(root, 'ostree', 'COMPOSE.md'), 'utf8');
    expect(between(text, 'manifest-keys'), `ostree/COMPOSE.md's manifest key table is stale: ${REGENERATE}`).toBe(renderManifestKeys(MANIFEST_SCHEMA));
  });

  it('the key table names every key with its default, and refuses a key without a description', () => {
    const table = renderManifestKeys(MANIFEST_SCHEMA);
    expect(table).toContain('| `packages` | list of string | required |');
    expect(table).toContain('| `upgrade.strategy` | one of `immediate`, `periodic`, `etcd-lock`, `off` | `"immediate"` |');
    expect(table).toContain('| `images[].from.oci-archive` | string |  |');
    expect(() => renderManifestKeys({ type: 'object', properties: { x: { type: 'string' } } })).toThrow(/manifest key x has no description/);
  });

  it("README.md's command table is the one generated from the commands", () => {
    const topics = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).oclif.topics;
    const text = readFileSync(join(root, 'README.md'), 'utf8');
    expect(between(text, 'commands'), `README.md's command table is stale: ${REGENERATE}`).toBe(renderCommands(oclifManifest(), topics));
  });

  it('the command table shows topics, args, required and optional flags, not the global ones', () => {
    const table = renderCommands(oclifManifest(), { cluster: { description: 'the cluster topic' } });
    expect(table).toContain('| `fcos cluster` | the cluster topic | commands: `down`, `init`, `status`, `up` |');
    expect(table).toMatch(/\| `fcos validate FILE…` \| validate Ignition configs like ignition-validate\. Spec 3\.0\.0–3\.6\.0[^|]* \| `\[-s\/--strict\]` \|/);
    expect(table).toMatch(/\| `fcos build` \| [^|]+ \| `-i\/--ignition IGNITION` `\[--manifest MANIFEST\]`/);
    expect(table).not.toContain('--json');
    expect(table).not.toContain('--verbose');
  });

  it("the README lists every flag rename (deprecated alias) in its 'Renamed flags' table", () => {
    const text = readFileSync(join(root, 'README.md'), 'utf8');
    const lines = text.slice(text.indexOf('Renamed flags')).split('\n');
    const first = lines.findIndex((l) => l.startsWith('|'));
    const table = lines.slice(first);
    const rows = table.slice(0, table.findIndex((l) => !l.startsWith('|'))).filter((l) => l.startsWith('| `fcos '));
    const aliases = deprecatedAliases(oclifManifest());
    expect(aliases.length).toBeGreaterThanOrEqual(6);
    for (const a of aliases) {
      const row = rows.find((r) => r.startsWith(`| \`fcos ${a.command}\` |`));
      expect(row, `README 'Renamed flags' has no row for fcos ${a.command}`).toBeDefined();
      expect(row, `README 'Renamed flags' row of fcos ${a.command} lacks ${a.alias} → --${a.flag}`).toContain(`\`${a.alias}\``);
      expect(row).toContain(`\`--${a.flag}\``);
    }
    // …and lists no rename that the commands do not have (any more).
    for (const row of rows) expect(aliases.some((a) => row.startsWith(`| \`fcos ${a.command}\` |`)), `README 'Renamed flags' row without a deprecated alias: ${row}`).toBe(true);
  });

  it('replaceBetween replaces only what is between the markers, and refuses a text without them', () => {
    const t = 'a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n';
    expect(replaceBetween(t, 'x', 'new\nlines')).toBe('a\n<!-- x:start -->\nnew\nlines\n<!-- x:end -->\nb\n');
    expect(between(replaceBetween(t, 'x', 'new'), 'x')).toBe('new');
    expect(() => replaceBetween('no markers', 'x', 'y')).toThrow(/markers/);
  });
});

describe('the Manifest type derived from MANIFEST_SCHEMA', () => {
  it('has the shapes compose relies on (checked by tsc) and matches what validation returns', () => {
    expectTypeOf<UpgradeStrategy>().toEqualTypeOf<'immediate' | 'periodic' | 'etcd-lock' | 'off'>();
    expectTypeOf<Manifest['packages']>().toEqualTypeOf<string[]>();
    expectTypeOf<Manifest['ref']>().toEqualTypeOf<string>();
    expectTypeOf<Manifest['overlay']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ImageSpec['env']>().toEqualTypeOf<Record<string, string | number> | undefined>();
    expectTypeOf<Manifest['upgrade']['periodic']>().toEqualTypeOf<{ days: ('Mon' | 'Tue' | 'Wed' | 'Thu' | 'Fri' | 'Sat' | 'Sun')[]; start: string; 'length-minutes': number } | undefined>();
    const m: Manifest = parseManifest('packages: [systemd]\n');
    // Every key with a schema default is present after validation, as the type says.
    for (const [k, s] of Object.entries(MANIFEST_SCHEMA.properties)) {
      if ('default' in s) expect(m, k).toHaveProperty([k]);
    }
    expect(m.upgrade).toEqual({ strategy: 'immediate', 'check-interval-minutes': 60, 'boot-tries': 3, 'health-timeout-seconds': 120 });
  });
});
