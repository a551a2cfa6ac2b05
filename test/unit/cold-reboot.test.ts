/**
 * qemu/cold-reboot.ts: the supervisor that starts a new QEMU when the guest rebooted (fcos cluster's nodes). A fake
 * "QEMU" (a shell script) writes what a kernel writes to the console and exits as QEMU -no-reboot does.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { coldRebootCommand, guestAskedReset, parseSupervisorArgs, superviseColdReboots } from '../../qemu/cold-reboot.js';
import { buildQemuArgs } from '../../qemu/args.js';
import { launchConfig } from '../../qemu/vm-spec.js';
import { buildCli, REPO } from './cli-helpers.js';
import { alive } from './process-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'fcos-cold-reboot-'));
/** Supervisors started as processes: their process groups are killed at the end, whatever a failed test left. */
const groups: number[] = [];
afterAll(() => {
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A fake QEMU: launch k (1-based, counted in <case>/launches) runs the k-th shell snippet; $C is the console. */
function fakeQemu(steps: string[]): { console: string; launches: () => number; script: string } {
  const d = join(dir, `case${++n}`);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d);
  const console = join(d, 'console.txt');
  writeFileSync(console, '');
  const script = join(d, 'qemu.sh');
  const cases = steps.map((s, i) => `  ${i + 1}) ${s} ;;`).join('\n');
  writeFileSync(script, `#!/bin/bash\nC=${console}\nk=$(( $(cat ${d}/launches 2>/dev/null || echo 0) + 1 ))\necho $k > ${d}/launches\necho "[    0.000000] Linux version 6.12 (launch $k)" >> $C\ncase $k in\n${cases}\n  *) echo "reboot: Power down" >> $C ;;\nesac\n`, { mode: 0o755 });
  return { console, script, launches: () => Number(readFileSync(join(d, 'launches'), 'utf8')) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('guestAskedReset()', () => {
  it('is true when the last kernel reset/power-off line is a reset (a reboot, or a panic with panic=N)', () => {
    expect(guestAskedReset('[  55.1] systemd-shutdown[1]: Rebooting.\r\n[  55.2] reboot: Restarting system\r\n')).toBe(true);
    expect(guestAskedReset('Kernel panic - not syncing: VFS\n---[ end Kernel panic ]---\nRebooting in 10 seconds..\n')).toBe(true);
    expect(guestAskedReset('[ 1.0] reboot: Restarting system\n--- fcos: x ---\n[ 9.0] reboot: Power down\n')).toBe(false);
  });
  it('is false for a power-off, a halt, or no such line (QMP quit, SIGTERM: the host stopped it)', () => {
    expect(guestAskedReset('[  55.2] reboot: Power down\n')).toBe(false);
    expect(guestAskedReset('reboot: System halted\n')).toBe(false);
    expect(guestAskedReset('[  12.0] etcd[800]: ready to serve client requests\n')).toBe(false);
    expect(guestAskedReset('')).toBe(false);
  });
});

describe('the supervisor command line', () => {
  it('wraps the QEMU command: node <script> --console <path> -- qemu …, and parses back', () => {
    const c = coldRebootCommand('/run/n1/console.txt', 'qemu-system-x86_64', ['-name', 'fcos-n1', '-no-reboot'], '/usr/bin/node', '/x/cold-reboot.js');
    expect(c).toEqual({ file: '/usr/bin/node', args: ['/x/cold-reboot.js', '--console', '/run/n1/console.txt', '--', 'qemu-system-x86_64', '-name', 'fcos-n1', '-no-reboot'] });
    expect(parseSupervisorArgs(c.args.slice(1))).toEqual({ consolePath: '/run/n1/console.txt', file: 'qemu-system-x86_64', args: ['-name', 'fcos-n1', '-no-reboot'] });
    expect(() => parseSupervisorArgs(['--console', '/c'])).toThrow(/usage/);
    expect(() => parseSupervisorArgs(['--', 'qemu'])).toThrow(/usage/);
  });
  it('a coldReboots VM runs QEMU with -no-reboot (the reset ends QEMU, the supervisor starts the next)', () => {
    const base = { name: 'n1', dir: '/tmp/n1', ssh: { key: '/k' } };
    const l = { accel: 'tcg' as const, ovmf: undefined, disk: { path: '/d.qcow2', format: 'qcow2' as const }, sshPort: 2222, consolePath: '/tmp/n1/console.txt', qmpSocket: '/tmp/q.sock' };
    expect(buildQemuArgs(launchConfig({ ...base, coldReboots: true }, l))).toContain('-no-reboot');
    expect(buildQemuArgs(launchConfig(base, l))).not.toContain('-no-reboot');
  });
});

describe('superviseColdReboots()', () => {
  it('starts QEMU again after each guest reboot and ends with it on a power-off', async () => {
    const q = fakeQemu(['echo "reboot: Restarting system" >> $C', 'echo "reboot: Restarting system" >> $C']);
    expect(await superviseColdReboots({ consolePath: q.console, file: q.script, args: [] })).toBe(0);
    expect(q.launches()).toBe(3);
    const text = readFileSync(q.console, 'utf8');
    expect(text.match(/--- fcos: cold reboot \d+/g)).toEqual(['--- fcos: cold reboot 1', '--- fcos: cold reboot 2']);
    // Each launch's kernel follows the note of its restart.
    expect(text.indexOf('(launch 2)')).toBeGreaterThan(text.indexOf('cold reboot 1'));
    expect(text.trim().endsWith('reboot: Power down')).toBe(true);
  });

  it('does not start QEMU again when it stopped without a guest reset (QMP quit), nor after a failure', async () => {
    const quit = fakeQemu(['exit 0']);
    expect(await superviseColdReboots({ consolePath: quit.console, file: quit.script, args: [] })).toBe(0);
    expect(quit.launches()).toBe(1);
    const failed = fakeQemu(['echo "qemu: could not open disk" >&2; exit 1']);
    expect(await superviseColdReboots({ consolePath: failed.console, file: failed.script, args: [] })).toBe(1);
    expect(failed.launches()).toBe(1);
    // Only this launch's console counts: an earlier reboot line is not a reason to start again.
    const old = fakeQemu(['echo "reboot: Restarting system" >> $C', 'exit 0']);
    expect(await superviseColdReboots({ consolePath: old.console, file: old.script, args: [] })).toBe(0);
    expect(old.launches()).toBe(2);
  });

  it('tries a relaunch that fails at once again (a port not free yet), and stops a reboot loop', async () => {
    const q = fakeQemu(['echo "reboot: Restarting system" >> $C', 'echo "hostfwd: address in use" >&2; exit 1', 'echo "reboot: Power down" >> $C']);
    expect(await superviseColdReboots({ consolePath: q.console, file: q.script, args: [], retryDelayMs: 10 })).toBe(0);
    expect(q.launches()).toBe(3);
    const loop = fakeQemu(Array(5).fill('echo "reboot: Restarting system" >> $C'));
    expect(await superviseColdReboots({ consolePath: loop.console, file: loop.script, args: [], maxRestarts: 2 })).toBe(0);
    expect(loop.launches()).toBe(3);
    expect(readFileSync(loop.console, 'utf8')).toContain('the guest rebooted 3 times; not starting QEMU again');
  });

  it('as a process: SIGTERM reaches QEMU and ends both; a SIGKILL of its process group ends both', async () => {
    await buildCli();
    const script = join(REPO, 'dist', 'qemu', 'cold-reboot.js');
    for (const how of ['SIGTERM', 'group SIGKILL'] as const) {
      const id = n + 1; // fakeQemu's case number
      const q = fakeQemu([`trap 'echo TERM > ${dir}/term-${id}; exit 0' TERM; echo $$ > ${dir}/qpid-${id}; echo ready > ${dir}/ready-${id}; while :; do sleep 0.1; done`]);
      const sup = spawn(process.execPath, [script, '--console', q.console, '--', q.script], { detached: true, stdio: 'ignore' });
      groups.push(sup.pid!);
      for (let i = 0; i < 100 && !existsSync(join(dir, `ready-${id}`)); i++) await sleep(50);
      const qpid = Number(readFileSync(join(dir, `qpid-${id}`), 'utf8'));
      expect(alive(qpid)).toBe(true);
      const exited = new Promise<{ code: number | null; signal: string | null }>((r) => sup.once('exit', (code, signal) => r({ code, signal })));
      if (how === 'SIGTERM') {
        process.kill(sup.pid!, 'SIGTERM');
        expect(await exited).toEqual({ code: 0, signal: null });
        expect(readFileSync(join(dir, `term-${id}`), 'utf8').trim()).toBe('TERM');
      } else {
        process.kill(-sup.pid!, 'SIGKILL');
        expect((await exited).signal).toBe('SIGKILL');
      }
      for (let i = 0; i < 50 && alive(qpid); i++) await sleep(50);
      expect(alive(qpid), `${how}: QEMU still running`).toBe(false);
      expect(q.launches()).toBe(1);
    }
  }, 120_000);
});
