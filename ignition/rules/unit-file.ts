/**
 * Parsing systemd unit contents like go-systemd's unit.Deserialize (what Ignition uses to check them):
 * sections, options, comments, continuation lines, with the library's error wording.
 */
import { goQuote } from './errors.js';

export interface UnitOption {
  section: string;
  name: string;
  value: string;
}

/** go-systemd's SYSTEMD_LINE_MAX. */
const LINE_MAX = 2048;

export class UnitParseError extends Error {}

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f' || c === '\u0085' || c === '\u00a0';

/** Returns the options, or throws UnitParseError with go-systemd's message. */
export function deserializeUnit(text: string): UnitOption[] {
  const opts: UnitOption[] = [];
  let i = 0;
  const n = text.length;
  let section = '';
  const toEOL = (): string => {
    const nl = text.indexOf('\n', i);
    let line: string;
    if (nl < 0) {
      line = text.slice(i);
      i = n;
    } else {
      line = text.slice(i, nl);
      i = nl + 1;
    }
    return line.endsWith('\r') ? line.slice(0, -1) : line;
  };
  for (;;) {
    // lexNextSectionOrOption
    if (i >= n) return opts;
    const c = text[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === '[') {
      i++;
      const end = text.indexOf(']', i);
      if (end < 0) throw new UnitParseError('unable to find end of section');
      section = text.slice(i, end);
      i = end + 1;
      const garbage = toEOL().trim();
      if (garbage.length > 0) throw new UnitParseError(`found garbage after section name : ${goQuote(garbage)}`);
      continue;
    }
    if (c === '#' || c === ';') {
      toEOL();
      continue;
    }
    // option name
    let name = '';
    for (;;) {
      if (i >= n) throw new UnitParseError('EOF');
      const r = text[i]!;
      i++;
      if (r === '\n' || r === '\r') throw new UnitParseError('unexpected newline encountered while parsing option name');
      if (r === '=') break;
      name += r;
    }
    name = name.trim();
    // option value, with continuation lines
    let value = '';
    for (;;) {
      const line = toEOL();
      if (value.length + line.length >= LINE_MAX) throw new UnitParseError(`line too long (max ${LINE_MAX} bytes)`);
      if (line.endsWith('\\')) {
        value += line.slice(0, -1) + ' ';
        // comment lines inside a continuation are skipped
        while (i < n && (text[i] === '#' || text[i] === ';')) toEOL();
        if (i >= n) break;
        continue;
      }
      value += line;
      break;
    }
    opts.push({ section, name, value: value.trim() });
  }
}
