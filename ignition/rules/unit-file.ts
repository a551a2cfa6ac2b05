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
  let section: string | undefined; // undefined until the first section header: text before it is skipped
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
    if (i >= n) return opts;
    const c = text[i]!;
    if (section === undefined) {
      // lexNextSection: anything before the first '[' is ignored; a comment character skips its line.
      i++;
      if (c === '[') readSection();
      else if (c === '#' || c === ';') toEOL();
      continue;
    }
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === '[') {
      i++;
      readSection();
      continue;
    }
    if (c === '#' || c === ';') {
      toEOL();
      continue;
    }
    // option name
    const nameStart = i;
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
    // option value, with continuation lines (a line ending in a backslash)
    let value = '';
    let first = true;
    for (;;) {
      const lineStart = first ? nameStart : i;
      const line = toEOL();
      if ((first ? i - lineStart - (text[i - 1] === '\n' ? 1 : 0) : line.length) >= LINE_MAX) throw new UnitParseError(`line too long (max ${LINE_MAX} bytes)`);
      first = false;
      if (line.endsWith('\\')) {
        value += line.slice(0, -1) + ' ';
        if (i >= n) break;
        // a comment line right after a continuation is skipped and ends the value
        if (text[i] === '#' || text[i] === ';') {
          toEOL();
          break;
        }
        if (text.slice(i, text.indexOf('\n', i) < 0 ? n : text.indexOf('\n', i)).trim() === '') break;
        continue;
      }
      value += line;
      break;
    }
    opts.push({ section, name, value: value.trim() });
  }

  function readSection(): void {
    const end = text.indexOf(']', i);
    if (end < 0) throw new UnitParseError('unable to find end of section');
    section = text.slice(i, end);
    i = end + 1;
    const garbage = toEOL().trim();
    if (garbage.length > 0) throw new UnitParseError(`found garbage after section name : ${goQuote(garbage)}`);
  }
}
