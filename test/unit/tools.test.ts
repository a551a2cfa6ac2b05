/** lib/tools.ts: the one "is this tool installed" check (PATH lookup, no subprocess) and its messages. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../lib/errors.js';
import { findTool, haveTool, missingToolError, requireTools } from '../../lib/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'fcos-tools-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function caught(fn: () => void): UserError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('did not throw');
}

describe('findTool / haveTool', () => {
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  mkdirSync(a);
  mkdirSync(b);
  writeFileSync(join(a, 'tool'), '#!/bin/sh\n', { mode: 0o644 }); // not executable: skipped
  writeFileSync(join(b, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  mkdirSync(join(a, 'dir-tool'), { mode: 0o755 }); // a directory is not a tool
  chmodSync(join(a, 'dir-tool'), 0o755);

  it('finds the first executable file on the PATH given', () => {
    expect(findTool('tool', `${a}::${b}`)).toBe(join(b, 'tool'));
    expect(findTool('dir-tool', a)).toBeUndefined();
    expect(findTool('no-such-tool', `${a}:${b}`)).toBeUndefined();
  });

  it('takes a path with a slash as it is', () => {
    expect(findTool(join(b, 'tool'), '')).toBe(join(b, 'tool'));
    expect(findTool(join(a, 'tool'), '')).toBeUndefined();
  });

  it('looks on the process PATH by default', () => {
    expect(haveTool('sh')).toBe(true);
    expect(haveTool('no-such-tool-fcos')).toBe(false);
  });
});

describe('requireTools', () => {
  it('passes when every tool is there', () => {
    expect(() => requireTools(['sh'])).not.toThrow();
  });

  it('one missing tool: its name, and the Debian package to install', () => {
    const e = caught(() => requireTools(['sh', 'mmdebstrap-not-here']));
    expect(e.message).toBe("required tool 'mmdebstrap-not-here' was not found");
    expect(e.hint).toBe("install 'mmdebstrap-not-here' and make sure it is on PATH");
    expect(e).toEqual(missingToolError('mmdebstrap-not-here'));
  });

  it('a known tool names its package', () => {
    const e = missingToolError('qemu-img');
    expect(e.message).toBe("required tool 'qemu-img' was not found");
    expect(e.hint).toBe('install it with: apt-get install qemu-utils');
  });

  it('several: every missing tool, and their packages', () => {
    const e = caught(() => requireTools(['sh', 'no-such-tool-1', 'no-such-tool-2']));
    expect(e.message).toBe('required tools not found: no-such-tool-1, no-such-tool-2');
    expect(e.hint).toBe('install with: apt-get install no-such-tool-1 no-such-tool-2');
  });

  it('run() of a missing binary gives the same error', async () => {
    const { run } = await import('../../lib/run.js');
    const err = await run('mmdebstrap-not-here', []).catch((x: unknown) => x);
    expect(err).toEqual(missingToolError('mmdebstrap-not-here'));
  });
});
