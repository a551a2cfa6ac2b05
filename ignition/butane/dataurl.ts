/**
 * Data URLs for inline and local contents, chosen as Butane's MakeDataURL chooses them (base/util/url.go):
 * URL-escaped with vincent-petithory/dataurl's Escape, unless base64 is shorter; then, when the config does not set
 * a compression already and auto-compression is on, gzip (best compression) + base64 when that is shorter even
 * after counting the 4 characters of `"gzip"`.
 *
 * Go's deflate and zlib's produce different (equally valid) bytes, so a gzip data URL is not
 * byte-identical to Butane's; the header is written like Go's (mtime 0, XFL 2, OS 255).
 */
import { gzipSync } from 'node:zlib';

/**
 * Each byte's spelling in dataurl.Escape (rfc2396.go): the RFC 2396 unreserved characters `A-Za-z0-9-_.!~*'()` as
 * they are, every other byte as %XX (upper-case hex).
 */
const ESCAPED: string[] = Array.from({ length: 256 }, (_v, b) => {
  const c = String.fromCharCode(b);
  return /[A-Za-z0-9\-_.!~*'()]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
});

/** dataurl.Escape, byte by byte. */
export function dataUrlEscape(data: Uint8Array): string {
  const parts: string[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) parts[i] = ESCAPED[data[i]!]!;
  return parts.join('');
}

export function gzipGo(data: Uint8Array): Buffer {
  const gz = gzipSync(data, { level: 9 });
  gz[4] = gz[5] = gz[6] = gz[7] = 0; // mtime
  gz[8] = 2; // XFL: best compression
  gz[9] = 255; // OS: unknown, as Go writes it
  return gz;
}

export interface DataUrl {
  source: string;
  /** The compression to record: '' (none, set explicitly so a child config can't inherit one), 'gzip', or undefined (leave the user's value). */
  compression?: string;
}

export function makeDataUrl(contents: Uint8Array, currentCompression: string | undefined, allowCompression = true): DataUrl {
  const userCompressed = currentCompression !== undefined && currentCompression !== '';
  let compression: string | undefined = userCompressed ? undefined : '';
  let opaque = ',' + dataUrlEscape(contents);
  const b64 = ';base64,' + Buffer.from(contents).toString('base64');
  if (b64.length < opaque.length) opaque = b64;
  if (!userCompressed && allowCompression) {
    const gz = ';base64,' + gzipGo(contents).toString('base64');
    if (gz.length + 'gzip'.length < opaque.length) {
      opaque = gz;
      compression = 'gzip';
    }
  }
  return { source: 'data:' + opaque, compression };
}
