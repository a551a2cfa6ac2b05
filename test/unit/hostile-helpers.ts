/** Shared inputs of the issue 15 ("hostile and broken input") tests. */

/** Nine levels of nine aliases each: 9^9 (387 million) "lol"s once expanded, in a few hundred bytes. */
export function laughs(prefix: string, levels = 9): string {
  const n = (i: number) => String.fromCharCode(97 + i);
  const lines = [`a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]`];
  for (let i = 1; i < levels; i++) lines.push(`${n(i)}: &${n(i)} [${Array(9).fill(`*${n(i - 1)}`).join(',')}]`);
  return prefix + lines.join('\n') + '\n';
}
