/**
 * Seeded fuzzing of the two input parsers users feed by hand (issue 15, "Done when"): Ignition configs
 * (validateConfig) and Butane configs (decode + translate + validate), with garbage and with mutations of the
 * upstream documentation examples. In process for speed, plus a few cases through bin/fcos.
 *
 * A case fails on any exception other than the typed user error, on a stack trace in the CLI's output, on an exit
 * status other than 0/1, and when it takes longer than 2 s (of CPU time, in process). Deterministic: the seed is fixed (FCOS_FUZZ_SEED
 * overrides it, FCOS_FUZZ_CASES scales the in-process count) and a failure names the case to replay
 * (FCOS_FUZZ_DUMP=DIR writes the inputs of failing cases there).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../ignition/validate.js';
import { decodeButane, translateButaneFile } from '../../ignition/butane/index.js';
import { UserError } from '../../lib/errors.js';
import { REPO, referencePath } from './ignition-helpers.js';
import { mulberry32 } from '../differential/generate.js';

const SEED = Number(process.env.FCOS_FUZZ_SEED ?? 0x15f00d);
const CASES = Number(process.env.FCOS_FUZZ_CASES ?? 2000);
const SLOW_MS = 2000;
const BUTANE_DOCS = referencePath(['ignition', 'doc-examples', 'butane']);
const DOC_EXAMPLES = referencePath(['ignition', 'doc-examples', 'ignition']);
const FILES_DIR = join(REPO, 'test', 'fixtures', 'butane', 'files');

/** The differential generators' mulberry32 (small, fast, deterministic), with integer and pick helpers. */
function prng(seed: number) {
  const next = mulberry32(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const readDir = (d: string, ext: string) =>
  readdirSync(d)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => readFileSync(join(d, f)));
const IGN = readDir(DOC_EXAMPLES, '.ign');
const BU = readDir(BUTANE_DOCS, '.bu');

const JSON_TOKENS = ['{', '}', '[', ']', '"', ':', ',', 'null', 'true', 'false', '-0', '1e999', '0x1', '"\\u0000"', '"\\ud800"', '\\', ' ', '\n', '"ignition"', '"version"', '"3.4.0"', '"storage"', '"files"', '"path"', '"/etc/x"', '"source"', '"data:,x"', '"mode"', '420', '"systemd"', '"units"', '"passwd"', '"users"', '"name"', '"links"', '"target"', '"filesystems"', '"device"', '"format"', '"/dev/sda"'];
const YAML_TOKENS = ['- ', ': ', '&a ', '*a', '!!str ', '!!binary ', '!!int ', '<<: ', '|', '>-', '#', "'", '"', '\n', '  ', '\t', '{', '}', '[', ']', '? ', '---\n', '...\n', '%YAML 1.2\n', '0644', '0o755', '0x1F', '.inf', '~', 'null', 'yes', '2001-12-14', 'variant: fcos', 'version: 1.5.0', 'version: 1.8.0-experimental', 'storage:', 'files:', 'path: /x', 'inline: x', 'local: x', 'trees:', 'mode: 0600', 'systemd:', 'units:', 'name: a.service', 'contents: |', 'passwd:', 'users:', 'ssh_authorized_keys:', 'kernel_arguments:', 'should_exist:', 'boot_device:', 'luks:', 'mirror:', 'devices:', 'openshift:', 'variant: openshift', 'version: 4.14.0', 'metadata:', 'name: x', 'labels:'];

function randomBytes(r: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
}

/** One random mutation of some bytes. */
function mutateBytes(r: Rng, input: Buffer, tokens: readonly string[], corpus: readonly Buffer[]): Buffer {
  const b = Buffer.from(input);
  const at = () => r.int(b.length + 1);
  switch (r.int(11)) {
    case 0: {
      // flip a few bits
      for (let k = 0, n = 1 + r.int(4); k < n && b.length; k++) b[r.int(b.length)]! ^= 1 << r.int(8);
      return b;
    }
    case 1: {
      const i = at();
      return Buffer.concat([b.subarray(0, i), randomBytes(r, 1 + r.int(8)), b.subarray(i)]);
    }
    case 2: {
      const i = at();
      return Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + 1 + r.int(40)))]);
    }
    case 3: {
      const i = at();
      return Buffer.concat([b.subarray(0, i), Buffer.from(r.pick(tokens)), b.subarray(i)]);
    }
    case 4: {
      // duplicate a chunk, sometimes many times
      const i = at();
      const j = Math.min(b.length, i + 1 + r.int(200));
      const times = r.next() < 0.2 ? 50 + r.int(500) : 2;
      return Buffer.concat([b.subarray(0, j), ...Array<Buffer>(times - 1).fill(b.subarray(i, j)), b.subarray(j)]);
    }
    case 5:
      return b.subarray(0, at());
    case 6: {
      // splice with another document
      const o = r.pick(corpus);
      return Buffer.concat([b.subarray(0, at()), o.subarray(r.int(o.length + 1))]);
    }
    case 7: {
      // deep nesting
      const i = at();
      const n = 1 + r.int(3000);
      const [open, close] = r.pick([['[', ']'], ['{"a":', '}'], ['- ', ''], ['[', '']] as const);
      return Buffer.concat([b.subarray(0, i), Buffer.from(open.repeat(n) + close.repeat(n)), b.subarray(i)]);
    }
    case 8: {
      // a number made huge, negative or fractional
      const s = b.toString('latin1');
      const m = [...s.matchAll(/\d+/g)];
      if (!m.length) return b;
      const x = r.pick(m);
      const rep = r.pick(['-1', '0', '4294967296', '1e308', '99999999999999999999999', '0.5', '-0', '0777', 'NaN']);
      return Buffer.from(s.slice(0, x.index) + rep + s.slice(x.index! + x[0].length), 'latin1');
    }
    case 9: {
      // invalid or unusual UTF-8 / control characters
      const i = at();
      const bad = r.pick([[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xef, 0xbb, 0xbf], [0x00], [0x1b], [0x0d], [0xe2, 0x80, 0xa8], [0xf4, 0x90, 0x80, 0x80]]);
      return Buffer.concat([b.subarray(0, i), Buffer.from(bad), b.subarray(i)]);
    }
    default: {
      // swap two chunks
      const i = r.int(b.length + 1);
      const j = r.int(b.length + 1);
      const [x, y] = i < j ? [i, j] : [j, i];
      const k = r.int(y - x + 1) + x;
      return Buffer.concat([b.subarray(0, x), b.subarray(k, y), b.subarray(x, k), b.subarray(y)]);
    }
  }
}

const ODD_VALUES: unknown[] = [null, true, 0, -1, 0.5, 2 ** 53, '', 'x', '/', '../..', 'data:,', 'http://[::1', '\u0000', 'é'.repeat(1000), [], [null], {}, { a: 1 }, 'x'.repeat(70_000)];

/**
 * Replace, delete or add one value somewhere in a parsed document. With `refs` (YAML), also make a node refer to
 * an ancestor or appear twice: js-yaml dumps those as anchors and aliases (a cycle is an alias inside its anchor).
 */
function mutateValue(r: Rng, doc: unknown, refs = false): unknown {
  if (doc === null || typeof doc !== 'object') return r.pick(ODD_VALUES);
  const copy = structuredClone(doc) as Record<string, unknown> | unknown[];
  // walk down a random path
  let node: Record<string, unknown> | unknown[] = copy;
  const path: (Record<string, unknown> | unknown[])[] = [copy];
  for (let depth = 0; depth < 8; depth++) {
    const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (!keys.length) break;
    const k = r.pick(keys as (string | number)[]);
    const child = (node as Record<string | number, unknown>)[k];
    if (child !== null && typeof child === 'object' && r.next() < 0.7) {
      node = child as Record<string, unknown> | unknown[];
      path.push(node);
      continue;
    }
    const op = r.int(refs ? 5 : 4);
    if (op === 4) {
      (node as Record<string | number, unknown>)[k] = r.pick(path);
      break;
    }
    if (op === 0) (node as Record<string | number, unknown>)[k] = r.pick(ODD_VALUES);
    else if (op === 1) {
      if (Array.isArray(node)) node.splice(k as number, 1);
      else delete node[k as string];
    } else if (op === 2) {
      if (Array.isArray(node)) node.push(structuredClone(child));
      else node[`${String(k)}_${r.int(3)}`] = r.pick(ODD_VALUES);
    } else (node as Record<string | number, unknown>)[k] = Array.isArray(child) ? child.concat(child) : [child, child];
    break;
  }
  return copy;
}

interface Failure {
  kind: 'ignition' | 'butane';
  index: number;
  what: string;
}

function ignitionCase(r: Rng, i: number): Buffer {
  const base = r.pick(IGN);
  switch (i % 5) {
    case 0:
      return randomBytes(r, r.int(2000));
    case 1:
      return Buffer.from(Array.from({ length: 1 + r.int(60) }, () => r.pick(JSON_TOKENS)).join(''));
    case 2:
    case 3: {
      let b: Buffer = base;
      for (let k = 0, n = 1 + r.int(4); k < n; k++) b = mutateBytes(r, b, JSON_TOKENS, IGN);
      return b;
    }
    default:
      return Buffer.from(JSON.stringify(mutateValue(r, JSON.parse(base.toString('utf8')))));
  }
}

function butaneCase(r: Rng, i: number): Buffer {
  const base = r.pick(BU);
  switch (i % 5) {
    case 0:
      return r.next() < 0.5 ? randomBytes(r, r.int(2000)) : Buffer.from('variant: fcos\nversion: 1.5.0\n' + randomBytes(r, r.int(500)).toString('latin1'), 'latin1');
    case 1:
      return Buffer.from(Array.from({ length: 1 + r.int(60) }, () => r.pick(YAML_TOKENS)).join(r.pick(['', ' ', '\n', '\n  '])));
    case 2:
    case 3: {
      let b: Buffer = base;
      for (let k = 0, n = 1 + r.int(4); k < n; k++) b = mutateBytes(r, b, YAML_TOKENS, BU);
      return b;
    }
    default: {
      let doc: unknown;
      try {
        doc = yaml.load(base.toString('utf8'));
      } catch {
        return base;
      }
      return Buffer.from(yaml.dump(mutateValue(r, doc, true), { lineWidth: -1 }));
    }
  }
}

/** Run one input; returns a failure description or undefined. */
type Outcome = { ok: boolean } | { problem: string };
async function runIgnition(input: Buffer): Promise<Outcome> {
  try {
    const res = validateConfig(input);
    if (!Array.isArray(res.findings)) return { problem: 'no findings array' };
    return { ok: !res.findings.some((f) => f.severity === 'error') };
  } catch (e) {
    return { problem: `threw ${(e as Error).name}: ${(e as Error).message}` };
  }
}
async function runButane(input: Buffer): Promise<Outcome> {
  try {
    const text = decodeButane(input);
    await translateButaneFile({ input: text, filesDir: FILES_DIR });
    return { ok: true };
  } catch (e) {
    if (e instanceof UserError && e.constructor === UserError) return { ok: false };
    return { problem: `threw ${(e as Error).name}: ${(e as Error).message}` };
  }
}

async function fuzz(kind: 'ignition' | 'butane', n: number, seed: number): Promise<{ failures: Failure[]; slowest: number; valid: number }> {
  const r = prng(seed);
  const failures: Failure[] = [];
  let slowest = 0;
  let valid = 0;
  // Warm up (lazily compiled schemas) outside the timing.
  for (const b of kind === 'ignition' ? IGN.slice(0, 3) : BU.slice(0, 3)) await (kind === 'ignition' ? runIgnition(b) : runButane(b));
  for (let i = 0; i < n; i++) {
    const input = kind === 'ignition' ? ignitionCase(r, i) : butaneCase(r, i);
    // CPU time, not wall time: the unit suite shares two cores with other test files (and VMs).
    const t0 = process.cpuUsage();
    const out = kind === 'ignition' ? await runIgnition(input) : await runButane(input);
    const used = process.cpuUsage(t0);
    const ms = (used.user + used.system) / 1000;
    slowest = Math.max(slowest, ms);
    if ('problem' in out) failures.push({ kind, index: i, what: out.problem.slice(0, 300) });
    else if (out.ok) valid++;
    if (process.env.FCOS_FUZZ_DUMP && ('problem' in out || ms > SLOW_MS)) writeFileSync(join(process.env.FCOS_FUZZ_DUMP, `${kind}-${i}`), input);
    if (ms > SLOW_MS) failures.push({ kind, index: i, what: `took ${ms.toFixed(0)} ms of CPU (${input.length} bytes)` });
  }
  return { failures, slowest, valid };
}

const tmp = mkdtempSync(join(tmpdir(), 'fcos-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe(`fuzz (seed ${SEED})`, () => {
  it('has its corpus', () => {
    expect(IGN.length).toBeGreaterThan(20);
    expect(BU.length).toBeGreaterThan(50);
  });
  it(`Ignition: ${CASES} garbage and mutated configs, only findings, none slower than ${SLOW_MS} ms`, async () => {
    const { failures, valid } = await fuzz('ignition', CASES, SEED);
    expect(failures).toEqual([]);
    // Not all of it is rejected at the first byte: the mutations reach the validator's rules.
    expect(valid).toBeGreaterThan(CASES / 20);
  }, 120_000);
  it(`Butane: ${CASES} garbage and mutated configs, only user errors, none slower than ${SLOW_MS} ms`, async () => {
    const { failures, valid } = await fuzz('butane', CASES, SEED + 1);
    expect(failures).toEqual([]);
    // Not all of it is rejected by the YAML parser: the mutations reach the translator.
    expect(valid).toBeGreaterThan(CASES / 20);
  }, 120_000);

  it('25 cases through bin/fcos: exit status 0 or 1, no stack trace', async () => {
    if (!existsSync(join(REPO, 'dist', 'cli', 'commands', 'validate.js'))) throw new Error('the CLI is not built: run `make build` first');
    const r = prng(SEED + 2);
    const fcos = join(REPO, 'bin', 'fcos');
    const ign = Array.from({ length: 15 }, (_, i) => {
      const p = join(tmp, `c${i}.ign`);
      writeFileSync(p, ignitionCase(r, i));
      return p;
    });
    const bu = Array.from({ length: 10 }, (_, i) => {
      const p = join(tmp, `c${i}.bu`);
      writeFileSync(p, butaneCase(r, i));
      return p;
    });
    // validate takes many files: two runs (one with --json); butane one file per run, through stdin for some.
    const jobs: { label: string; args: string[]; stdin?: string }[] = [
      { label: 'validate 0..7', args: ['validate', ...ign.slice(0, 8)] },
      { label: 'validate --json 8..14', args: ['validate', '--json', ...ign.slice(8)] },
    ];
    bu.forEach((p, i) => jobs.push(i % 3 === 0 ? { label: `butane <${p}`, args: ['butane', '-d', FILES_DIR, '-'], stdin: p } : { label: `butane ${p}`, args: ['butane', '-d', FILES_DIR, ...(i % 3 === 1 ? ['--strict'] : []), p] }));
    const outcomes: string[] = [];
    const runOne = (j: (typeof jobs)[number]) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn(fcos, j.args, { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
        p.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
        p.on('error', reject);
        p.on('close', (code, signal) => {
          if (code !== 0 && code !== 1) outcomes.push(`${j.label}: exit ${code ?? signal}: ${out.slice(0, 300)}`);
          if (/^\s+at .+:\d+:\d+\)?$/m.test(out)) outcomes.push(`${j.label}: stack trace: ${out.slice(0, 300)}`);
          resolve();
        });
        p.stdin.end(j.stdin ? readFileSync(j.stdin) : '');
      });
    // Two at a time (two cores).
    const queue = [...jobs];
    await Promise.all([0, 1].map(async () => {
      for (let j = queue.shift(); j; j = queue.shift()) await runOne(j);
    }));
    expect(outcomes).toEqual([]);
  }, 120_000);
});
