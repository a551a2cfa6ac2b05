/**
 * `fcos cluster init` and the directory it writes into (issue 15, item 11): a non-empty directory that fcos did not
 * make is refused before anything is touched (`--out /etc --force` moved the host's /etc/ssh aside), a directory it
 * made carries a marker, and every run tightens the modes of the secrets (dirs 0700, keys and configs 0600).
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLUSTER_MARKER, initCluster } from '../../qemu/cluster/init.js';
import { UserError } from '../../lib/errors.js';
import { buildCli, fcosCli } from './cli-helpers.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBfcosExampleKeyReplaceMeWithYourOwnKey00000 user@example';
const mode = (p: string) => statSync(p).mode & 0o777;

/** A directory like /etc: its own ssh/, pki/ and nodes/, and a file. */
function foreignDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fcos-cluster-foreign-'));
  for (const s of ['ssh', 'pki', 'nodes']) {
    mkdirSync(join(d, s));
    writeFileSync(join(d, s, 'host-file'), `${s} of the host\n`);
  }
  writeFileSync(join(d, 'shadow'), 'x\n');
  return d;
}

describe('fcos cluster init: only directories fcos made', () => {
  it('refuses a non-empty directory without the marker, with or without --force, and touches nothing', async () => {
    const d = foreignDir();
    try {
      const before = readdirSync(d).sort();
      for (const force of [true, false]) {
        const e = await initCluster({ nodes: 1, out: d, sshKey: KEY, force }).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(UserError);
        expect((e as UserError).message).toBe(`${d} is not empty and was not made by fcos cluster init (no ${CLUSTER_MARKER} in it)`);
        expect((e as UserError).hint).toMatch(/new or empty directory/);
      }
      expect(readdirSync(d).sort()).toEqual(before);
      for (const s of ['ssh', 'pki', 'nodes']) expect(readFileSync(join(d, s, 'host-file'), 'utf8')).toBe(`${s} of the host\n`);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a new or empty directory gets the marker and mode 0700; with the marker, --force moves its own keys aside', async () => {
    const base = mkdtempSync(join(tmpdir(), 'fcos-cluster-own-'));
    try {
      const out = join(base, 'c');
      const r = await initCluster({ nodes: 1, name: 'demo', out, sshKey: KEY });
      expect(existsSync(join(out, CLUSTER_MARKER))).toBe(true);
      expect(mode(out)).toBe(0o700);
      const forced = await initCluster({ nodes: 1, name: 'demo', out, sshKey: KEY, force: true });
      expect(forced.movedAside).toBeDefined();
      expect(existsSync(join(forced.movedAside!, 'pki', 'ca.key'))).toBe(true);
      expect(r.ca.key).toBe(forced.ca.key);

      const empty = join(base, 'empty');
      mkdirSync(empty);
      await initCluster({ nodes: 1, name: 'demo', out: empty, sshKey: KEY });
      expect(existsSync(join(empty, CLUSTER_MARKER))).toBe(true);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a cluster dir made before the marker (cluster.json version 1) is still fcos’s, and gets the marker', async () => {
    const base = mkdtempSync(join(tmpdir(), 'fcos-cluster-old-'));
    try {
      const out = join(base, 'c');
      await initCluster({ nodes: 1, name: 'demo', out, sshKey: KEY });
      rmSync(join(out, CLUSTER_MARKER));
      const again = await initCluster({ nodes: 1, name: 'demo', out, sshKey: KEY });
      expect(again.ca.reused).toBe(true);
      expect(existsSync(join(out, CLUSTER_MARKER))).toBe(true);
      // A cluster.json that is not fcos's does not make a directory fcos's.
      const fake = join(base, 'fake');
      mkdirSync(fake);
      writeFileSync(join(fake, 'cluster.json'), '{"something": "else"}');
      await expect(initCluster({ nodes: 1, out: fake, sshKey: KEY, force: true })).rejects.toThrow(/was not made by fcos cluster init/);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a re-run tightens modes: dirs 0700, private keys and node configs 0600; certificates stay readable', async () => {
    const base = mkdtempSync(join(tmpdir(), 'fcos-cluster-modes-'));
    try {
      const out = join(base, 'c');
      const r = await initCluster({ nodes: 1, name: 'demo', out });
      // Loosened (an old fcos, a umask, a copy).
      for (const d of [out, join(out, 'pki'), join(out, 'nodes'), join(out, 'ssh')]) chmodSync(d, 0o755);
      for (const f of [r.ca.key, r.nodes[0]!.key, r.client.key, r.nodes[0]!.ignition, r.nodes[0]!.butane, r.sshIdentity!]) chmodSync(f, 0o644);
      await initCluster({ nodes: 1, name: 'demo', out });
      for (const d of [out, join(out, 'pki'), join(out, 'nodes'), join(out, 'ssh')]) expect(mode(d), d).toBe(0o700);
      for (const f of [r.ca.key, r.nodes[0]!.key, r.client.key, r.nodes[0]!.ignition, r.nodes[0]!.butane, r.sshIdentity!]) expect(mode(f), f).toBe(0o600);
      expect(mode(r.ca.cert) & 0o044).toBe(0o044);
      expect(mode(r.sshIdentity! + '.pub') & 0o044).toBe(0o044);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('fcos cluster init (CLI)', () => {
  it('--out a foreign directory --force: exit 1, one line and a hint', async () => {
    await buildCli();
    const d = foreignDir();
    try {
      const r = await fcosCli(['cluster', 'init', '--nodes', '1', '--out', d, '--force', '--ssh-key', KEY]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(`fcos: ${d} is not empty and was not made by fcos cluster init (no ${CLUSTER_MARKER} in it)\n  hint: give --out a new or empty directory; fcos moves only its own pki/, ssh/ and nodes/ aside`);
      expect(readFileSync(join(d, 'ssh', 'host-file'), 'utf8')).toBe('ssh of the host\n');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  }, 300_000);
});
