/** Minimal logger: human progress goes to stderr, so stdout stays clean for --json. */
let quiet = false;
let verbose = process.env.FCOS_VERBOSE === '1';

export function setQuiet(q: boolean): void {
  quiet = q;
}
export function isQuiet(): boolean {
  return quiet;
}
export function setVerbose(v: boolean): void {
  verbose = v;
}
export function isVerbose(): boolean {
  return verbose;
}

export function info(msg: string): void {
  if (!quiet) process.stderr.write(`${msg}\n`);
}
export function warn(msg: string): void {
  process.stderr.write(`warning: ${msg}\n`);
}
export function debug(msg: string): void {
  if (verbose) process.stderr.write(`debug: ${msg}\n`);
}

function fmtSecs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Run one long step, printing its name and elapsed time: "==> bootstrap … done (62.3s)". */
export async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  info(`==> ${name}`);
  try {
    const r = await fn();
    info(`    ${name}: done (${fmtSecs(Date.now() - t0)})`);
    return r;
  } catch (e) {
    info(`    ${name}: failed after ${fmtSecs(Date.now() - t0)}`);
    throw e;
  }
}
