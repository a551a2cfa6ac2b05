/**
 * metal.raw.zst with an extent index: a zstd file that any zstd decompresses to the raw disk image, and that the PXE
 * installer (ostree/guest/pxe-live/fcos-sparse-write.sh) writes without decompressing or writing the image's
 * all-zero regions.
 *
 * The file is a sequence of zstd frames. Before each ordinary frame sits a zstd *skippable* frame (ignored by every
 * zstd decoder) that says what the next frame holds:
 *
 *   skippable frame: magic 0x184D2A5E (LE), payload size 120 (LE), payload = ASCII
 *                    "fcos-sparse-1 KIND OFFSET LENGTH CSIZE", padded with spaces, ending in "\n"
 *   zstd frame:      CSIZE bytes that decompress to LENGTH bytes, the image's bytes [OFFSET, OFFSET+LENGTH)
 *
 * KIND is `head` (the first MiB, held back by the installer until the download is verified), `data` (a region with
 * data; small zero gaps are merged into it) or `zero` (an all-zero region: an RLE-only frame of a few bytes per
 * 128 KiB, so that `zstd -d` still gives the exact image). A last marker `end SIZE 0 0` has no frame after it. The
 * regions are contiguous and in order: head at 0, then data/zero, up to SIZE.
 *
 * The installer writes `data` frames at their offset and skips `zero` regions when the disk reads zeros there (after
 * a successful blkdiscard); otherwise it writes them too. So an 8 GiB image with ~2 GiB of data costs the installer
 * ~2 GiB of decompression and writes instead of 8 GiB through `zstd -d | dd`.
 */
import { closeSync, openSync, readSync, statSync, writeSync, fstatSync } from 'node:fs';
import { run, shellQuote } from '../lib/run.js';
import { BugError } from '../lib/errors.js';

export const SPARSE_MAGIC = 0x184d2a5e;
export const SPARSE_TAG = 'fcos-sparse-1';
/** A marker is one skippable frame of this many bytes (8-byte header + 120-byte payload). */
export const MARKER_BYTES = 128;
const MiB = 1024 * 1024;
/** The installer holds back this much (protective MBR with GRUB's boot code, primary GPT). */
export const HEAD_BYTES = MiB;

export type RegionKind = 'head' | 'data' | 'zero';
export interface Region {
  kind: RegionKind;
  offset: number;
  length: number;
}

/** The skippable frame announcing the next frame (or the end). */
export function markerFrame(kind: RegionKind | 'end', offset: number, length: number, csize: number): Buffer {
  const text = `${SPARSE_TAG} ${kind} ${offset} ${length} ${csize}`;
  if (text.length > MARKER_BYTES - 8 - 1) throw new BugError(`marker too long: ${text}`);
  const b = Buffer.alloc(MARKER_BYTES, 0x20);
  b.writeUInt32LE(SPARSE_MAGIC, 0);
  b.writeUInt32LE(MARKER_BYTES - 8, 4);
  b.write(text, 8, 'ascii');
  b[MARKER_BYTES - 1] = 0x0a;
  return b;
}

const BLOCK_MAX = 128 * 1024;
/**
 * A zstd frame that decompresses to `n` zero bytes: RLE blocks of 128 KiB (4 bytes each). Window 128 KiB (so the
 * decoder needs no more memory than for any other frame) and the content size in the header.
 */
export function zeroFrame(n: number): Buffer {
  const blocks = Math.max(1, Math.ceil(n / BLOCK_MAX));
  const b = Buffer.alloc(4 + 1 + 1 + 8 + blocks * 4);
  b.writeUInt32LE(0xfd2fb528, 0);
  b[4] = 0xc0; // Frame_Header_Descriptor: 8-byte content size, no single segment, no checksum, no dictionary
  b[5] = 0x38; // Window_Descriptor: exponent 7, mantissa 0 → 2^17 = 128 KiB
  b.writeBigUInt64LE(BigInt(n), 6);
  let p = 14;
  for (let i = 0, left = n; i < blocks; i++) {
    const size = Math.min(BLOCK_MAX, left);
    left -= size;
    const last = i === blocks - 1 ? 1 : 0;
    // Block_Header (3 bytes LE): Last_Block, Block_Type 1 (RLE), Block_Size (the regenerated size); then the byte.
    const h = last | (1 << 1) | (size << 3);
    b[p] = h & 0xff;
    b[p + 1] = (h >> 8) & 0xff;
    b[p + 2] = (h >> 16) & 0xff;
    b[p + 3] = 0;
    p += 4;
  }
  return b;
}

/**
 * The image's regions: the first MiB as `head`, then `data` and `zero` runs of whole `block`s (an all-zero block is
 * zero); zero runs shorter than `minGap` between data are merged into the data (fewer frames: each costs the
 * installer a few processes).
 */
export function scanRegions(path: string, o: { block?: number; minGap?: number } = {}): Region[] {
  const block = o.block ?? MiB;
  const minGap = o.minGap ?? 8 * MiB;
  if (block <= 0 || HEAD_BYTES % block !== 0) throw new BugError(`block size ${block} must divide ${HEAD_BYTES}`);
  const size = statSync(path).size;
  const raw: Region[] = [{ kind: 'head', offset: 0, length: Math.min(HEAD_BYTES, size) }];
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(block);
    const zero = Buffer.alloc(block);
    for (let off = HEAD_BYTES; off < size; off += block) {
      const n = readSync(fd, buf, 0, Math.min(block, size - off), off);
      const kind: RegionKind = buf.subarray(0, n).equals(zero.subarray(0, n)) ? 'zero' : 'data';
      const last = raw[raw.length - 1]!;
      if (last.kind === kind) last.length += n;
      else raw.push({ kind, offset: off, length: n });
    }
  } finally {
    closeSync(fd);
  }
  // Merge short zero runs that sit between two data runs.
  const out: Region[] = [];
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i]!;
    const prev = out[out.length - 1];
    const next = raw[i + 1];
    if (r.kind === 'zero' && r.length < minGap && prev?.kind === 'data' && next?.kind === 'data') {
      prev.length += r.length + next.length;
      i++;
      continue;
    }
    if (r.kind === 'data' && prev?.kind === 'data') {
      prev.length += r.length;
      continue;
    }
    out.push({ ...r });
  }
  return out;
}

/**
 * Write `out` (which must not exist or is replaced) from the raw image: markers, zstd frames of the head and data
 * regions (zstd -T0 at `level`), RLE frames of the zero regions, the end marker. Returns the regions.
 */
export async function writeSparseZst(raw: string, out: string, o: { level?: number; block?: number; minGap?: number } = {}): Promise<Region[]> {
  const regions = scanRegions(raw, o);
  const size = statSync(raw).size;
  const fd = openSync(out, 'w');
  try {
    for (const r of regions) {
      // Every write at the end of the file: zstd appends through its own descriptor (O_APPEND), not through fd.
      if (r.kind === 'zero') {
        const f = zeroFrame(r.length);
        writeSync(fd, Buffer.concat([markerFrame(r.kind, r.offset, r.length, f.length), f]), 0, MARKER_BYTES + f.length, fstatSync(fd).size);
        continue;
      }
      // The marker first with a place-holder size, the frame appended by zstd, then the marker's real size.
      const at = fstatSync(fd).size;
      writeSync(fd, markerFrame(r.kind, r.offset, r.length, 0), 0, MARKER_BYTES, at);
      const cmd =
        `dd if=${shellQuote(raw)} bs=1M iflag=skip_bytes,count_bytes skip=${r.offset} count=${r.length} status=none` +
        ` | zstd -q -T0 -${o.level ?? 3} -c >> ${shellQuote(out)}`;
      await run('bash', ['-o', 'pipefail', '-c', cmd], { purpose: `compress the image's bytes ${r.offset}+${r.length}` });
      const csize = fstatSync(fd).size - at - MARKER_BYTES;
      writeSync(fd, markerFrame(r.kind, r.offset, r.length, csize), 0, MARKER_BYTES, at);
    }
    writeSync(fd, markerFrame('end', size, 0, 0), 0, MARKER_BYTES, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
  return regions;
}
