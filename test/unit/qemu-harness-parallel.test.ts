/**
 * runScenarios with `parallel`, end to end through the real harness (image, boot, SSH, the scenario's checks, the
 * machine checks, VM stop, result.json) against fakes first on PATH: qemu-system-x86_64 (writes its serial console
 * and sleeps), qemu-img, ssh (answers the machine checks) and ssh-keygen. The scenarios are baseline ones with an
 * injected baseline, so no image is built and no VM boots.
 */
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { runScenarios, type Scenario, type TestReport } from '../../qemu/harness.js';
import type { BaselineImage } from '../../qemu/baseline.js';
import { BugError, UserError } from '../../lib/errors.js';

const FAKES: Record<string, string> = {
  'qemu-system-x86_64': `#!/bin/sh
for a in "$@"; do
  case "$a" in file,id=serial0,path=*) p=\${a#file,id=serial0,path=}; p=\${p%,append=on};; esac
done
echo "fake qemu: booting" >> "$p"
exec sleep 60
`,
  // qemu-img create ... OVERLAY: the overlay is the last argument.
  'qemu-img': `#!/bin/sh
for a in "$@"; do last=$a; done
: > "$last"
`,
  // The remote command is the last argument; the machine checks want "running" and no failed unit.
  ssh: `#!/bin/sh
for a in "$@"; do cmd=$a; done
case "$cmd" in
  *is-system-running*) echo running ;;
  *journalctl*) echo "fake journal" ;;
esac
exit 0
`,
  'ssh-keygen': `#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = -f ] && f=$2; shift; done
echo "fake private key" > "$f"
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake fcos-test" > "$f.pub"
`,
};

let dir: string;
let runs = 0;
/** The harness's log lines (stderr), kept here instead of printed. */
let logged: string[] = [];
let stderr: MockInstance;
const savedPath = process.env.PATH;
const savedAccel = process.env.FCOS_ACCEL;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fcos-par-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const [name, text] of Object.entries(FAKES)) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  const base = join(dir, 'baseline');
  mkdirSync(base);
  for (const f of ['vmlinuz', 'initrd.img', 'disk.raw', 'id_ed25519']) writeFileSync(join(base, f), '');
  writeFileSync(join(base, 'id_ed25519.pub'), 'ssh-ed25519 AAAAbaseline fcos-baseline\n');
  process.env.PATH = `${bin}:${savedPath}`;
  process.env.FCOS_ACCEL = 'tcg';
  stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    logged.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
});
afterAll(() => {
  stderr.mockRestore();
  process.env.PATH = savedPath;
  if (savedAccel === undefined) delete process.env.FCOS_ACCEL;
  else process.env.FCOS_ACCEL = savedAccel;
});

function baselineImage(): BaselineImage {
  const b = join(dir, 'baseline');
  return { dir: b, kernel: join(b, 'vmlinuz'), initrd: join(b, 'initrd.img'), disk: join(b, 'disk.raw'), diskFormat: 'raw', sshKey: join(b, 'id_ed25519'), append: 'console=ttyS0' };
}

function fake(name: string, run: Scenario['run'], timeoutMin?: number): Scenario {
  return { name, description: `fake ${name}`, needs: { image: 'baseline' }, boots: 1, ...(timeoutMin ? { timeoutMin } : {}), run };
}

function harness(scenarios: Scenario[], parallel: number | undefined, baseline: () => Promise<BaselineImage> = async () => baselineImage()): Promise<TestReport> {
  return runScenarios({ scenarios, buildsDir: join(dir, 'no-builds'), outRoot: join(dir, `out-${++runs}`), baseline, ...(parallel ? { parallel } : {}) });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two scenarios, each waiting in run() for the other to have started: both pass only when they run at once. */
function barrierPair(events: string[], timeoutMin: number): Scenario[] {
  let startedA!: () => void;
  let startedB!: () => void;
  const aStarted = new Promise<void>((r) => (startedA = r));
  const bStarted = new Promise<void>((r) => (startedB = r));
  return [
    fake('a', async () => {
      events.push('a start');
      startedA();
      await bStarted;
      await sleep(400); // a ends after b: the report still lists a first
      events.push('a end');
    }, timeoutMin),
    fake('b', async () => {
      events.push('b start');
      startedB();
      await aStarted;
      events.push('b end');
    }, timeoutMin),
  ];
}

const failedChecks = (r: TestReport) => r.scenarios.flatMap((s) => s.checks.filter((c) => !c.ok).map((c) => `${s.name}: ${c.name}: ${c.error}`));

describe('runScenarios --parallel (fake QEMU and SSH)', () => {
  it('parallel 2 runs two scenarios at once (each waits for the other to start) and reports them in the given order', async () => {
    const events: string[] = [];
    logged = [];
    const r = await harness(barrierPair(events, 0.5), 2);
    expect(failedChecks(r)).toEqual([]);
    expect(r).toMatchObject({ ok: true, passed: 2, failed: 0 });
    expect(r.scenarios.map((s) => s.name)).toEqual(['a', 'b']);
    // b ended first, yet the report is in the given order.
    expect(events.indexOf('b end')).toBeLessThan(events.indexOf('a end'));
    for (const s of r.scenarios) {
      expect(s.boots).toBe(1);
      expect(s.checks.map((c) => c.name)).toEqual(['boot and reach SSH', 'scenario checks finished in time', 'system is running (no failed units)', 'console shows no failure']);
      // Each scenario in its own directory, with its own result.json.
      expect(s.dir.endsWith(`/${s.name}`)).toBe(true);
      expect(JSON.parse(readFileSync(join(s.dir, 'result.json'), 'utf8'))).toMatchObject({ name: s.name, ok: true });
      expect(readFileSync(join(s.dir, 'console.txt'), 'utf8')).toContain('fake qemu: booting');
    }
    // Interleaved log lines say whose they are.
    const checkLines = logged.filter((l) => /\b(PASS|FAIL) /.test(l));
    expect(checkLines).toHaveLength(10);
    for (const l of checkLines) expect(l).toMatch(/^\[(a|b)\] /);
    expect(logged).toContain('[a] ==> scenario a: fake a');
    // The run's key was made once, before the scenarios, where they all find it.
    expect(existsSync(join(dirname(r.scenarios[0]!.dir), '.ssh', 'id_ed25519.pub'))).toBe(true);
  });

  it('parallel 1 (the default) runs them one after the other: the same pair then fails, a waiting for b in vain', async () => {
    const events: string[] = [];
    logged = [];
    const r = await harness(barrierPair(events, 0.05), undefined);
    expect(r.scenarios.map((s) => s.name)).toEqual(['a', 'b']);
    expect(r).toMatchObject({ ok: false, passed: 1, failed: 1 });
    expect(failedChecks(r)).toEqual([expect.stringMatching(/^a: scenario checks finished in time: scenario a timed out after 0.05 min/)]);
    // b started only after a had given up.
    expect(events.slice(0, 2)).toEqual(['a start', 'b start']);
    expect(r.scenarios[1]!.ok).toBe(true);
    // One at a time, the lines are as before (no prefix).
    expect(logged).toContain('==> scenario a: fake a');
    expect(logged.some((l) => l.startsWith('    PASS boot and reach SSH ('))).toBe(true);
  });

  it('parallel 1 keeps start/end order; parallel 2 never runs more than 2 of 4 at once; results stay in the given order', async () => {
    const seq: string[] = [];
    const timed = (name: string, log: string[], ms: number) =>
      fake(name, async () => {
        log.push(`${name} start`);
        await sleep(ms);
        log.push(`${name} end`);
      });
    const one = await harness([timed('x', seq, 200), timed('y', seq, 10)], 1);
    expect(one.ok).toBe(true);
    expect(seq).toEqual(['x start', 'x end', 'y start', 'y end']);

    let now = 0;
    let most = 0;
    const counted = (name: string, ms: number) =>
      fake(name, async () => {
        most = Math.max(most, ++now);
        await sleep(ms);
        now--;
      });
    const two = await harness([counted('p', 600), counted('q', 100), counted('r', 100), counted('s', 100)], 2);
    expect(failedChecks(two)).toEqual([]);
    expect(two.scenarios.map((s) => s.name)).toEqual(['p', 'q', 'r', 's']);
    expect(most).toBe(2);
  });

  it('builds the baseline for one scenario at a time', async () => {
    let building = 0;
    let most = 0;
    let calls = 0;
    const baseline = async () => {
      calls++;
      most = Math.max(most, ++building);
      await sleep(300);
      building--;
      return baselineImage();
    };
    const r = await harness([fake('m', async () => undefined), fake('n', async () => undefined)], 2, baseline);
    expect(failedChecks(r)).toEqual([]);
    expect(calls).toBe(2);
    expect(most).toBe(1);
  });

  it('boots every scenario of a run from the build that was latest when the first one started', async () => {
    // builds/latest moves to a build without images while the run goes on (what `upgrade`'s composes do).
    const b = join(dir, 'builds-pin');
    for (const v of ['1.0', '2.0']) mkdirSync(join(b, v), { recursive: true });
    writeFileSync(join(b, '1.0', 'img.qcow2'), '');
    writeFileSync(join(b, '1.0', 'meta.json'), JSON.stringify({ buildid: '1.0', images: { qemu: { path: 'img.qcow2', sha256: 'x', size: 0 } } }));
    writeFileSync(join(b, '2.0', 'meta.json'), JSON.stringify({ buildid: '2.0' }));
    symlinkSync('1.0', join(b, 'latest'));
    const fcos = (name: string, run: Scenario['run']): Scenario => ({ name, description: name, needs: { image: 'fcos' }, boots: 1, run });
    const r = await runScenarios({
      scenarios: [
        fcos('composes', async () => {
          rmSync(join(b, 'latest'));
          symlinkSync('2.0', join(b, 'latest'));
        }),
        fcos('after', async () => undefined),
      ],
      buildsDir: b,
      outRoot: join(dir, `out-${++runs}`),
    });
    expect(failedChecks(r)).toEqual([]);
    expect(r.scenarios.map((s) => s.image)).toEqual([join(b, '1.0', 'img.qcow2'), join(b, '1.0', 'img.qcow2')]);
  });

  it('refuses a scenario named twice when they would run at once, and a parallel below 1', async () => {
    const s = fake('twice', async () => undefined);
    await expect(harness([s, s], 2)).rejects.toThrow(UserError);
    await expect(harness([s, s], 2)).rejects.toThrow(/scenario twice is named twice/);
    await expect(harness([s], 0.5)).rejects.toThrow(BugError);
  });
});
