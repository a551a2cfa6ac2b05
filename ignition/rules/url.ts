/** URL rules (config/v3_X/types/url.go): Go's net/url parsing, the allowed schemes per version, S3, ARN and data URLs. */
import { E } from './errors.js';

export interface GoUrl {
  scheme: string;
  opaque: string;
  host: string;
  path: string;
  rawQuery: string;
}

/** Whether a UTF-16 unit is a hex digit (NaN, past the end of a string, is not). */
function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

function badEscape(s: string): boolean {
  for (let i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 1)) if (!isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return true;
  return false;
}

/** A reduced port of Go's url.Parse: returns undefined where Go returns an error. */
export function goParseUrl(raw: string): GoUrl | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(raw)) return undefined;
  let rest = raw;
  let frag = '';
  const h = rest.indexOf('#');
  if (h >= 0) {
    frag = rest.slice(h + 1);
    rest = rest.slice(0, h);
  }
  if (badEscape(frag)) return undefined;
  // getScheme
  let scheme = '';
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) continue; // a-z A-Z
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) {
      // 0-9 + - .
      if (i === 0) break;
      continue;
    }
    if (c === 0x3a) {
      if (i === 0) return undefined; // missing protocol scheme
      scheme = rest.slice(0, i).toLowerCase();
      rest = rest.slice(i + 1);
    }
    break;
  }
  let rawQuery = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { scheme, opaque: rest, host: '', path: '', rawQuery };
    const colon = rest.indexOf(':');
    const slash = rest.indexOf('/');
    if (colon >= 0 && (slash < 0 || colon < slash)) return undefined; // first path segment cannot contain colon
  }
  let host = '';
  if (rest.startsWith('//')) {
    const after = rest.slice(2);
    const slash = after.indexOf('/');
    const authority = slash >= 0 ? after.slice(0, slash) : after;
    rest = slash >= 0 ? after.slice(slash) : '';
    const at = authority.lastIndexOf('@');
    const userinfo = at >= 0 ? authority.slice(0, at) : '';
    if (at >= 0 && (badEscape(userinfo) || !/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo))) return undefined;
    host = at >= 0 ? authority.slice(at + 1) : authority;
    if (!validHost(host)) return undefined;
  }
  if (badEscape(rest)) return undefined;
  return { scheme, opaque: '', host, path: rest, rawQuery };
}

function validHost(host: string): boolean {
  let port = '';
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return false;
    const after = host.slice(end + 1);
    if (after !== '' && !after.startsWith(':')) return false;
    port = after;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      port = host.slice(colon);
      host = host.slice(0, colon);
    }
    if (badEscape(host)) return false;
    for (const ch of host) if (ch.charCodeAt(0) < 0x80 && !/[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%]/.test(ch)) return false;
  }
  if (port !== '' && !/^:\d*$/.test(port)) return false;
  return true;
}

/** Go's url.ParseQuery values for one key (only what the S3 checks need). */
function queryValues(rawQuery: string, key: string): string[] | undefined {
  let found: string[] | undefined;
  for (const part of rawQuery.split(/[&]/)) {
    if (part === '' || part.includes(';')) continue;
    const eq = part.indexOf('=');
    const k = eq >= 0 ? part.slice(0, eq) : part;
    const v = eq >= 0 ? part.slice(eq + 1) : '';
    let dk: string;
    let dv: string;
    try {
      dk = decodeURIComponent(k.replace(/\+/g, ' '));
      dv = decodeURIComponent(v.replace(/\+/g, ' '));
    } catch {
      continue;
    }
    if (dk === key) (found ??= []).push(dv);
  }
  return found;
}

function checkVersionId(u: GoUrl): string | undefined {
  const v = queryValues(u.rawQuery, 'versionId');
  if (v && (v.length === 0 || v[0] === '')) return E.InvalidS3ObjectVersionId;
  return undefined;
}

function checkArn(raw: string, u: GoUrl): string | undefined {
  const full = `${u.scheme}:${u.opaque}`;
  const parts = full.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return E.InvalidS3ARN;
  const service = parts[2];
  const resource = parts.slice(5).join(':');
  if (service !== 's3') return E.InvalidS3ARN;
  const slashParts = full.split('/');
  if (resource.startsWith('accesspoint/')) {
    if (slashParts.length < 3) return E.InvalidS3ARN;
  } else if (slashParts.length < 2) return E.InvalidS3ARN;
  void raw;
  return checkVersionId(u);
}

/** validateURL: undefined when the URL is acceptable for the spec version, else Ignition's message. */
export function validateUrl(s: string, minor: number): string | undefined {
  const u = goParseUrl(s);
  if (!u) return E.InvalidUrl;
  switch (u.scheme) {
    case 'http':
    case 'https':
    case 'tftp':
      return undefined;
    case 'gs':
      return minor >= 2 ? undefined : E.InvalidScheme;
    case 's3':
      return checkVersionId(u);
    case 'arn':
      return minor >= 4 ? checkArn(s, u) : E.InvalidScheme;
    case 'data':
      return decodeDataUrl(s);
    default:
      return E.InvalidScheme;
  }
}

/** validateURLNilOK: an unset (or empty) source is fine. */
export function validateUrlNilOk(s: unknown, minor: number): string | undefined {
  if (s === undefined || s === '') return undefined;
  return validateUrl(s as string, minor);
}

// ---- data URLs (github.com/vincent-petithory/dataurl) ----

const TSPECIALS = '()<>@,;:\\"/[]?=';
const isTokenChar = (c: string) => c > ' ' && c < '\x7f' && !TSPECIALS.includes(c);
const DATA_CHARS = /^[A-Za-z0-9\-_.!~*'();/?:@&=+$,%]*$/;

/** Decode a data URL; undefined when it decodes, else the library's message (vincent-petithory/dataurl's lexer). */
export function decodeDataUrl(s: string): string | undefined {
  let i = 'data:'.length;
  const n = s.length;
  let base64 = false;
  const atEnd = () => i >= n;
  if (atEnd()) return 'missing comma before data';
  if (s[i] !== ',' && s[i] !== ';') {
    if (!isTokenChar(s[i]!)) return 'invalid character after data prefix';
    // media type: type "/" subtype
    while (!atEnd() && s[i] !== '/') {
      if (!isTokenChar(s[i]!)) return 'invalid character for media type';
      i++;
    }
    if (atEnd()) return 'missing media type slash';
    i++;
    while (!atEnd() && s[i] !== ';' && s[i] !== ',') {
      if (!isTokenChar(s[i]!)) return 'invalid character for media subtype';
      i++;
    }
    if (atEnd()) return 'incomplete media type';
  }
  // parameters: ;attribute=value … or a final ;base64
  while (!atEnd() && s[i] === ';') {
    i++;
    const start = i;
    while (!atEnd() && s[i] !== '=' && s[i] !== ',' && s[i] !== ';') {
      if (!isTokenChar(s[i]!)) return 'invalid character for parameter attribute';
      i++;
    }
    if (atEnd()) return 'unterminated parameter sequence';
    const attr = s.slice(start, i);
    if (s[i] === '=') {
      i++;
      const vstart = i;
      while (!atEnd() && s[i] !== ',' && s[i] !== ';') {
        if (!isTokenChar(s[i]!)) return 'invalid character for parameter value';
        i++;
      }
      if (i === vstart) return 'invalid character for parameter value';
      if (atEnd()) return 'unterminated parameter sequence';
      continue;
    }
    if (attr !== 'base64') return `expected base64, got ${attr}`;
    if (s[i] !== ',') return 'invalid character for parameter attribute';
    base64 = true;
  }
  if (atEnd() || s[i] !== ',') return 'missing comma before data';
  i++;
  const data = s.slice(i);
  // Whole-string checks first: a data URL can be tens of megabytes.
  if (base64) {
    if (!/^[A-Za-z0-9+/=]*$/.test(data)) return 'invalid data character';
    if (data.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(data)) return undefined;
    return base64Error(data);
  }
  if (!DATA_CHARS.test(data)) return 'invalid data character';
  if (!data.includes('%')) return undefined;
  return unescapeDataError(data);
}

/** Checks the percent-escapes of the data (the decoded bytes are not needed): Go's error, or undefined. */
function unescapeDataError(s: string): string | undefined {
  for (let i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 3)) {
    for (let k = 1; k <= 2; k++) {
      if (i + k >= s.length) return 'rfc2396: unexpected end of unescape sequence';
      if (!isHex(s.charCodeAt(i + k))) return 'rfc2396: invalid char 0x25 in unescape sequence';
    }
  }
  return undefined;
}

const B64 = /[A-Za-z0-9+/]/;
/** Go's base64.StdEncoding.DecodeString error, or undefined. */
export function base64Error(src: string): string | undefined {
  const err = (at: number) => `illegal base64 data at input byte ${at}`;
  let si = 0;
  const n = src.length;
  for (;;) {
    let j = 0;
    for (; j < 4; j++) {
      while (si < n && (src[si] === '\n' || src[si] === '\r')) si++;
      if (si === n) {
        if (j === 0) return undefined;
        return err(si - j);
      }
      const c = src[si]!;
      si++;
      if (c === '=') {
        if (j === 0 || j === 1) return err(si - 1);
        if (j === 2) {
          while (si < n && (src[si] === '\n' || src[si] === '\r')) si++;
          if (si === n) return err(n);
          if (src[si] !== '=') return err(si - 1);
          si++;
        }
        while (si < n && (src[si] === '\n' || src[si] === '\r')) si++;
        if (si < n) return err(si);
        return undefined;
      }
      if (!B64.test(c)) return err(si - 1);
    }
  }
}
