/**
 * For spec <= 3.3, the rule cases are cross-checked with the real ignition-validate (Debian's ignition 2.14):
 * same valid/invalid verdict, same first error path and message.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/run.js';
import { validateConfig } from '../../ignition/validate.js';
import { firstError, requireTool, ruleCases } from './ignition-helpers.js';

// Needed, never skipped: without ignition-validate this file fails with what to install.
await requireTool('ignition-validate');
const dir = mkdtempSync(join(tmpdir(), 'fcos-crosscheck-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


// Known, deliberate differences: Ignition 2.14 still accepts "3.4.0-experimental"; fcos knows 3.4.0 is stable.
const KNOWN = new Set(['version "3.4.0-experimental"']);
const cases = ruleCases().filter((c) => !/^3\.[4-6]\.0$/.test(c.version) && !KNOWN.has(c.name));

describe('cross-check with ignition-validate (spec <= 3.3)', () => {
  it('has enough cases', () => expect(cases.length).toBeGreaterThan(120));
  for (const [i, c] of cases.entries()) {
    it(c.name, async () => {
      const file = join(dir, `case${i}.ign`);
      writeFileSync(file, c.config);
      const r = await run('ignition-validate', [file], { allowFailure: true });
      const theirs = firstError(r.stdout + r.stderr);
      const mine = validateConfig(c.config).findings.find((f) => f.severity === 'error');
      expect(mine !== undefined, `validity (ignition-validate exit ${r.exitCode})`).toBe(r.exitCode !== 0);
      if (mine) expect({ path: mine.path === '$' ? '' : mine.path, message: mine.message }).toEqual(theirs);
    });
  }
});
