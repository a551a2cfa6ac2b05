/**
 * The scanner behind test/unit/house.test.ts: file lengths and function lengths of TypeScript source, by blanking
 * comments, strings, template literals and regular expressions, then matching braces. Not a parser: it finds
 * `function name(`, methods (and object-literal methods) and arrow functions or function expressions assigned to a
 * const/let, which is what the house rule is about.
 */
import { lineIndex } from '../../lib/lines.js';

export interface FunctionSpan {
  name: string;
  /** 1-based line of the declaration and of the closing brace. */
  start: number;
  end: number;
  lines: number;
}

/** The source with comments, string and template literal contents and regex literals blanked (newlines kept). */
export function blank(src: string): string {
  const out = src.split('');
  const n = src.length;
  let i = 0;
  // Template literals nest through ${ }: a stack of brace depths at which a template resumes.
  const resume: number[] = [];
  let depth = 0;
  const wipe = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  let prev = ''; // last significant character outside literals
  const template = (from: number): number => {
    // from: index just after the opening backtick (or after the } closing a ${ }). Returns the index after the literal
    // or after `${` (then code resumes, with the depth pushed).
    let k = from;
    while (k < n) {
      const c = src[k]!;
      if (c === '\\') k += 2;
      else if (c === '`') {
        wipe(from, k);
        return k + 1;
      } else if (c === '$' && src[k + 1] === '{') {
        wipe(from, k);
        resume.push(depth);
        depth++;
        return k + 2;
      } else k++;
    }
    wipe(from, n);
    return n;
  };
  while (i < n) {
    const c = src[i]!;
    if (c === '/' && src[i + 1] === '/') {
      const e = src.indexOf('\n', i);
      const end = e === -1 ? n : e;
      wipe(i, end);
      i = end;
    } else if (c === '/' && src[i + 1] === '*') {
      const e = src.indexOf('*/', i + 2);
      const end = e === -1 ? n : e + 2;
      wipe(i, end);
      i = end;
    } else if (c === "'" || c === '"') {
      let k = i + 1;
      while (k < n && src[k] !== c && src[k] !== '\n') k += src[k] === '\\' ? 2 : 1;
      wipe(i + 1, k);
      i = k + 1;
      prev = 'a';
    } else if (c === '`') {
      i = template(i + 1);
      prev = 'a';
    } else if (c === '/' && (prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev) || /\b(?:return|typeof|case|of|in)\s*$/.test(src.slice(Math.max(0, i - 8), i)))) {
      // A regular expression literal.
      let k = i + 1;
      let cls = false;
      while (k < n && src[k] !== '\n') {
        const d = src[k]!;
        if (d === '\\') k += 2;
        else {
          if (d === '[') cls = true;
          else if (d === ']') cls = false;
          else if (d === '/' && !cls) break;
          k++;
        }
      }
      wipe(i + 1, k);
      i = k + 1;
      prev = 'a';
    } else {
      if (c === '{') depth++;
      else if (c === '}') {
        depth--;
        if (resume.length && resume[resume.length - 1] === depth) {
          resume.pop();
          i = template(i + 1);
          prev = 'a';
          continue;
        }
      }
      if (!/\s/.test(c)) prev = c;
      i++;
    }
  }
  return out.join('');
}

const KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'function', 'await', 'new', 'typeof', 'with', 'do', 'else', 'super', 'import', 'export', 'yield']);

/** Index just after the bracket matching the one at `open`, in blanked text. */
function matchClose(t: string, open: number): number {
  const o = t[open]!;
  const c = o === '(' ? ')' : o === '{' ? '}' : o === '[' ? ']' : '>';
  let d = 0;
  for (let k = open; k < t.length; k++) {
    if (t[k] === o) d++;
    else if (t[k] === c && --d === 0) return k + 1;
  }
  return t.length;
}

/**
 * After a parameter list ending at `from`: the index of the body's `{` (an optional return type may come first), or
 * -1 when there is no body (an overload, a call, an abstract method). With `arrow`, an `=>` must come first.
 */
function bodyStart(t: string, from: number, arrow: boolean): number {
  let k = from;
  let seenArrow = !arrow;
  while (k < t.length) {
    const c = t[k]!;
    if (c === ';' || c === ',' || c === ')' || c === '}' || c === ']') return -1;
    if (c === '=' && t[k + 1] === '>') {
      if (seenArrow) return -1;
      seenArrow = true;
      k += 2;
      // the body follows at once, or it is an expression body (one statement, not counted)
      const m = /^\s*\{/.exec(t.slice(k, k + 200));
      return m ? k + m[0].length - 1 : -1;
    }
    if (c === '{') {
      // a type literal in a return type (`): { a: number } {`, `Promise<{`) is not the body
      const before = t.slice(from, k).trimEnd();
      const last = before[before.length - 1];
      if (seenArrow && (before === '' || (last !== ':' && last !== '<' && last !== '|' && last !== '&' && last !== ','))) return k;
      k = matchClose(t, k);
      continue;
    }
    if (c === '(' || c === '[' || c === '<') {
      k = c === '<' ? k + 1 : matchClose(t, k);
      continue;
    }
    k++;
  }
  return -1;
}

const lineAt = (starts: number[], offset: number) => lineIndex(starts, offset) + 1;

/** Every function, method and assigned arrow function with a block body, with its length in lines. */
export function functionSpans(src: string): FunctionSpan[] {
  const t = blank(src);
  const starts = [0];
  for (let k = t.indexOf('\n'); k >= 0; k = t.indexOf('\n', k + 1)) starts.push(k + 1);
  const found = new Map<number, FunctionSpan>();
  const add = (name: string, declAt: number, body: number) => {
    if (body < 0 || found.has(body)) return;
    const end = matchClose(t, body) - 1;
    const start = lineAt(starts, declAt);
    const last = lineAt(starts, end);
    found.set(body, { name, start, end: last, lines: last - start + 1 });
  };
  const patterns: { re: RegExp; arrow: boolean }[] = [
    // function name( / function* name<T>(
    { re: /\bfunction\s*\*?\s*([\w$]+)\s*(?:<[^(]*?>)?\s*\(/g, arrow: false },
    // methods, at the start of a line: [modifiers] name(…) [: type] {
    { re: /^[ \t]+(?:(?:public|private|protected|static|async|override|readonly|get|set)\s+)*\*?\s*([\w$]+)\s*(?:<[^(\n]*?>)?\s*\(/gm, arrow: false },
    // const name = [async] (…) => {   /   const name = [async] function (…) {
    { re: /\b(?:const|let)\s+([\w$]+)\s*(?::[^=\n]+)?=\s*(?:async\s*)?\(/g, arrow: true },
    { re: /\b(?:const|let)\s+([\w$]+)\s*(?::[^=\n]+)?=\s*(?:async\s+)?function\b\s*\*?\s*[\w$]*\s*\(/g, arrow: false },
  ];
  for (const { re, arrow } of patterns) {
    for (const m of t.matchAll(re)) {
      const name = m[1]!;
      if (KEYWORDS.has(name)) continue;
      const open = m.index! + m[0].length - 1;
      add(name, m.index! + (m[0].length - m[0].trimStart().length), bodyStart(t, matchClose(t, open), arrow));
    }
  }
  return [...found.values()].sort((a, b) => a.start - b.start);
}

/** The `// house: long because …` marker in the first lines of a file, if any. */
export function houseReason(src: string, headerLines = 15): string | undefined {
  const head = src.split('\n').slice(0, headerLines).join('\n');
  return /house: long because (.+)/.exec(head)?.[1]?.trim();
}
