/**
 * Differential test of `fcos butane` against the real Butane v0.25.1 (issue #16), with the rigor of the Ignition
 * one (ignition-differential-upstream.test.ts).
 *
 * Butane v0.25.1 is built from the Go module proxy and cached by scripts/upstream-tools.sh; this test fails (does not
 * skip) when it cannot be built. It knows fcos 1.0.0–1.6.0 and 1.7.0-experimental: a fcos 1.7.0 case is given to it
 * as 1.7.0-experimental (the same spec; fcos calls it stable). openshift cases are translated to MachineConfigs (YAML),
 * compared as data.
 *
 * Cases: test/differential/butane-generate.ts, deterministic from a PRNG seed: a valid config per case for one of
 * the variants/versions both know (fcos 1.0–1.7, flatcar/r4e 1.0–1.1, fiot 1.0, openshift 4.8–4.20), built from the
 * sugar it has (inline/local contents, trees and files-dir, units and dropins, users with ssh keys, links,
 * directories, mount units, boot_device luks/mirror, grub users, kernel_arguments, merge configs), and 0–2 mutations
 * (invalid input, warnings, YAML 1.1 spellings, a BOM, …). Each case has its own files directory (-d).
 *
 * Compared per case: the verdict, plain and under --strict; the first error's path; the paths of the warnings (a
 * sorted multiset); the output where both succeed, with data URLs decoded (and gunzipped) before comparing; and
 * whether the uncompressed output (no gzip data URL on either side) is byte-identical. Every disagreement must be
 * explained by an entry of KNOWN_DIFFERENCES (with its reason); an entry that explains nothing fails too.
 * Other case sets: FCOS_BUTANE_DIFF_SEED=N (and FCOS_BUTANE_DIFF_CASES); FCOS_BUTANE_DIFF_LINES=1 lists the cases
 * whose first error is on another line (informational).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeButane, translateAndValidate } from '../../ignition/butane/index.js';
import { nodeFilesDir } from '../../ignition/butane/filesdir.js';
import { generateButaneCases, TARGETS, type ButaneCase } from '../differential/butane-generate.js';
import { pool } from './ignition-helpers.js';
import { upstreamTool } from './upstream-tools.js';

const PRNG_SEED = Number(process.env.FCOS_BUTANE_DIFF_SEED ?? 16);
const CASES = Number(process.env.FCOS_BUTANE_DIFF_CASES ?? 480);

interface Entry {
  severity: 'error' | 'warning';
  path: string;
  line?: number;
  message: string;
}
interface Side {
  ok: boolean;
  strictOk: boolean;
  /** The Ignition JSON (raw text) when ok. */
  out?: string;
  entries: Entry[];
}
interface Outcome {
  c: ButaneCase;
  up: Side;
  fcos: Side;
}

// Also a known difference, not a disagreement the cases can show: under -r (raw), Butane's openshift field filters
// match nothing (their paths start at spec.config) and its MCO checks report `$.spec.config.…`; fcos applies the same
// restrictions with or without -r. Cases are translated without -r.

/**
 * Known differences: each explains the disagreements it matches, with its reason. The test fails on a
 * disagreement none explains, and on an entry that explains none (unless `rare`: seen with other seeds only).
 */
const KNOWN_DIFFERENCES: {
  name: string;
  reason: string;
  match: (o: Outcome, kind: Kind) => boolean;
  /** Seen with other seeds only: not required to explain a default case. */
  rare?: true;
  /** Made by the test itself (the version rewrite), not a difference of the tools: left out of the agreement rates. */
  artifact?: true;
}[] = [
  {
    name: '1.7.0 stable vs 1.7.0-experimental: a merged 3.6.0 config',
    reason:
      'fcos 1.7.0 is stable and writes spec 3.6.0; Butane v0.25.1 has 1.7.0-experimental, which writes 3.6.0-experimental ' +
      '(config/fcos/v1_7_exp), so an inline/local config of version 3.6.0 under ignition.config is of an "unkown version" ' +
      'there and only warned about (base/v0_7_exp/validate.go ValidateIgnitionConfig); fcos validates it as its own spec.',
    match: (o, kind) =>
      o.c.version === '1.7.0' &&
      (kind === 'strict' || kind === 'warnings' || kind === 'path') &&
      o.up.entries.some((e) => e.message.startsWith('skipping validation for the merge/replace ignition config due to an unkown version')) &&
      !o.fcos.entries.some((e) => e.message.startsWith('skipping validation')),
    artifact: true,
  },
  {
    name: '1.7.0 stable: root partition size warnings',
    reason:
      'fcos 1.7.0 follows the stable spec, whose translator (Butane after v0.25.1) warns that a root partition should have ' +
      "8 GiB and cannot expand when an auto-positioned partition follows it; v0.25.1's 1.7.0-experimental has neither check.",
    match: (o, kind) =>
      o.c.version === '1.7.0' && (kind === 'warnings' || kind === 'strict') && o.fcos.entries.some((e) => /^root (should have 8GiB|partition cannot expand)/.test(e.message)),
    rare: true,
  },
  {
    name: 'MachineConfig: a field the source left out',
    reason:
      'Butane has no translation for a field absent from the source and falls back to the output path; for a MachineConfig ' +
      'that is `$.spec.config.…` at line 1 (coreos/butane#213, config/util/util.go TranslateReportPaths). fcos falls back to ' +
      'the Butane path of the Ignition config, at the position of its closest source ancestor.',
    match: (o, kind) =>
      o.c.variant === 'openshift' && kind === 'path' && (firstError(o.up)?.path ?? '').startsWith('$.spec.config.') && firstError(o.up)!.path.slice('$.spec.config'.length) === firstError(o.fcos)?.path.slice(1),
    rare: true,
  },
];

type Kind = 'verdict' | 'strict' | 'path' | 'warnings' | 'output';

const dir = mkdtempSync(join(tmpdir(), 'fcos-butane-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function exec(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Butane's report lines ("error at $.a.b, line 3 col 5: msg") and its final error ("Error translating config: …"). */
export function parseReport(stderr: string): Entry[] {
  const entries: Entry[] = [];
  const lines = stderr.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const m = /^(error|warning)(?: at (?:(\$[^,:]*)(?:, )?)?(?:line (-?\d+) col -?\d+)?)?: (.*)$/.exec(l);
    if (m) {
      entries.push({ severity: m[1] as Entry['severity'], path: m[2] ?? '', ...(m[3] ? { line: Number(m[3]) } : {}), message: m[4]! });
      continue;
    }
    const g = /^Error translating config: (.*)$/.exec(l);
    // The Go error that ends a failed run: a report entry already said why, unless it is a YAML or version error.
    if (g && !entries.some((e) => e.severity === 'error')) {
      const more = lines.slice(i + 1).filter((x) => x.startsWith('  ')).map((x) => x.trim());
      const message = [g[1]!, ...more].join(' ');
      // yaml.v3's errors name the line in the message ("yaml: line 35: …", "unmarshal errors: line 6: …").
      const at = /\bline (\d+):/.exec(message);
      entries.push({ severity: 'error', path: '', ...(at ? { line: Number(at[1]) } : {}), message });
    }
  }
  return entries;
}

function writeFilesDir(c: ButaneCase, d: string): void {
  mkdirSync(d, { recursive: true });
  for (const [rel, v] of Object.entries(c.files)) {
    const p = join(d, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof v === 'string' || Buffer.isBuffer(v)) writeFileSync(p, v);
    else if ('symlink' in v) symlinkSync(v.symlink, p);
    else writeFileSync(p, v.data, { mode: v.mode });
  }
  // What local-escape points at: outside the files directory, so it must be refused, not read.
  writeFileSync(join(dirname(d), 'outside.txt'), 'outside\n');
}

function forUpstream(c: ButaneCase): string {
  return c.version === c.upstreamVersion ? c.text : c.text.replace(new RegExp(`^version: ${c.version.replace(/\./g, '\\.')}$`, 'm'), `version: ${c.upstreamVersion}`);
}

async function runUpstream(bin: string, c: ButaneCase, caseDir: string): Promise<Side> {
  const file = join(caseDir, 'config.bu');
  writeFileSync(file, forUpstream(c));
  const args = [...(c.raw ? ['-r'] : []), ...(c.filesDir ? ['-d', join(caseDir, 'files')] : []), file];
  const plain = await exec(bin, args);
  const strict = await exec(bin, ['--strict', ...args]);
  return {
    ok: plain.code === 0,
    strictOk: strict.code === 0,
    ...(plain.code === 0 ? { out: plain.stdout.replace(/\n$/, '').replace(/"version":"3\.6\.0-experimental"/, '"version":"3.6.0"') } : {}),
    entries: parseReport(plain.stderr),
  };
}

function runFcos(c: ButaneCase, caseDir: string): Side {
  let text: string;
  try {
    text = decodeButane(Buffer.from(c.text, 'utf8'));
  } catch (e) {
    return { ok: false, strictOk: false, entries: [{ severity: 'error', path: '', message: (e as Error).message }] };
  }
  const r = translateAndValidate(text, { filesDir: c.filesDir ? nodeFilesDir(join(caseDir, 'files')) : undefined, raw: c.raw });
  const ok = r.output !== undefined && !r.findings.some((f) => f.severity === 'error');
  const entries = r.findings.map((f) => ({ severity: f.severity, path: f.path === '$' ? '' : f.path, ...(f.line !== undefined ? { line: f.line } : {}), message: f.message }));
  return { ok, strictOk: ok && entries.length === 0, ...(ok ? { out: r.output } : {}), entries };
}

/**
 * The output (Ignition JSON, or an openshift MachineConfig in YAML) with every data URL replaced by its decoded (and
 * gunzipped) contents, and gzip compression by ''.
 */
export function decodedOutput(text: string): unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const o = { ...(v as Record<string, unknown>) };
    if (typeof o.source === 'string' && o.source.startsWith('data:')) {
      const m = /^data:([^,]*),(.*)$/s.exec(o.source);
      if (m) {
        let data = m[1]!.endsWith(';base64') ? Buffer.from(m[2]!, 'base64') : Buffer.from(unescapeDataUrl(m[2]!));
        if (o.compression === 'gzip') {
          try {
            data = gunzipSync(data);
            o.compression = '';
          } catch {
            /* the user's own compressed contents: compared as they are */
          }
        }
        o.source = `decoded:${data.toString('base64')}`;
      }
    }
    for (const k of Object.keys(o)) o[k] = walk(o[k]);
    return o;
  };
  return walk(text.startsWith('{') ? JSON.parse(text) : yaml.load(text));
}

function unescapeDataUrl(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Uint8Array.from(out);
}

/** Where two texts first differ, with some context. */
function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}: butane ${JSON.stringify(a.slice(Math.max(0, i - 30), i + 40))} vs fcos ${JSON.stringify(b.slice(Math.max(0, i - 30), i + 40))}`;
}

const firstError = (s: Side) => s.entries.find((e) => e.severity === 'error');
const warningPaths = (s: Side) =>
  s.entries
    .filter((e) => e.severity === 'warning')
    .map((e) => e.path)
    .sort();
const gzipped = (out: string) => out.includes('"compression":"gzip"') || /^\s*compression: gzip$/m.test(out);

function disagreements(o: Outcome): Kind[] {
  const kinds: Kind[] = [];
  if (o.up.ok !== o.fcos.ok) kinds.push('verdict');
  if (o.up.strictOk !== o.fcos.strictOk) kinds.push('strict');
  if (!o.up.ok && !o.fcos.ok && (firstError(o.up)?.path ?? '') !== (firstError(o.fcos)?.path ?? '')) kinds.push('path');
  if (o.up.ok && o.fcos.ok && JSON.stringify(warningPaths(o.up)) !== JSON.stringify(warningPaths(o.fcos))) kinds.push('warnings');
  if (o.up.ok && o.fcos.ok && JSON.stringify(decodedOutput(o.up.out!)) !== JSON.stringify(decodedOutput(o.fcos.out!))) kinds.push('output');
  return kinds;
}

describe('differential: fcos butane vs Butane v0.25.1', () => {
  const cases = generateButaneCases(CASES, PRNG_SEED);
  let outcomes: Outcome[] = [];
  let buildError: unknown;

  beforeAll(async () => {
    let bin: string;
    try {
      bin = await upstreamTool('butane');
    } catch (e) {
      buildError = e;
      return;
    }
    outcomes = await pool(cases, 2, async (c, i) => {
      const caseDir = join(dir, `case${String(i).padStart(4, '0')}`);
      writeFilesDir(c, join(caseDir, 'files'));
      const up = await runUpstream(bin, c, caseDir);
      return { c, up, fcos: runFcos(c, caseDir) };
    });
  }, 600_000);

  it('covers every variant and version, each with valid and invalid cases', () => {
    if (buildError) throw buildError;
    for (const t of TARGETS) {
      const os = outcomes.filter((o) => o.c.variant === t.variant && o.c.version === t.version);
      expect(os.length, `${t.variant} ${t.version} cases`).toBeGreaterThanOrEqual(5);
      expect(os.some((o) => o.up.ok), `${t.variant} ${t.version} has a valid case`).toBe(true);
      expect(os.some((o) => !o.up.ok), `${t.variant} ${t.version} has an invalid case`).toBe(true);
    }
    const valid = outcomes.filter((o) => o.up.ok).length / outcomes.length;
    expect(valid).toBeGreaterThanOrEqual(0.35);
    expect(valid).toBeLessThanOrEqual(0.75);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
  });

  it('agrees on ≥ 99.5 % of verdicts, ≥ 98 % of first-error paths, ≥ 98 % byte-identical uncompressed output; every disagreement is known', () => {
    if (buildError) throw buildError;
    const pct = (a: number, b: number) => (b === 0 ? 'n/a' : `${((100 * a) / b).toFixed(2)} %`);
    const frac = (a: number, b: number) => `${a}/${b} (${pct(a, b)})`;
    const stats = (os: Outcome[]) => {
      const bothInvalid = os.filter((o) => !o.up.ok && !o.fcos.ok);
      const bothValid = os.filter((o) => o.up.ok && o.fcos.ok);
      const uncompressed = bothValid.filter((o) => !gzipped(o.up.out!) && !gzipped(o.fcos.out!));
      return {
        n: os.length,
        verdict: os.filter((o) => o.up.ok === o.fcos.ok).length,
        strict: os.filter((o) => o.up.strictOk === o.fcos.strictOk).length,
        bothInvalid: bothInvalid.length,
        path: bothInvalid.filter((o) => (firstError(o.up)?.path ?? '') === (firstError(o.fcos)?.path ?? '')).length,
        line: bothInvalid.filter((o) => firstError(o.up)?.line === firstError(o.fcos)?.line).length,
        message: bothInvalid.filter((o) => firstError(o.up)?.message === firstError(o.fcos)?.message).length,
        bothValid: bothValid.length,
        warnings: bothValid.filter((o) => JSON.stringify(warningPaths(o.up)) === JSON.stringify(warningPaths(o.fcos))).length,
        decoded: bothValid.filter((o) => JSON.stringify(decodedOutput(o.up.out!)) === JSON.stringify(decodedOutput(o.fcos.out!))).length,
        uncompressed: uncompressed.length,
        bytes: uncompressed.filter((o) => o.up.out === o.fcos.out).length,
      };
    };
    const groups: [string, Outcome[]][] = [
      ...TARGETS.map((t) => [`${t.variant} ${t.version}`, outcomes.filter((o) => o.c.variant === t.variant && o.c.version === t.version)] as [string, Outcome[]]),
      ['all', outcomes],
    ];
    const header = ['target', 'cases', 'verdict', '--strict', 'first-error path', 'line (info)', 'message (info)', 'warning paths', 'output decoded', 'uncompressed bytes'];
    const rows = groups.map(([name, os]) => {
      const s = stats(os);
      return [name, String(s.n), frac(s.verdict, s.n), frac(s.strict, s.n), frac(s.path, s.bothInvalid), frac(s.line, s.bothInvalid), frac(s.message, s.bothInvalid), frac(s.warnings, s.bothValid), frac(s.decoded, s.bothValid), frac(s.bytes, s.uncompressed)];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => '  ' + r.map((x, i) => x.padEnd(widths[i]!)).join('  ');
    console.log([`fcos butane vs Butane v0.25.1: ${outcomes.length} cases (seed ${PRNG_SEED})`, line(header), ...rows.map(line)].join('\n'));

    const notIdentical = outcomes.filter((o) => o.up.ok && o.fcos.ok && !gzipped(o.up.out!) && !gzipped(o.fcos.out!) && o.up.out !== o.fcos.out);
    if (notIdentical.length) console.log(['uncompressed output not byte-identical:', ...notIdentical.map((o) => `  ${o.c.id}: ${firstDifference(o.up.out!, o.fcos.out!)}`)].join('\n'));
    const show = (s: Side) => (s.ok ? `ok ${s.entries.map((e) => `[${e.severity} ${e.path}: ${e.message}]`).join(' ')}` : s.entries.map((e) => `[${e.severity} ${e.path || '(no path)'}${e.line ? ` l${e.line}` : ''}: ${e.message}]`).join(' '));
    const describeOne = (o: Outcome, kinds: Kind[]) =>
      [
        `${o.c.id} (${kinds.join(', ')})`,
        `  butane: ${show(o.up)}`,
        `  fcos:   ${show(o.fcos)}`,
        ...(kinds.includes('output') ? [`  butane out: ${o.up.out!.slice(0, 600)}`, `  fcos out:   ${o.fcos.out!.slice(0, 600)}`] : []),
        `  config: ${JSON.stringify(o.c.text.slice(0, 700))}`,
      ].join('\n');
    const used = new Set<string>();
    const unexplained: string[] = [];
    const explained: string[] = [];
    for (const o of outcomes) {
      const kinds = disagreements(o);
      if (kinds.length === 0) continue;
      const open = kinds.filter((k) => {
        const known = KNOWN_DIFFERENCES.find((d) => d.match(o, k));
        if (known) used.add(known.name);
        return !known;
      });
      if (open.length > 0) unexplained.push(describeOne(o, open));
      else explained.push(`${o.c.id}: ${kinds.join(', ')}`);
    }
    if (process.env.FCOS_BUTANE_DIFF_LINES) {
      const lineDiff = outcomes.filter((o) => !o.up.ok && !o.fcos.ok && firstError(o.up)?.line !== firstError(o.fcos)?.line);
      console.log(['first-error line differs:', ...lineDiff.map((o) => `  ${o.c.id}: butane ${JSON.stringify(firstError(o.up))} fcos ${JSON.stringify(firstError(o.fcos))}`)].join('\n'));
    }
    if (explained.length) console.log(['known differences seen:', ...explained.map((x) => `  ${x}`)].join('\n'));
    if (unexplained.length) console.log(['unexplained disagreements:', ...unexplained].join('\n'));
    expect(unexplained, 'unexplained disagreements').toEqual([]);
    expect(
      KNOWN_DIFFERENCES.filter((d) => !d.rare && !used.has(d.name)).map((d) => d.name),
      'known differences that explain no case',
    ).toEqual([]);

    // The agreement rates leave out the cases whose only disagreements the version rewrite made (counted above).
    const artifacts = new Set(
      outcomes.filter((o) => {
        const kinds = disagreements(o);
        return kinds.length > 0 && kinds.every((k) => KNOWN_DIFFERENCES.some((d) => d.artifact && d.match(o, k)));
      }),
    );
    const all = stats(outcomes.filter((o) => !artifacts.has(o)));
    console.log(`agreement rates over ${all.n} cases (${artifacts.size} left out: disagreements made by the version rewrite only)`);
    expect(all.verdict / all.n, 'verdict agreement').toBeGreaterThanOrEqual(0.995);
    expect(all.strict / all.n, '--strict verdict agreement').toBeGreaterThanOrEqual(0.995);
    expect(all.path / all.bothInvalid, 'first-error path agreement').toBeGreaterThanOrEqual(0.98);
    expect(all.bytes / all.uncompressed, 'byte-identical uncompressed output').toBeGreaterThanOrEqual(0.98);
    expect(all.uncompressed, 'uncompressed outputs compared').toBeGreaterThanOrEqual(100);
  });
});
