/**
 * The VM runner against a fake qemu-system-x86_64 (a shell script on PATH that writes the serial console file it is
 * given): console streaming, waiting for a marker, failing fast on a console failure or an unexpected exit, time-outs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launchConfig, prepareDisk, Vm, VmError } from '../../qemu/vm.js';

const FAKE = `#!/bin/sh
for a in "$@"; do
  case "$a" in file,id=serial0,path=*) p=\${a#file,id=serial0,path=}; p=\${p%,append=on};; esac
done
echo "fake qemu: booting" >> "$p"
sleep 1
printf '%s\\n' "$FAKE_LINE" >> "$p"
[ -n "$FAKE_EXIT" ] && exit "$FAKE_EXIT"
exec sleep 60
`;

let dir: string;
const savedPath = process.env.PATH;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fcos-fakeqemu-'));
  writeFileSync(join(dir, 'qemu-system-x86_64'), FAKE);
  chmodSync(join(dir, 'qemu-system-x86_64'), 0o755);
  process.env.PATH = `${dir}:${savedPath}`;
  process.env.FCOS_ACCEL = 'tcg';
});
afterAll(() => {
  process.env.PATH = savedPath;
  delete process.env.FCOS_ACCEL;
});

async function start(name: string, line: string, exit?: number): Promise<Vm> {
  process.env.FAKE_LINE = line;
  if (exit === undefined) delete process.env.FAKE_EXIT;
  else process.env.FAKE_EXIT = String(exit);
  return Vm.start({ name, dir: join(dir, name), ssh: { key: '/nonexistent' }, accel: 'tcg' });
}

describe('VM runner (fake QEMU)', () => {
  it('streams the console to console.txt and waits for a marker line', async () => {
    const vm = await start('marker', 'FCOS-TEST-READY');
    try {
      expect(await vm.waitForConsole(/FCOS-TEST-READY/, 10_000)).toBe('FCOS-TEST-READY');
      expect(readFileSync(join(dir, 'marker', 'console.txt'), 'utf8')).toContain('fake qemu: booting');
      expect(vm.sshPort).toBeGreaterThan(1023);
      expect(vm.info().sshCommand).toContain(`-p ${vm.sshPort} core@127.0.0.1`);
    } finally {
      await vm.kill();
    }
    expect(vm.exited).toBe(true);
  });

  it('fails fast on a console failure instead of waiting for the SSH time-out', async () => {
    const vm = await start('panic', '[    2.0] Kernel panic - not syncing: VFS: Unable to mount root fs');
    const t0 = Date.now();
    const err = await vm.waitForSsh(120_000).catch((e) => e);
    await vm.kill();
    expect(err).toBeInstanceOf(VmError);
    expect(err.consoleFailure.name).toBe('kernel panic');
    expect(err.message).toMatch(/kernel panic on the console \(console.txt line 2\)/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('reports QEMU exiting by itself', async () => {
    const vm = await start('exits', 'bye', 3);
    const err = await vm.waitForConsole(/never/, 20_000).catch((e) => e);
    expect(err).toBeInstanceOf(VmError);
    expect(err.message).toMatch(/exited with status 3 unexpectedly/);
  });

  it('times out with the console tail in the error', async () => {
    const vm = await start('slow', 'still booting');
    const err = await vm.waitForConsole(/never/, 2500).catch((e) => e);
    await vm.kill();
    expect(err).toBeInstanceOf(VmError);
    expect(err.message).toMatch(/timed out after 3 s waiting to see/);
    expect(err.stderrTail).toContain('fake qemu: booting');
  });
});

describe('an early TCG kernel crash (Oops: int3 before /init) is started again once', () => {
  // A fake QEMU whose Nth launch prints line N of $FAKE_SEQ (lines separated by "|"; "\n" inside one launch's text).
  const SEQ = `#!/bin/sh
for a in "$@"; do
  case "$a" in file,id=serial0,path=*) p=\${a#file,id=serial0,path=}; p=\${p%,append=on};; esac
done
n=$(cat "$FAKE_COUNT" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$FAKE_COUNT"
line=$(printf '%s' "$FAKE_SEQ" | cut -d'|' -f$n)
sleep 0.5
printf "$line\\n" >> "$p"
exec sleep 60
`;
  let seqDir: string;
  beforeAll(() => {
    seqDir = mkdtempSync(join(tmpdir(), 'fcos-fakeqemu-seq-'));
    writeFileSync(join(seqDir, 'qemu-system-x86_64'), SEQ);
    chmodSync(join(seqDir, 'qemu-system-x86_64'), 0o755);
  });
  const OOPS = '[    5.543928] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI';
  const INIT = '[    9.1] Run /init as init process';
  async function startSeq(name: string, seq: string[]): Promise<Vm> {
    process.env.PATH = `${seqDir}:${savedPath}`;
    process.env.FAKE_SEQ = seq.join('|');
    process.env.FAKE_COUNT = join(seqDir, `${name}.count`);
    return Vm.start({ name, dir: join(dir, name), ssh: { key: '/nonexistent' }, accel: 'tcg' });
  }
  afterAll(() => {
    process.env.PATH = `${dir}:${savedPath}`;
    delete process.env.FAKE_SEQ;
    delete process.env.FAKE_COUNT;
  });

  it('before /init: QEMU starts again, the boot goes on, no console failure is left', async () => {
    const vm = await startSeq('early-oops', [OOPS, `${INIT}\\nFCOS-TEST-READY`]);
    try {
      expect(await vm.waitForConsole(/FCOS-TEST-READY/, 20_000)).toBe('FCOS-TEST-READY');
      expect(vm.launches).toBe(2);
      expect(vm.earlyCrashes).toHaveLength(1);
      expect(vm.scanner.failures).toEqual([]);
      expect(vm.failed).toBeUndefined();
      expect(readFileSync(join(dir, 'early-oops', 'console.txt'), 'utf8')).toContain('--- fcos: started again after an early kernel crash');
    } finally {
      await vm.kill();
    }
  });

  it('after /init, or a second time in a row: the boot fails as before', async () => {
    const late = await startSeq('late-oops', [`${INIT}\\n${OOPS}`]);
    try {
      const err = await late.waitForSsh(20_000).catch((e) => e);
      expect(err).toBeInstanceOf(VmError);
      expect(String(err.message)).toMatch(/kernel oops/);
      expect(late.launches).toBe(1);
    } finally {
      await late.kill();
    }
    const twice = await startSeq('twice-oops', [OOPS, OOPS, 'FCOS-TEST-READY']);
    try {
      const err = await twice.waitForSsh(20_000).catch((e) => e);
      expect(String(err.message)).toMatch(/kernel oops/);
      expect(twice.launches).toBe(2);
    } finally {
      await twice.kill();
    }
  });
});

describe('a launch (qemu/vm-spec.ts)', () => {
  it('launchConfig: SSH forwarded first, then the spec forwards; no disk when the launch has none; the config path absolute', () => {
    const c = launchConfig(
      { name: 'n', dir: '/tmp/x', ssh: { key: 'k' }, forwards: [{ hostPort: 9000, guestPort: 80 }], ignition: 'rel/config.ign', mac: '52:54:00:00:00:01' },
      { accel: 'tcg', ovmf: undefined, disk: {}, sshPort: 2222, consolePath: '/tmp/x/console.txt', qmpSocket: '/tmp/x/qmp.sock' },
    );
    expect(c.name).toBe('fcos-n');
    expect(c.disks).toEqual([]);
    expect(c.nics?.[0]).toMatchObject({ kind: 'user', mac: '52:54:00:00:00:01', forwards: [{ hostPort: 2222, guestPort: 22 }, { hostPort: 9000, guestPort: 80 }] });
    expect(c.ignition).toBe(join(process.cwd(), 'rel/config.ign'));
    expect(c.serial).toEqual({ logFile: '/tmp/x/console.txt', stdio: undefined });
  });

  it('prepareDisk: a qcow2 overlay over the image (kept with reuseOverlay), the image itself with persist, none without a disk', async () => {
    const d = mkdtempSync(join(tmpdir(), 'fcos-disk-'));
    const img = join(d, 'image.raw');
    writeFileSync(img, Buffer.alloc(1024 * 1024));
    expect(await prepareDisk({ name: 'p', dir: d, ssh: { key: 'k' }, disk: { path: img }, persist: true })).toEqual({ path: img, format: 'raw' });
    const o = await prepareDisk({ name: 'o', dir: d, ssh: { key: 'k' }, disk: { path: img } });
    expect(o).toEqual({ path: join(d, 'overlay.qcow2'), format: 'qcow2', overlay: join(d, 'overlay.qcow2') });
    writeFileSync(o.overlay!, 'kept');
    await prepareDisk({ name: 'o', dir: d, ssh: { key: 'k' }, disk: { path: img }, reuseOverlay: true });
    expect(readFileSync(o.overlay!, 'utf8')).toBe('kept');
    expect(await prepareDisk({ name: 'e', dir: d, ssh: { key: 'k' } })).toEqual({});
    await expect(prepareDisk({ name: 'm', dir: d, ssh: { key: 'k' }, disk: { path: join(d, 'missing') } })).rejects.toThrow(/disk image not found/);
  });
});
