/**
 * Issue 15 item 11 (the Butane parts, and `fcos version`): `butane -o` keeps an existing file's mode and creates
 * its temporary file with O_EXCL; input that is not UTF-8 is refused; the NUL position; trees through a
 * symlinked directory stay inside the files directory; the ostree version line.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { decodeButane, nodeFilesDir, translateAndValidate, translateButaneFile, writeFileAtomic } from '../../ignition/butane/index.js';
import { ERR_FILES_DIR_ESCAPE } from '../../ignition/butane/filesdir.js';
import { UserError } from '../../lib/errors.js';
import { versionLine } from '../../lib/version.js';

const dir = mkdtempSync(join(tmpdir(), 'fcos-butane-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const BUTANE = 'variant: fcos\nversion: 1.5.0\n';

describe('butane -o', () => {
  it('keeps the mode of an existing output file (0600 stays 0600)', async () => {
    const out = join(dir, 'secret.ign');
    writeFileSync(out, 'old');
    chmodSync(out, 0o600);
    await translateButaneFile({ input: `${BUTANE}passwd:\n  users:\n    - name: core\n      password_hash: x\n`, output: out });
    expect(statSync(out).mode & 0o7777).toBe(0o600);
    expect(JSON.parse(readFileSync(out, 'utf8')).passwd.users[0].passwordHash).toBe('x');
  });
  it('a new file is 0644 less the umask, and no temporary file is left', () => {
    const sub = join(dir, 'new');
    mkdirSync(sub);
    writeFileAtomic(join(sub, 'a.ign'), '{}\n');
    const umask = process.umask();
    expect(statSync(join(sub, 'a.ign')).mode & 0o777).toBe(0o644 & ~umask);
    expect(readdirSync(sub)).toEqual(['a.ign']);
  });
  it('does not write through something already at the temporary path (O_EXCL)', () => {
    const sub = join(dir, 'excl');
    mkdirSync(sub);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched');
    const now = vi.spyOn(Date, 'now').mockReturnValue(12345);
    try {
      symlinkSync(victim, join(sub, `.out.ign.${process.pid}.12345.tmp`));
      expect(() => writeFileAtomic(join(sub, 'out.ign'), 'data')).toThrow(UserError);
    } finally {
      now.mockRestore();
    }
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(readdirSync(sub)).toEqual([`.out.ign.${process.pid}.12345.tmp`]);
  });
});

describe('Butane input that is not UTF-8', () => {
  it('is refused with the position of the first bad byte, not turned into U+FFFD', async () => {
    const latin1 = Buffer.concat([Buffer.from(`${BUTANE}# caf`), Buffer.from([0xe9]), Buffer.from('\n')]);
    expect(() => decodeButane(latin1, 'x.bu: ')).toThrow(/^x\.bu: error at line 3 col 6: config is not valid UTF-8 text$/);
    const f = join(dir, 'latin1.bu');
    writeFileSync(f, latin1);
    await expect(translateButaneFile({ file: f })).rejects.toThrow(`${f}: error at line 3 col 6: config is not valid UTF-8 text`);
    // A UTF-8 BOM and multi-byte characters are fine.
    expect(decodeButane(Buffer.from(`\ufeff${BUTANE}# café ✓\n`))).toBe(`\ufeff${BUTANE}# café ✓\n`);
  });
  it('a NUL byte is reported where it is', () => {
    const r = translateAndValidate(`${BUTANE}storage:\n  files:\n    - path: /a\0b\n`);
    expect(r.findings).toEqual([{ severity: 'error', path: '$', line: 5, col: 15, message: 'error parsing YAML: null byte is not allowed in input' }]);
  });
});

describe('storage.trees through a symlinked directory', () => {
  const files = join(dir, 'files');
  const outside = join(dir, 'outside');
  mkdirSync(join(files, 'tree'), { recursive: true });
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(files, 'tree', 'ok.txt'), 'inside');
  writeFileSync(join(outside, 'sub', 'secret'), 'outside');
  symlinkSync(outside, join(files, 'link'));
  const tree = (local: string) => translateAndValidate(`${BUTANE}storage:\n  trees:\n    - local: ${local}\n      path: /t\n`, { filesDir: nodeFilesDir(files) });

  it('a tree inside the files directory still works', () => {
    const r = tree('tree');
    expect(r.findings).toEqual([]);
    expect(JSON.parse(r.json!).storage.files.map((f: { path: string }) => f.path)).toEqual(['/t/ok.txt']);
  });
  it('is refused: through the link, and below it', () => {
    for (const local of ['link', 'link/sub']) {
      const r = tree(local);
      expect(r.json).toBeUndefined();
      expect(r.findings).toEqual([expect.objectContaining({ severity: 'error', path: '$.storage.trees.0', message: ERR_FILES_DIR_ESCAPE })]);
    }
  });
});

describe('fcos version', () => {
  it("takes ostree's Version: value, other tools' first line", () => {
    expect(versionLine("libostree:\n Version: '2022.7'\n Features:\n  - libcurl\n")).toBe('libostree 2022.7');
    expect(versionLine('QEMU emulator version 7.2.22\nCopyright (c) 2003-2022\n')).toBe('QEMU emulator version 7.2.22');
    expect(versionLine('\n  mmdebstrap 1.3.5\n')).toBe('mmdebstrap 1.3.5');
    expect(versionLine('')).toBe('unknown');
  });
});
