/**
 * The typed error family (issue 17): product code throws only UserError, ExternalError, CheckError or BugError, so
 * that what input, the environment or a tool can cause never ends as "internal error" (exit 70).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BugError, CheckError, ExternalError, toFcosError, UserError } from '../../lib/errors.js';

const REPO = join(import.meta.dirname, '..', '..');
const PRODUCT = ['cli', 'ignition', 'ostree', 'images', 'qemu', 'lib', 'test/scenarios'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The lines of product code that make a bare Error (`new Error(`, thrown, rejected or passed on). */
function bareErrors(files: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '');
        if (/^\s*\*/.test(code)) return; // a doc comment
        if (/(^|[^\w.])new (Error|TypeError|RangeError|SyntaxError)\(/.test(code)) out.push(`${relative(REPO, f)}:${i + 1}: ${line.trim()}`);
      });
  }
  return out;
}

describe('typed errors in product code', () => {
  it('no product file makes a bare Error: use UserError, ExternalError, CheckError, or BugError for an invariant', () => {
    const files = PRODUCT.flatMap((d) => tsFiles(join(REPO, d)));
    expect(files.length).toBeGreaterThan(50);
    expect(bareErrors(files)).toEqual([]);
  });

  it('the scan sees a bare throw and passes the typed ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcos-errors-'));
    const probe = join(dir, 'probe.ts');
    writeFileSync(probe, "throw new Error('x');\nthrow new UserError('y');\nthrow new BugError('z');\n// throw new Error('in a comment')\nreject(new Error('r'));\nthrow new TypeError('t');\n");
    try {
      expect(bareErrors([probe]).map((l) => l.replace(/^.*:(\d+):.*$/, '$1'))).toEqual(['1', '5', '6']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('each kind has its exit status: user 1, external 1, check 1, bug 70; unknown errors are bugs', () => {
    expect(new UserError('u').exitCode).toBe(1);
    expect(new ExternalError('e', 'cmd', 2, '').exitCode).toBe(1);
    expect(new CheckError('c').exitCode).toBe(1);
    expect(new CheckError('c').render()).toBe('c');
    expect(new BugError('b').exitCode).toBe(70);
    expect(toFcosError(new Error('plain')).kind).toBe('bug');
  });
});
