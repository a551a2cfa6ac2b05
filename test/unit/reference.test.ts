/**
 * The reference material and ignition-validate are requirements of the Ignition/Butane tests, not optional: a missing
 * one fails with a message that names FCOS_REFERENCE_DIR (or the package) and what to do.
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REFERENCE_DIR, REFERENCE_ENV, REPO, referencePath, requireTool } from './ignition-helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'fcos-reference-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('reference directory (FCOS_REFERENCE_DIR)', () => {
  it('defaults to ../shared next to the repository, or the variable', () => {
    expect(REFERENCE_ENV).toBe('FCOS_REFERENCE_DIR');
    expect(REFERENCE_DIR).toBe(process.env.FCOS_REFERENCE_DIR ? resolve(process.env.FCOS_REFERENCE_DIR) : join(REPO, '..', 'shared'));
  });

  it('a present path is returned', () => {
    mkdirSync(join(tmp, 'ignition', 'upstream-schemas'), { recursive: true });
    expect(referencePath(['ignition', 'upstream-schemas'], tmp, {})).toBe(join(tmp, 'ignition', 'upstream-schemas'));
  });

  it('a missing path is an error naming the variable, the path and what to do', () => {
    const missing = join(tmp, 'nowhere');
    expect(() => referencePath(['ignition', 'doc-examples', 'butane'], missing, {})).toThrow(
      new RegExp(`reference material is missing: ${missing}/ignition/doc-examples/butane does not exist \\(FCOS_REFERENCE_DIR is not set.*Set FCOS_REFERENCE_DIR to the directory`),
    );
    expect(() => referencePath(['x'], missing, { FCOS_REFERENCE_DIR: missing })).toThrow(`(FCOS_REFERENCE_DIR=${missing})`);
  });

  it('the reference material of this checkout is there (the Ignition and Butane tests need it)', () => {
    for (const p of [['ignition', 'doc-examples', 'ignition'], ['ignition', 'doc-examples', 'butane'], ['ignition', 'upstream-schemas', 'v3_3.json']]) {
      expect(referencePath(p)).toBe(join(REFERENCE_DIR, ...p));
    }
  });
});

describe('ignition-validate is required', () => {
  it('a missing tool is an error with the package to install', async () => {
    await expect(requireTool('fcos-no-such-tool-7f3a', 'fcos-no-such-package')).rejects.toThrow(
      /fcos-no-such-tool-7f3a is not installed \(not on PATH\).*apt-get install fcos-no-such-package/,
    );
  });

  it('ignition-validate is on PATH (scripts/deps.sh installs Debian\'s ignition)', async () => {
    await expect(requireTool('ignition-validate')).resolves.toBeUndefined();
  });
});
