import { describe, expect, it } from 'vitest';
import { downlevelConfig, IMAGE_SPEC_VERSION } from '../../ignition/downlevel.js';

const base = (version: string, extra: Record<string, unknown> = {}) => ({ ignition: { version }, ...extra });

describe('downlevelConfig', () => {
  it('passes 3.0–3.3 configs through unchanged', () => {
    for (const v of ['3.0.0', '3.1.0', '3.2.0', '3.3.0']) {
      const c = base(v, { storage: { files: [{ path: '/etc/x', mode: 420 }] } });
      const r = downlevelConfig(c);
      expect(r.config).toBe(c);
      expect(r.toVersion).toBe(v);
      expect(r.findings).toEqual([]);
    }
  });

  it('translates a 3.4.0 config that uses nothing newer to 3.3.0, without touching the input', () => {
    const c = base('3.4.0', {
      passwd: { users: [{ name: 'core', sshAuthorizedKeys: ['ssh-ed25519 AAAA'] }] },
      storage: { files: [{ path: '/etc/hostname', mode: 420, contents: { source: 'data:,h' } }], luks: [{ name: 'x', device: '/dev/vdb', clevis: { tang: [{ url: 'http://t', thumbprint: 'a' }] } }] },
      systemd: { units: [{ name: 'etcd.service', enabled: true, dropins: [{ name: 'a.conf', contents: '' }] }] },
    });
    const r = downlevelConfig(c);
    expect(r.config).toBeDefined();
    expect((r.config!.ignition as { version: string }).version).toBe(IMAGE_SPEC_VERSION);
    expect((c.ignition as { version: string }).version).toBe('3.4.0');
    expect(r.fromVersion).toBe('3.4.0');
    expect(r.toVersion).toBe('3.3.0');
    expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(r.findings[0]!.message).toMatch(/translated from 3.4.0 to 3.3.0/);
    expect((r.config as Record<string, unknown>).passwd).toEqual((c as Record<string, unknown>).passwd);
  });

  it('translates 3.5.0 and 3.6.0 too', () => {
    for (const v of ['3.5.0', '3.6.0']) {
      const r = downlevelConfig(base(v, { storage: { directories: [{ path: '/var/x', mode: 493 }] } }));
      expect(r.toVersion).toBe('3.3.0');
    }
  });

  it('refuses 3.4.0 LUKS fields with the path of each', () => {
    const r = downlevelConfig(
      base('3.4.0', {
        storage: {
          luks: [
            { name: 'a', device: '/dev/vdb', discard: true },
            { name: 'b', device: '/dev/vdc', openOptions: ['--perf-no_read_workqueue'], clevis: { tang: [{ url: 'http://t', advertisement: '{}' }] } },
          ],
        },
      }),
    );
    expect(r.config).toBeUndefined();
    expect(r.findings.map((f) => f.path)).toEqual(['$.storage.luks.0.discard', '$.storage.luks.1.openOptions', '$.storage.luks.1.clevis.tang.0.advertisement']);
    expect(r.findings[0]!.message).toMatch(/LUKS discard \(spec 3.4.0\) is not supported/);
  });

  it('refuses 3.5.0 cex', () => {
    const r = downlevelConfig(base('3.5.0', { storage: { luks: [{ name: 'a', device: '/dev/vdb', cex: { enabled: true } }] } }));
    expect(r.findings.map((f) => f.path)).toEqual(['$.storage.luks.0.cex']);
  });

  it('refuses any key 3.3.0 does not know, at any depth', () => {
    const r = downlevelConfig(base('3.6.0', { storage: { files: [{ path: '/x', contents: { source: 'data:,', frobnicate: 1 } }] }, newTopLevel: {} }));
    expect(r.findings.map((f) => f.path).sort()).toEqual(['$.newTopLevel', '$.storage.files.0.contents.frobnicate']);
  });

  it('refuses setuid/setgid/sticky modes in newer configs (2.14 would drop them)', () => {
    const r = downlevelConfig(base('3.4.0', { storage: { files: [{ path: '/x', mode: 0o4755 }], directories: [{ path: '/d', mode: 0o1777 }] } }));
    expect(r.findings.map((f) => f.path)).toEqual(['$.storage.files.0.mode', '$.storage.directories.0.mode']);
    expect(r.findings[0]!.message).toMatch(/04755/);
  });

  it('refuses kernelArguments in any version, with its path', () => {
    for (const v of ['3.3.0', '3.4.0']) {
      const r = downlevelConfig(base(v, { kernelArguments: { shouldExist: ['quiet'], shouldNotExist: [] } }));
      expect(r.config).toBeUndefined();
      expect(r.findings.map((f) => f.path)).toEqual(['$.kernelArguments.shouldExist']);
      expect(r.findings[0]!.message).toMatch(/no kargs helper/);
    }
  });

  it('accepts empty kernelArguments lists', () => {
    expect(downlevelConfig(base('3.3.0', { kernelArguments: { shouldExist: [] } })).config).toBeDefined();
  });

  it('refuses unknown versions and non-objects', () => {
    expect(downlevelConfig(base('2.2.0')).findings[0]!.path).toBe('$.ignition.version');
    expect(downlevelConfig(base('3.7.0')).findings[0]!.message).toMatch(/not supported/);
    expect(downlevelConfig([]).findings[0]!.message).toMatch(/not a JSON object/);
    expect(downlevelConfig({}).findings[0]!.path).toBe('$.ignition.version');
  });
});
