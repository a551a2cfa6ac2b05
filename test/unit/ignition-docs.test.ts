/** The documentation examples validate with no error, and every config fcos accepts satisfies the upstream schema. */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../ignition/validate.js';
import { docExamples, ruleCases, upstreamValidator } from './ignition-helpers.js';

describe('documentation examples', () => {
  const docs = docExamples();
  it('are all there', () => expect(docs.length).toBe(29));
  for (const d of docs) {
    it(`${d.name} validates with no error and satisfies the upstream schema`, () => {
      const r = validateConfig(d.text);
      expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
      const check = upstreamValidator(r.version!);
      expect(check(JSON.parse(d.text)), JSON.stringify(check.errors)).toBe(true);
    });
  }
});

describe('accepted rule cases satisfy the upstream schema of their version', () => {
  // "Accepted" is the --strict sense: no error and no warning (fcos warns where Ignition is laxer than the schema).
  const accepted = ruleCases().filter((c) => c.findings.length === 0 && /^3\.\d\.0$/.test(c.version));
  it('there are enough of them', () => expect(accepted.length).toBeGreaterThan(30));
  for (const c of accepted) {
    it(c.name, () => {
      const check = upstreamValidator(c.version);
      expect(check(JSON.parse(c.config)), JSON.stringify(check.errors)).toBe(true);
    });
  }
  it('what Ignition tolerates but the schema forbids is a warning', () => {
    const r = validateConfig('{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","contents":null}]},"passwd":{"users":[{}]}}');
    expect(r.findings).toEqual([
      // A null struct: Ignition v2.24.0's own warning (config/validate/validate.go:86); other nulls get fcos's.
      { severity: 'warning', path: '$.storage.files.0.contents', line: 1, col: 77, message: 'context tree does not match content tree at $.storage.files.0.contents. Line and column reporting may be inconsistent. Unused keys may not be reported' },
      { severity: 'warning', path: '$.passwd.users.0.name', line: 1, col: 105, message: 'missing required key name (spec 3.3.0)' },
    ]);
    expect(upstreamValidator('3.3.0')(JSON.parse('{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","contents":null}]}}'))).toBe(false);
    expect(validateConfig('{"ignition":{"version":"3.3.0"},"storage":{"files":null}}').findings).toMatchObject([
      { severity: 'warning', path: '$.storage.files', message: 'null is not allowed here by spec 3.3.0 (Ignition ignores it)' },
    ]);
  });
});
