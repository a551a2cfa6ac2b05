import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../lib/run.js';
import { InterruptedError } from '../../lib/errors.js';
import { installSignalHandlers, interrupted } from '../../lib/signals.js';
import { removeWorkDir } from '../../ostree/workdir.js';

// This file interrupts its own (isolated) worker: after that, only cleanup commands may run.
describe('cleanup after an interrupt', () => {
  it('run() refuses normal commands but runs cleanup commands; removeWorkDir still works', async () => {
    installSignalHandlers();
    process.emit('SIGTERM', 'SIGTERM');
    expect(interrupted()).toBe('SIGTERM');
    await expect(run('true')).rejects.toBeInstanceOf(InterruptedError);
    const r = await run('sh', ['-c', 'echo ok'], { cleanup: true });
    expect(r.stdout).toBe('ok\n');
    const d = mkdtempSync(join(tmpdir(), 'fcos-cleanup-'));
    mkdirSync(join(d, 'rootfs', 'usr'), { recursive: true });
    writeFileSync(join(d, 'rootfs', 'usr', 'f'), 'x');
    await removeWorkDir(d);
    expect(existsSync(d)).toBe(false);
  });
});
