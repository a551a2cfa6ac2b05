/**
 * The shell of the repository in `make test` (issue 17 item 6):
 * - shellcheck (Debian's 0.9.0, `-x` so that sourced files are followed through their `source=` directives) over
 *   every shell file found by walking the repository: the guest tree ostree/guest, the host hooks, scripts/, bench/,
 *   .ci/, the bats tests and their stubs. One test per file; no finding of any level is allowed (a finding that is
 *   as meant is disabled on its line, with the reason).
 * - the bats tests of the guest scripts (test/guest/*.bats, Debian's bats): one vitest test per bats test.
 * Both tools are required: when one is missing these tests fail and say which package to install (scripts/deps.sh
 * installs them); they are never skipped.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { closeSync, lstatSync, openSync, readSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ExternalError } from '../../lib/errors.js';
import { run } from '../../lib/run.js';
import { requireTools } from '../../lib/tools.js';

const ROOT = resolve(__dirname, '../..');
/** Not the repository's own files: dependencies, build output, test output, builds. */
const SKIP_DIRS = new Set(['node_modules', 'dist', 'tmp', 'builds', '.git', '.cache']);

function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(128);
    const n = readSync(fd, b, 0, b.length, 0);
    return b.subarray(0, n).toString('utf8').split('\n')[0]!;
  } finally {
    closeSync(fd);
  }
}

/** A shell file: by its name (.sh, .bash, .bats), its shebang (sh, bash, dash, bats) or a `# shellcheck shell=` line. */
function isShell(path: string): boolean {
  if (/\.(sh|bash|bats)$/.test(path)) return true;
  const l = firstLine(path);
  return /^#!\S*\/(env\s+)?(sh|bash|dash|bats)\b/.test(l) || /^# shellcheck shell=/.test(l);
}

/** Every shell file of the repository, relative to its root, sorted. Symlinks are skipped (their targets are files here). */
function shellFiles(root = ROOT): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(p);
      } else if (e.isFile() && isShell(p)) {
        out.push(relative(root, p));
      }
    }
  };
  walk(root);
  return out.sort();
}

interface Finding {
  file: string;
  line: number;
  column: number;
  level: string;
  code: number;
  message: string;
}

const files = shellFiles();

describe('shellcheck', () => {
  let findings: Finding[] = [];
  beforeAll(async () => {
    requireTools(['shellcheck']);
    const r = await run('shellcheck', ['-x', '-f', 'json1', ...files], { cwd: ROOT, allowFailure: true, timeoutMs: 170_000 });
    // 0: no findings, 1: findings; anything else (a file it could not read, a bad option) is an error.
    if (r.exitCode !== 0 && r.exitCode !== 1) throw new ExternalError('shellcheck failed', r.command, r.exitCode, r.stderr);
    findings = (JSON.parse(r.stdout) as { comments: Finding[] }).comments;
  }, 180_000);

  it('finds the shell files by walking the repository: the guest tree, the host hooks, scripts, bench, .ci, the bats tests', () => {
    for (const f of [
      'ostree/guest/overlay/usr/bin/fcos-update',
      'ostree/guest/overlay/usr/lib/fcos/update-lib.sh',
      'ostree/guest/overlay/usr/libexec/fcos/update-health',
      'ostree/guest/overlay/etc/grub.d/08_fcos_bootcount',
      'ostree/guest/overlay/usr/lib/dracut/modules.d/35fcos/fcos-init.sh',
      'ostree/guest/overlay-k8s/usr/libexec/fcos/preload-images',
      'ostree/guest/pxe-live/fcos-install.sh',
      'ostree/bootstrap-setup-hook.sh',
      'qemu/baseline-customize.sh',
      'scripts/run-tests.sh',
      'bench/boot',
      '.ci/run',
      'test/guest/fcos-update.bats',
      'test/guest/helpers.bash',
      'test/guest/stubs/ostree',
    ]) {
      expect(files).toContain(f);
    }
    // every executable file of the guest tree is shell, and checked
    const guest: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(join(ROOT, d), { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && lstatSync(join(ROOT, p)).mode & 0o111) guest.push(p);
      }
    };
    walk('ostree/guest');
    expect(guest.length).toBeGreaterThan(20);
    expect(guest.filter((f) => !files.includes(f))).toEqual([]);
  });

  it.each(files)('%s', (file) => {
    const mine = findings.filter((c) => c.file === file).map((c) => `${c.line}:${c.column} ${c.level} SC${c.code}: ${c.message}`);
    expect(mine).toEqual([]);
  });
});

/** The names of a .bats file's tests, in order (`@test "name" {`). */
function batsTests(file: string): string[] {
  const names: string[] = [];
  for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(/^@test\s+(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*\{/gm)) {
    names.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  }
  return names;
}

const batsFiles = readdirSync(join(ROOT, 'test/guest'))
  .filter((f) => f.endsWith('.bats'))
  .sort()
  .map((f) => `test/guest/${f}`);

describe('bats: the guest scripts (test/guest)', () => {
  it('has test files, each with tests', () => {
    expect(batsFiles.length).toBeGreaterThanOrEqual(4);
    for (const f of batsFiles) expect(batsTests(f).length, f).toBeGreaterThan(0);
  });

  describe.each(batsFiles)('%s', (file) => {
    const names = batsTests(file);
    const results = new Map<string, { ok: boolean; detail: string }>();
    let tap = '';
    let exitCode = -1;
    beforeAll(async () => {
      requireTools(['bats']);
      const r = await run('bats', ['--tap', file], { cwd: ROOT, allowFailure: true, timeoutMs: 170_000 });
      tap = r.stdout;
      exitCode = r.exitCode;
      let last: { ok: boolean; detail: string } | undefined;
      for (const line of tap.split('\n')) {
        const m = /^(ok|not ok) \d+ (.*?)(?: # skip\b.*)?$/.exec(line);
        if (m) {
          last = { ok: m[1] === 'ok' && !/ # skip\b/.test(line), detail: line };
          results.set(m[2]!, last);
        } else if (last && line.startsWith('#')) {
          last.detail += `\n${line}`;
        }
      }
    }, 180_000);

    it('bats ran every test of the file and exited 0', () => {
      expect(tap.split('\n')[0], tap).toBe(`1..${names.length}`);
      expect([...results.keys()]).toEqual(names);
      expect(exitCode, tap).toBe(0);
    });

    it.each(names)('%s', (name) => {
      const r = results.get(name);
      expect(r, `no TAP result for this test:\n${tap}`).toBeDefined();
      expect(r!.ok, r!.detail).toBe(true);
    });
  });
});
