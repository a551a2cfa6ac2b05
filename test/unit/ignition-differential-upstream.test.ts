/**
 * Differential test of `fcos validate` against the real upstream `ignition-validate` v2.24.0 for spec 3.4.0–3.6.0
 * (issue #16), with the rigor of the 3.0–3.3 one (ignition-differential.test.ts, against Debian's 2.14); a second
 * suite runs that test's 3.0–3.3 corpus against v2.24.0 too, warnings included (fcos follows current upstream).
 *
 * ignition-validate v2.24.0 is built from the Go module proxy and cached by scripts/upstream-tools.sh; this test
 * fails (does not skip) when it cannot be built. It knows 3.0–3.5 stable and 3.6.0-experimental, so a 3.6.0 case is
 * given to it with the version rewritten to 3.6.0-experimental (v2.24.0's v3_6_experimental types are the 3.6.0 ones).
 *
 * Cases: test/differential/generate.ts, deterministic from a PRNG seed: the base configs of the 3.0–3.3 test lifted
 * to 3.4–3.6, seeds34() (luks with clevis/tang/tpm2/cex/keyFile/openOptions/discard, kernel arguments, template units
 * and dropins, users with ssh keys, special mode bits, links, merge sources) and the Ignition documentation examples
 * for 3.4–3.6, each with 1–2 mutations from the 3.0–3.3 set plus MUTATIONS_34 (invalid input included).
 *
 * Compared per case: the verdict, the first error's path, and the warnings (path and message, as a sorted multiset:
 * Ignition prints the unused keys of an object in Go map order). fcos's deliberate extra warnings (a `null` the
 * spec forbids, a missing required key; README "differences") are left out of the warning comparison and counted.
 * Every disagreement must be listed in KNOWN_DISAGREEMENTS with its reason.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/run.js';
import { buildCli } from './cli-helpers.js';
import { validateConfig } from '../../ignition/validate.js';
import { REPO, docExamples, firstError, pool } from './ignition-helpers.js';
import { upstreamTool } from './upstream-tools.js';
import { MUTATIONS_34, baseSeeds, docSeeds, generateCases, seeds34, type Case, type Seed } from '../differential/generate.js';

// FCOS_DIFF_SEED / FCOS_DIFF_CASES explore other case sets by hand; KNOWN_DISAGREEMENTS is for the defaults.
const PRNG_SEED = Number(process.env.FCOS_DIFF_SEED ?? 34);
const CASES = Number(process.env.FCOS_DIFF_CASES ?? 1200);
const MINORS = [4, 5, 6] as const;

/**
 * Known disagreements, keyed by case id (stable for PRNG_SEED and the seed corpus), each with its reason and the
 * upstream source line. The test fails on any disagreement not listed here, and on a listed one that no longer
 * disagrees.
 */
//
// None is known today for the default seeds (nor for PRNG seeds 1–3 with 2000 cases, after the clevis fix). Known
// differences that are not disagreements here, by design:
// - 3.6.0: fcos knows it as stable; v2.24.0 has only 3.6.0-experimental (config/v3_6_experimental/types/config.go:27
//   MaxVersion) and calls "3.6.0" an unsupported version, so cases are rewritten for it (forUpstream);
//   `3.6.0-experimental` itself is unsupported in fcos.
// - Messages of Go type errors (informational column): v2.24.0 built with Go 1.26 names embedded structs
//   (`File.storage.files.Node.path`, `File.storage.files.FileEmbedded1.mode`); fcos words them like Debian's 2.14
//   (`File.storage.files.path`), which ignition-crosscheck.test.ts compares exactly. Same path and position.
// - fcos's own warnings (FCOS_ONLY_WARNING; README differences): not compared, counted in the table.
const KNOWN_DISAGREEMENTS: Record<string, string> = {};

/** The same for the spec 3.0–3.3 corpus against v2.24.0. */
const KNOWN_DISAGREEMENTS_33: Record<string, string> = {};

/** fcos's deliberate warnings beyond Ignition (README, differences): not compared, only counted. */
const FCOS_ONLY_WARNING = /^(null is not allowed here by spec|missing required key )/;

const dir = mkdtempSync(join(tmpdir(), 'fcos-differential-34-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome {
  c: Case;
  minor: number;
  file: string;
  refValid: boolean;
  refPath?: string;
  refMessage?: string;
  refWarnings: string[];
  fcosValid: boolean;
  fcosPath?: string;
  fcosMessage?: string;
  fcosWarnings: string[];
  fcosOnlyWarnings: number;
}

/** ignition-validate's exit code and output (stdout then stderr). */
function runUpstream(bin: string, file: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(bin, [file], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

/** The warnings of ignition-validate's output as "path: message" ('' when it prints no path). */
function upstreamWarnings(out: string): string[] {
  const ws: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^warning at (?:(\$[^,]*), )?line -?\d+ col -?\d+: (.*)$/.exec(line) ?? /^warning(?: at (\$[^,:]*))?: (.*)$/.exec(line);
    if (m) ws.push(`${m[1] ?? ''}: ${m[2]}`);
  }
  return ws.sort();
}

/** The config as given to ignition-validate v2.24.0: stable 3.6.0 is its 3.6.0-experimental. */
function forUpstream(text: string): string {
  return text.replace(/("version"\s*:\s*)"3\.6\.0"/g, '$1"3.6.0-experimental"');
}


interface Suite {
  title: string;
  minors: readonly number[];
  seeds: Seed[];
  cases: Case[];
  known: Record<string, string>;
  /** Cases per spec version at least. */
  perVersion: number;
  /** Also check `bin/fcos validate --json`'s verdicts (once is enough: the 3.0–3.3 corpus is checked by the 2.14 test). */
  cli: boolean;
}

function differential(s: Suite): void {
  const { seeds, cases, minors } = s;
  const KNOWN = s.known;
  const minorOf = new Map(seeds.map((x) => [x.name, x.minor]));
  let outcomes: Outcome[] = [];
  const sub = mkdtempSync(join(dir, 'suite-'));

  describe(s.title, () => {
    let buildError: unknown;
    beforeAll(async () => {
      // When the upstream tool cannot be built, every test below fails (not skips) with the build's output.
      let bin: string;
      try {
        bin = await upstreamTool('ignition-validate');
      } catch (e) {
        buildError = e;
        return;
      }
      outcomes = await pool(cases, 2, async (c, i) => {
        const file = join(sub, `case${String(i).padStart(4, '0')}.ign`);
        const upFile = join(sub, `case${String(i).padStart(4, '0')}.upstream.ign`);
        writeFileSync(file, c.text);
        writeFileSync(upFile, forUpstream(c.text));
        const r = await runUpstream(bin, upFile);
        const theirs = firstError(r.out);
        const findings = validateConfig(c.text).findings;
        const mine = findings.find((f) => f.severity === 'error');
        const warnings = findings.filter((f) => f.severity === 'warning');
        const norm = (p: string) => (p === '$' ? '' : p);
        return {
          c,
          minor: minorOf.get(c.seed)!,
          file,
          refValid: r.code === 0,
          refPath: theirs?.path,
          refMessage: theirs?.message,
          refWarnings: upstreamWarnings(r.out),
          fcosValid: mine === undefined,
          fcosPath: mine ? norm(mine.path) : undefined,
          fcosMessage: mine?.message,
          fcosWarnings: warnings
            .filter((w) => !FCOS_ONLY_WARNING.test(w.message))
            .map((w) => `${norm(w.path)}: ${w.message}`)
            .sort(),
          fcosOnlyWarnings: warnings.filter((w) => FCOS_ONLY_WARNING.test(w.message)).length,
        };
      });
    }, 600_000);

    it(`has at least ${s.perVersion} cases per spec version, each verdict at least 25 %`, () => {
      if (buildError) throw buildError;
      for (const m of minors) {
        const os = outcomes.filter((o) => o.minor === m);
        expect(os.length, `3.${m}.0 cases`).toBeGreaterThanOrEqual(s.perVersion);
        const valid = os.filter((o) => o.refValid).length;
        expect(valid / os.length, `3.${m}.0 valid share`).toBeGreaterThanOrEqual(0.25);
        expect((os.length - valid) / os.length, `3.${m}.0 invalid share`).toBeGreaterThanOrEqual(0.25);
      }
      expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    });

    it('agrees on ≥ 99.5 % of verdicts, ≥ 98 % of first-error paths, and the warnings; every disagreement is known', () => {
      if (buildError) throw buildError;
      const verdictDiff = (os: Outcome[]) => os.filter((o) => o.refValid !== o.fcosValid);
      const bothInvalid = (os: Outcome[]) => os.filter((o) => !o.refValid && !o.fcosValid);
      const pathDiff = (os: Outcome[]) => bothInvalid(os).filter((o) => o.refPath !== o.fcosPath);
      const warnDiff = (os: Outcome[]) => os.filter((o) => JSON.stringify(o.refWarnings) !== JSON.stringify(o.fcosWarnings));
      const pct = (a: number, b: number) => (b === 0 ? 'n/a' : `${((100 * a) / b).toFixed(2)} %`);
      const frac = (a: number, b: number) => `${a}/${b} (${pct(a, b)})`;
      const groups: [string, Outcome[]][] = [...minors.map((m) => [`3.${m}.0`, outcomes.filter((o) => o.minor === m)] as [string, Outcome[]]), ['all', outcomes]];
      const header = ['spec', 'cases', 'valid', 'verdict', 'first-error path', 'warnings', 'message (info)', 'fcos-only warnings'];
      const rows = groups.map(([name, os]) => {
        const bi = bothInvalid(os);
        const msgSame = bi.filter((o) => o.refPath === o.fcosPath && o.refMessage === o.fcosMessage).length;
        return [
          name,
          String(os.length),
          pct(os.filter((o) => o.refValid).length, os.length),
          frac(os.length - verdictDiff(os).length, os.length),
          frac(bi.length - pathDiff(os).length, bi.length),
          frac(os.length - warnDiff(os).length, os.length),
          frac(msgSame, bi.length),
          String(os.reduce((n, o) => n + o.fcosOnlyWarnings, 0)),
        ];
      });
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (r: string[]) => '  ' + r.map((x, i) => x.padEnd(widths[i]!)).join('  ');
      console.log([`${s.title}: ${seeds.length} seeds, ${cases.length} cases`, line(header), ...rows.map(line)].join('\n'));

      const bi = bothInvalid(outcomes);
      const msgDiff = bi.filter((o) => o.refPath === o.fcosPath && o.refMessage !== o.fcosMessage);
      if (msgDiff.length) console.log(['same path, other message (informational):', ...msgDiff.map((o) => `  ${o.c.id}: "${o.refMessage}" vs fcos "${o.fcosMessage}"`)].join('\n'));

      const disagreements = [...new Set([...verdictDiff(outcomes), ...pathDiff(outcomes), ...warnDiff(outcomes)])];
      const describeOne = (o: Outcome) =>
        [
          o.c.id,
          `  ignition-validate: ${o.refValid ? 'valid' : `${o.refPath || '(no path)'}: ${o.refMessage}`}`,
          `  fcos:              ${o.fcosValid ? 'valid' : `${o.fcosPath || '(no path)'}: ${o.fcosMessage}`}`,
          ...(JSON.stringify(o.refWarnings) !== JSON.stringify(o.fcosWarnings) ? [`  warnings upstream: ${JSON.stringify(o.refWarnings)}`, `  warnings fcos:     ${JSON.stringify(o.fcosWarnings)}`] : []),
          `  config: ${o.c.text.slice(0, 500)}`,
        ].join('\n');
      if (disagreements.length) console.log(['disagreements:', ...disagreements.map((o) => `${describeOne(o)}\n  known: ${KNOWN[o.c.id] ?? 'NO, unexplained'}`)].join('\n'));
      const unexplained = disagreements.filter((o) => !(o.c.id in KNOWN));
      expect(unexplained.map(describeOne), 'unexplained disagreements').toEqual([]);
      const stale = Object.keys(KNOWN).filter((id) => !disagreements.some((o) => o.c.id === id));
      expect(stale, 'listed disagreements that no longer disagree').toEqual([]);

      for (const [name, os] of groups) {
        expect((os.length - verdictDiff(os).length) / os.length, `${name} verdict agreement`).toBeGreaterThanOrEqual(0.995);
        expect((bothInvalid(os).length - pathDiff(os).length) / bothInvalid(os).length, `${name} first-error path agreement`).toBeGreaterThanOrEqual(0.98);
      }
    });

    if (s.cli) it('bin/fcos validate --json gives the same verdicts as the library', async () => {
      if (buildError) throw buildError;
      await buildCli();
      // Into a file, not a pipe: fcos exits through oclif's process.exit, which cuts piped output beyond the pipe
      // buffer (about 200 KB here).
      const out = join(dir, 'cli.json');
      await run('sh', ['-c', 'f=$1; shift; exec "$@" > "$f"', 'sh', out, join(REPO, 'bin', 'fcos'), 'validate', '--json', ...outcomes.map((o) => o.file)], { allowFailure: true, timeoutMs: 120_000 });
      const results = JSON.parse(readFileSync(out, 'utf8')) as { file: string; valid: boolean }[];
      expect(results.map((x) => [x.file, x.valid])).toEqual(outcomes.map((o) => [o.file, o.fcosValid]));
    }, 120_000);
  });
}

const seeds34All = [...baseSeeds(MINORS), ...seeds34(MINORS), ...docSeeds(docExamples(), MINORS)];
differential({
  title: 'differential: fcos validate vs ignition-validate v2.24.0 (spec 3.4–3.6)',
  minors: MINORS,
  seeds: seeds34All,
  cases: generateCases(seeds34All, CASES, PRNG_SEED, MUTATIONS_34),
  known: KNOWN_DISAGREEMENTS,
  perVersion: 300,
  cli: true,
});

// The 3.0–3.3 corpus of ignition-differential.test.ts (compared there with Debian's 2.14, verdicts and paths only),
// here against current upstream, warnings included.
const seeds33 = [...baseSeeds(), ...docSeeds(docExamples())];
differential({
  title: 'differential: fcos validate vs ignition-validate v2.24.0 (spec 3.0–3.3)',
  minors: [0, 1, 2, 3],
  seeds: seeds33,
  cases: generateCases(seeds33, Number(process.env.FCOS_DIFF_CASES_33 ?? 600), Number(process.env.FCOS_DIFF_SEED_33 ?? 12)),
  known: KNOWN_DISAGREEMENTS_33,
  perVersion: 100,
  cli: false,
});
