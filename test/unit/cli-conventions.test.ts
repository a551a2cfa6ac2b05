/**
 * oclif conventions (issue 17): --json through oclif's enableJsonFlag, a summary on every command, topics with their
 * own descriptions, one meaning per short flag across commands (Butane's where Butane has one), and one name per
 * concept (--port, --host) with the old names kept as deprecated aliases.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BaseCommand } from '../../cli/base.js';
import { buildCli, FCOS, fcosCli, REPO } from './cli-helpers.js';

type FlagDef = { name?: string; char?: string; charAliases?: string[]; aliases?: string[]; deprecateAliases?: boolean };
type CommandClass = typeof BaseCommand & { summary?: string; flags?: Record<string, FlagDef>; baseFlags: Record<string, FlagDef> };

const commandsDir = join(REPO, 'cli', 'commands');
function commandFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? commandFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}
const commands = new Map<string, CommandClass>();
beforeAll(async () => {
  for (const f of commandFiles(commandsDir)) {
    const id = relative(commandsDir, f).replace(/\.ts$/, '').split('/').join(' ');
    commands.set(id, ((await import(pathToFileURL(f).href)) as { default: CommandClass }).default);
  }
});
const flagsOf = (c: CommandClass): Record<string, FlagDef> => ({ ...c.baseFlags, ...(c.flags ?? {}) });
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { oclif: { topics: Record<string, { description: string }> } };

describe('every command', () => {
  it('has a summary (one line) and a description', () => {
    expect(commands.size).toBeGreaterThanOrEqual(13);
    for (const [id, c] of commands) {
      expect(c.summary, id).toMatch(/^[^\n]{10,80}$/);
      expect(c.description, id).toBeTruthy();
      expect(c.description, `${id}: the description repeats the summary`).not.toBe(c.summary);
    }
  });

  it('takes --json through oclif (enableJsonFlag), not by scanning argv', () => {
    for (const [id, c] of commands) expect(c.enableJsonFlag, id).toBe(true);
  });

  it('gives each short flag one meaning across commands (deprecated aliases aside)', () => {
    const meaning = new Map<string, Set<string>>();
    for (const [id, c] of commands) {
      const own = new Set<string>();
      for (const [name, f] of Object.entries(flagsOf(c))) {
        const chars = [...(f.char ? [f.char] : []), ...(f.deprecateAliases ? [] : (f.charAliases ?? []))];
        for (const ch of chars) {
          expect(own.has(ch), `${id}: -${ch} twice`).toBe(false);
          own.add(ch);
          if (!meaning.has(ch)) meaning.set(ch, new Set());
          meaning.get(ch)!.add(name);
        }
      }
    }
    const clashes = [...meaning].filter(([, names]) => names.size > 1).map(([ch, names]) => `-${ch}: ${[...names].join(', ')}`);
    expect(clashes).toEqual([]);
    // Butane's own short flags; -m is memory, as in cosa run.
    expect(Object.fromEntries([...meaning].map(([ch, names]) => [ch, [...names][0]]))).toMatchObject({ d: 'files-dir', p: 'pretty', o: 'output', s: 'strict', r: 'raw', m: 'memory' });
  });

  it('names the listening address and port --host and --port in serve and pxe serve; pxe serve keeps --listen and --http-port as deprecated aliases', () => {
    for (const id of ['serve', 'pxe serve']) expect(Object.keys(flagsOf(commands.get(id)!)), id).toEqual(expect.arrayContaining(['host', 'port']));
    const pxe = flagsOf(commands.get('pxe serve')!);
    expect(pxe.port).toMatchObject({ aliases: ['http-port'], deprecateAliases: true });
    expect(pxe.host).toMatchObject({ aliases: ['listen'], deprecateAliases: true });
  });
});

describe('the built CLI', () => {
  beforeAll(() => buildCli(), 300_000);

  it('fcos --help lists the topics with their own descriptions and every command with its summary', async () => {
    const r = await fcosCli(['--help']);
    expect(r.exitCode).toBe(0);
    const text = r.stdout.replace(/\s+/g, ' ');
    for (const [topic, t] of Object.entries(pkg.oclif.topics)) expect(text).toContain(`${topic} ${t.description}`);
    for (const [id, c] of commands) if (!id.includes(' ')) expect(text).toContain(`${id} ${c.summary}`);
    const cluster = (await fcosCli(['cluster', '--help'])).stdout.replace(/\s+/g, ' ');
    for (const [id, c] of commands) if (id.startsWith('cluster ')) expect(cluster).toContain(`${id} ${c.summary}`);
  });

  it('--json (and FCOS_CONTENT_TYPE=json) gives one JSON document on stdout, errors included, with exit 1 and no stack', async () => {
    const v = await fcosCli(['validate', '--json', join(REPO, 'examples', 'config.ign')]);
    expect(v.exitCode).toBe(0);
    expect(JSON.parse(v.stdout)).toEqual([expect.objectContaining({ valid: true })]);
    const e = await execa(FCOS, ['validate', '--bogus'], { reject: false, env: { FCOS_CONTENT_TYPE: 'json', FCOS_DEBUG: '' } });
    expect(e.exitCode).toBe(1);
    expect(JSON.parse(e.stdout)).toEqual({ error: { kind: 'user', message: 'Nonexistent flag: --bogus', hint: 'see: fcos validate --help' } });
    expect(e.stderr).not.toMatch(/\n\s+at /);
    // After `--` it is an argument, not the flag: text output.
    const after = await fcosCli(['validate', join(REPO, 'examples', 'config.ign'), '--', '--json']);
    expect(after.stdout).not.toMatch(/^\[/);
  });

  it('a deprecated short flag still works and says what to use', async () => {
    const r = await fcosCli(['serve', '-p', '0', '--builds', join(REPO, 'tmp', 'no-such-builds')]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('The "-p" flag has been deprecated. Use "--port" instead.');
    expect(r.stderr).toMatch(/^fcos: no ostree repository in /m);
  });
});
