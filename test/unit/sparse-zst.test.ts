/**
 * metal.raw.zst with an extent index (images/sparse-zst.ts) and the installer's writer
 * (ostree/guest/pxe-live/fcos-sparse-write.sh), run here on files: a 64 MiB sparse image with a few data blocks,
 * encoded, then written into a fresh file by the same script the PXE initramfs runs.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARKER_BYTES, SPARSE_MAGIC, markerFrame, scanRegions, writeSparseZst, zeroFrame } from '../../images/sparse-zst.js';

const ROOT = join(__dirname, '..', '..');
const WRITER = join(ROOT, 'ostree', 'guest', 'pxe-live', 'fcos-sparse-write.sh');
const MiB = 1024 * 1024;
const SIZE = 64 * MiB + 12_345; // a partial last block too
const t = mkdtempSync(join(tmpdir(), 'fcos-sparse-'));
const raw = join(t, 'disk.raw');
const zst = join(t, 'disk.raw.zst');
afterAll(() => rmSync(t, { recursive: true, force: true }));

/** Some data at these offsets (the rest of the 64 MiB file is a hole). */
const DATA: [number, number][] = [
  [0, 4096], // the protective MBR / GPT area
  [512 * 1024, 100], // still in the first MiB
  [5 * MiB, 300_000], // data, then a 2 MiB gap (merged), then more data
  [8 * MiB + 17, 5000],
  [40 * MiB, MiB], // a block that is all data, after a long zero run
  [SIZE - 1000, 1000], // the partial last block
];

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = (x & 0xff) | 1; // never 0: every data byte is non-zero
  }
  return b;
}

function sh(cmd: string, input?: Buffer): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { input, maxBuffer: 1 << 30 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: String(r.stderr) };
}

/** Run the writer on stdin `stream` into a fresh target of SIZE bytes (filled with `fill` unless 0: a hole). */
function writeInto(stream: string, o: { zeroed: boolean; fill?: number; name: string }): { code: number; stderr: string; target: string; head: string } {
  const target = join(t, `${o.name}.target`);
  const head = join(t, `${o.name}.head`);
  const work = mkdtempSync(join(t, `${o.name}-w-`));
  rmSync(target, { force: true });
  rmSync(head, { force: true });
  if (o.fill) writeFileSync(target, Buffer.alloc(SIZE, o.fill));
  else execFileSync('truncate', ['-s', String(SIZE), target]);
  const r = sh(`bash ${WRITER} ${target} ${head} ${work} ${o.zeroed ? '1' : "''"} < ${stream}`);
  return { code: r.code, stderr: r.stderr, target, head };
}

/** The target holds the image except the first MiB, which is in head (and not on the target). */
function expectWritten(target: string, head: string, rawBytes: Buffer, headOnTarget: Buffer): void {
  const got = readFileSync(target);
  expect(got.length).toBe(SIZE);
  expect(readFileSync(head).equals(rawBytes.subarray(0, MiB))).toBe(true);
  expect(got.subarray(0, MiB).equals(headOnTarget)).toBe(true);
  expect(got.subarray(MiB).equals(rawBytes.subarray(MiB))).toBe(true);
}

/** Allocated bytes of a file (du's view). */
const allocated = (p: string) => Number(execFileSync('du', ['-B1', '--', p], { encoding: 'utf8' }).split('\t')[0]);

let rawBytes: Buffer;
beforeAll(async () => {
  execFileSync('truncate', ['-s', String(SIZE), raw]);
  const fd = openSync(raw, 'r+');
  DATA.forEach(([off, n], i) => writeSync(fd, pattern(n, i + 7), 0, n, off));
  closeSync(fd);
  rawBytes = readFileSync(raw);
  await writeSparseZst(raw, zst, { level: 3 });
});

describe('the encoder', () => {
  it('a zero frame decompresses (host zstd) to exactly n zero bytes, a few bytes per 128 KiB', () => {
    for (const n of [1, 131_072, 131_073, 5 * MiB + 3]) {
      const r = sh('zstd -dcq', zeroFrame(n));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.length).toBe(n);
      expect(r.stdout.equals(Buffer.alloc(n))).toBe(true);
    }
    expect(zeroFrame(1024 * MiB).length).toBeLessThan(33_000);
  });

  it('a marker is a 128-byte zstd skippable frame with one text line', () => {
    const m = markerFrame('data', 5 * MiB, 42, 7);
    expect(m.length).toBe(MARKER_BYTES);
    expect(m.readUInt32LE(0)).toBe(SPARSE_MAGIC);
    expect(SPARSE_MAGIC & 0xfffffff0).toBe(0x184d2a50); // the skippable-frame range
    expect(m.readUInt32LE(4)).toBe(MARKER_BYTES - 8);
    expect(m.subarray(8).toString('ascii').trim()).toBe(`fcos-sparse-1 data ${5 * MiB} 42 7`);
  });

  it('regions: the first MiB as head, data with short gaps merged, long zero runs, contiguous up to the size', () => {
    const r = scanRegions(raw);
    expect(r.map((x) => [x.kind, x.offset, x.length])).toEqual([
      ['head', 0, MiB],
      ['zero', MiB, 4 * MiB],
      ['data', 5 * MiB, 4 * MiB], // 5–6 MiB data, 6–8 MiB zeros (< 8 MiB gap: merged), 8–9 MiB data
      ['zero', 9 * MiB, 31 * MiB],
      ['data', 40 * MiB, MiB],
      ['zero', 41 * MiB, 23 * MiB],
      ['data', 64 * MiB, 12_345],
    ]);
  });

  it('any zstd decompresses the file to the exact image', () => {
    const r = sh(`zstd -dcq ${zst}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(rawBytes)).toBe(true);
    expect(statSync(zst).size).toBeLessThan(2 * MiB);
  });
});

describe('the installer writer (fcos-sparse-write.sh)', () => {
  it('zeroed disk: writes the data regions only; the target is sparse, equal to the image, head held back', () => {
    const w = writeInto(zst, { zeroed: true, name: 'zeroed' });
    expect(w.code, w.stderr).toBe(0);
    expectWritten(w.target, w.head, rawBytes, Buffer.alloc(MiB));
    // Data: ≈ 1.3 MiB of pattern bytes in ~4 MiB of regions; the 63 MiB target has far less allocated than its size.
    expect(allocated(w.target)).toBeLessThan(4 * MiB);
    expect(statSync(w.target).size).toBe(SIZE);
  });

  it('a disk that was not discarded: the zero regions are written too (stale bytes overwritten)', () => {
    const w = writeInto(zst, { zeroed: false, fill: 0xee, name: 'stale' });
    expect(w.code, w.stderr).toBe(0);
    expectWritten(w.target, w.head, rawBytes, Buffer.alloc(MiB, 0xee));
  });

  it('a plain zstd image (no index) is decompressed whole, with the same result', () => {
    const plain = join(t, 'plain.raw.zst');
    execFileSync('zstd', ['-q', '-3', raw, '-o', plain]);
    const w = writeInto(plain, { zeroed: false, fill: 0xee, name: 'plain' });
    expect(w.code, w.stderr).toBe(0);
    expectWritten(w.target, w.head, rawBytes, Buffer.alloc(MiB, 0xee));
  });

  it('a truncated stream, a corrupted frame or garbage after the end is refused with exit 2', () => {
    const whole = readFileSync(zst);
    const cut = join(t, 'cut.zst');
    writeFileSync(cut, whole.subarray(0, whole.length - MARKER_BYTES)); // the end entry missing
    let w = writeInto(cut, { zeroed: true, name: 'cut' });
    expect(w.code).toBe(2);
    expect(w.stderr).toMatch(/ends at offset \d+ without its end entry/);

    const bad = Buffer.from(whole);
    // A byte inside the first data frame after the head: the data frame's content checksum no longer matches.
    const second = bad.indexOf(Buffer.from('fcos-sparse-1 data'), 0);
    bad[second + MARKER_BYTES + 200] ^= 0xff;
    const corrupt = join(t, 'corrupt.zst');
    writeFileSync(corrupt, bad);
    w = writeInto(corrupt, { zeroed: true, name: 'corrupt' });
    expect(w.code).toBe(2);
    expect(w.stderr).toMatch(/does not decompress|bad extent index|no extent index entry/);

    const extra = join(t, 'extra.zst');
    writeFileSync(extra, Buffer.concat([whole, Buffer.from('x')]));
    w = writeInto(extra, { zeroed: true, name: 'extra' });
    expect(w.code).toBe(2);
    expect(w.stderr).toMatch(/data after the end of the image/);
  });

  it('a write that fails is exit 3', () => {
    const w = mkdtempSync(join(t, 'ro-'));
    const r = sh(`bash ${WRITER} /dev/full ${join(w, 'head')} ${w} 1 < ${zst}`);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/writing to \/dev\/full at offset \d+ failed/);
  });
});

describe('the installer uses it', () => {
  const dir = join(ROOT, 'ostree', 'guest', 'pxe-live');
  it('fcos-install.sh pipes the download through fcos-sparse-write, zeroed only after a successful blkdiscard', () => {
    const s = readFileSync(join(dir, 'fcos-install.sh'), 'utf8');
    expect(s).toMatch(/\| tee \$w\/sum\.fifo \\\n\s+\| \/usr\/libexec\/fcos-sparse-write "\$dev" \$w\/head \$w "\$zeroed"/);
    expect(s).toMatch(/if command -v blkdiscard >\/dev\/null && blkdiscard "\$dev" 2>\/dev\/null; then zeroed=1; fi/);
    expect(s).not.toMatch(/zstd -d/);
  });
  it('the dracut module installs the writer and od', () => {
    const s = readFileSync(join(dir, 'module-setup.sh'), 'utf8');
    expect(s).toContain('inst_script "$moddir/fcos-sparse-write.sh" /usr/libexec/fcos-sparse-write');
    expect(s).toMatch(/inst_multiple curl .* od\n/);
    expect(statSync(WRITER).mode & 0o111).not.toBe(0);
  });
});
