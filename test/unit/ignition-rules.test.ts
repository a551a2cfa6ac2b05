/**
 * Every rule: a failing and a passing case, asserting path, line, col and message.
 * The table lives in test/fixtures/ignition/rule-cases.json; a few rules are also spelled out below for readability.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../ignition/validate.js';
import { formatFinding, type Finding } from '../../ignition/report.js';
import { ruleCases } from './ignition-helpers.js';

const first = (cfg: unknown, severity: 'error' | 'warning' = 'error'): Finding | undefined =>
  validateConfig(typeof cfg === 'string' ? cfg : JSON.stringify(cfg)).findings.find((f) => f.severity === severity);
const errors = (cfg: unknown) => validateConfig(typeof cfg === 'string' ? cfg : JSON.stringify(cfg)).findings.filter((f) => f.severity === 'error');

describe('rule table (test/fixtures/ignition/rule-cases.json)', () => {
  const cases = ruleCases();
  it('covers failing and passing cases', () => {
    expect(cases.length).toBeGreaterThan(150);
    expect(cases.filter((c) => c.findings.some((f) => f.severity === 'error')).length).toBeGreaterThan(80);
    expect(cases.filter((c) => c.findings.length === 0).length).toBeGreaterThan(30);
  });
  for (const c of cases) {
    it(c.name, () => {
      expect(validateConfig(c.config).findings).toEqual(c.findings);
    });
  }
});

describe('rules, spelled out', () => {
  const v33 = { ignition: { version: '3.3.0' } };
  it('regressions found by the differential test: raid level case, empty link target, format none', () => {
    expect(first({ ...v33, storage: { raid: [{ name: 'md0', level: 'RAID1', devices: ['/dev/a'] }] } })).toEqual({ severity: 'error', path: '$.storage.raid.0.level', line: 1, col: 74, message: 'unrecognized raid level' });
    expect(errors({ ...v33, storage: { raid: [{ name: 'md0', level: 'raid1', devices: ['/dev/a'] }] } })).toEqual([]);
    expect(first({ ...v33, storage: { links: [{ path: '/etc/l', target: '' }] } })).toEqual({ severity: 'error', path: '$.storage.links.0.target', line: 1, col: 79, message: 'link target is required' });
    expect(errors({ ignition: { version: '3.2.0' }, storage: { links: [{ path: '/etc/l', target: '' }] } })).toEqual([]);
    expect(first({ ignition: { version: '3.2.0' }, storage: { filesystems: [{ device: '/dev/vdb1', format: 'none' }] } })).toEqual({ severity: 'error', path: '$.storage.filesystems.0.format', line: 1, col: 90, message: 'invalid filesystem format' });
    expect(errors({ ...v33, storage: { filesystems: [{ device: '/dev/vdb1', format: 'none' }] } })).toEqual([]);
  });
  it('issue 16: Ignition v2.24.0 rules (cex, openOptions, template units, empty merge source, systemd path conflicts)', () => {
    const v35 = { ignition: { version: '3.5.0' } };
    const luks = (l: object) => ({ ...v35, storage: { luks: [{ name: 'l', device: '/dev/vdb', ...l }] } });
    // config/v3_5/types/luks.go:57-65
    expect(first(luks({ cex: { enabled: true }, clevis: { tpm2: true } }))).toMatchObject({ path: '$.storage.luks.0.cex', message: 'cannot use cex with clevis' });
    expect(first(luks({ cex: { enabled: true }, keyFile: { source: 'data:,k' } }))).toMatchObject({ path: '$.storage.luks.0.cex', message: 'cannot use key file with cex' });
    expect(errors(luks({ cex: { enabled: false }, clevis: { tpm2: true } }))).toEqual([]);
    expect(errors(luks({ cex: { enabled: true } }))).toEqual([]);
    // config/v3_3/types/clevis.go:32 and luks.go:48: empty custom strings count as unset
    expect(errors(luks({ clevis: { custom: { pin: '', config: '' } } }))).toEqual([]);
    expect(first(luks({ clevis: { custom: { config: '{}' }, tpm2: true } }))).toMatchObject({ path: '$.storage.luks.0.clevis.custom.pin', message: 'missing required custom clevis pin' });
    // config/v3_4/types/luks.go:31: only options ignores duplicates
    expect(first(luks({ openOptions: ['--a', '--a'] }))).toMatchObject({ path: '$.storage.luks.0.openOptions.1', message: 'duplicate entry defined' });
    expect(errors(luks({ options: ['--a', '--a'] }))).toEqual([]);
    // config/v3_0/types/systemd.go:26 (every spec version)
    const units = [
      { name: 'x@.service', contents: '[Service]\nExecStart=/bin/true\n' },
      { name: 'x@a.service', enabled: true },
    ];
    expect(validateConfig(JSON.stringify({ ...v33, systemd: { units } })).findings).toMatchObject([
      { severity: 'warning', path: '$.systemd.units.1.contents', message: 'template unit "x@.service" for "x@a.service" doesn\'t have Install section' },
    ]);
    // config/v3_1/types/resource.go:87 validateRequiredSource
    expect(first({ ...v33, ignition: { version: '3.3.0', config: { merge: [{ source: '' }] } } })).toMatchObject({ path: '$.ignition.config.merge.0', message: 'source is required' });
    // config/v3_0/types/config.go:33: for every spec version
    expect(first({ ignition: { version: '3.0.0' }, storage: { files: [{ path: '/etc/systemd/system/a.service' }] }, systemd: { units: [{ name: 'a.service', contents: '[Unit]\n' }] } })).toMatchObject({
      path: '$.storage.files.0.path',
      message: 'path conflicts with systemd unit or dropin',
    });
  });
  it('paths must be absolute and simplified', () => {
    expect(first({ ...v33, storage: { files: [{ path: 'a/b' }] } })).toEqual({ severity: 'error', path: '$.storage.files.0.path', line: 1, col: 61, message: 'path not absolute' });
    expect(first({ ...v33, storage: { files: [{ path: '/a//b' }] } })?.message).toBe('path is not fully simplified');
    expect(errors({ ...v33, storage: { files: [{ path: '/a/b' }] } })).toEqual([]);
  });
  it('modes: 0-07777, special bits warn before 3.6 and are accepted from 3.6 (Ignition v2.24.0; 2.14 warned before 3.4)', () => {
    expect(first({ ...v33, storage: { files: [{ path: '/a', mode: 4096 }] } })?.message).toBe('illegal file mode');
    expect(first({ ...v33, storage: { files: [{ path: '/a', mode: 0o4755 }] } }, 'warning')).toMatchObject({ path: '$.storage.files.0.mode', col: 73 });
    expect(validateConfig(JSON.stringify({ ignition: { version: '3.5.0' }, storage: { files: [{ path: '/a', mode: 0o4755 }] } })).findings).toEqual([
      { severity: 'warning', path: '$.storage.files.0.mode', line: 1, col: 73, message: 'setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0' },
    ]);
    expect(validateConfig(JSON.stringify({ ignition: { version: '3.6.0' }, storage: { files: [{ path: '/a', mode: 0o4755 }] } })).findings).toEqual([]);
  });
  it('duplicates share one namespace across files, directories and links', () => {
    const f = first({ ...v33, storage: { directories: [{ path: '/x' }], files: [{ path: '/x' }] } });
    expect(f).toMatchObject({ path: '$.storage.files.0', message: 'duplicate entry defined' });
  });
  it('nothing beneath a link', () => {
    expect(first({ ...v33, storage: { files: [{ path: '/l/f' }], links: [{ path: '/l', target: '/t' }] } })).toMatchObject({ path: '$.storage.files.0', message: 'file path includes link in config' });
  });
  it('units: extension, contents, enabled without [Install]', () => {
    expect(first({ ...v33, systemd: { units: [{ name: 'a' }] } })?.message).toBe('invalid systemd unit extension');
    expect(first({ ...v33, systemd: { units: [{ name: 'a.service', contents: '[Unit' }] } })?.message).toBe('invalid unit content: unable to find end of section');
    expect(first({ ...v33, systemd: { units: [{ name: 'a.service', enabled: true, contents: '[Unit]\n' }] } }, 'warning')?.message).toBe(
      'unit "a.service" is enabled, but has no install section so enable does nothing',
    );
  });
  it('unused keys are warnings at the key', () => {
    const r = validateConfig('{"ignition":{"version":"3.3.0"},"storge":{}}');
    expect(r.findings).toEqual([{ severity: 'warning', path: '$.storge', line: 1, col: 33, message: 'unused key storge' }]);
    expect(formatFinding(r.findings[0]!)).toBe('warning at $.storge, line 1 col 33: unused key storge');
  });
  it('type errors use Go wording and stop validation', () => {
    const r = validateConfig('{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":5,"mode":"x"}]}}');
    expect(r.findings).toEqual([
      { severity: 'error', path: '$', line: 1, col: 62, message: 'json: cannot unmarshal number into Go struct field File.storage.files.path of type string' },
    ]);
  });
  it('versions: every supported version, Ignition messages otherwise', () => {
    for (const v of ['3.0.0', '3.1.0', '3.2.0', '3.3.0', '3.4.0', '3.5.0', '3.6.0']) expect(validateConfig(JSON.stringify({ ignition: { version: v } })).findings).toEqual([]);
    expect(first({ ignition: { version: '3.9.0' } })?.message).toBe('unsupported config version');
    expect(first({ ignition: { version: '2.2.0' } })?.message).toBe('unsupported config version');
    expect(first({ ignition: { version: 'abc' } })?.message).toBe("invalid config version (couldn't parse)");
    expect(first({ ignition: {} })?.message).toBe("invalid config version (couldn't parse)");
    expect(first({})?.message).toBe("invalid config version (couldn't parse)");
  });
  it('syntax errors have a real line and column', () => {
    expect(first('{"ignition":{"version":"3.3.0"},\n "storage":{"files":[{"path":"/a",}]}}')).toEqual({
      severity: 'error',
      path: '$',
      line: 2,
      col: 36,
      message: "invalid character '}' looking for beginning of object key string",
    });
    expect(first('{"ignition":{"version":"3.3.0"}')).toMatchObject({ line: 1, col: 32, message: 'unexpected end of JSON input' });
  });
  it('never throws on bad input', () => {
    for (const input of ['', ' ', 'null', '[', '"x"', '{"ignition":5}', new Uint8Array([0xff, 0xfe, 0x00]), '\uFEFF{}']) {
      const r = validateConfig(input);
      expect(r.findings.some((f) => f.severity === 'error')).toBe(true);
    }
  });
});
