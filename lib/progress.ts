/**
 * Progress of a long step (a cold kubelet build, a cold bootstrap) between its "==>" line and its "done" line
 * (issue 15 #12). Fed with the step's output lines by run() (`progress:` option), it shows:
 *
 * - on a terminal (`tty`): one live line on stderr, redrawn every second and on new output: the label, the elapsed
 *   time, a count (packages unpacked, Go packages built) and the step's last output line, cut to the terminal width;
 *   erased when the step ends;
 * - in CI or a pipe (`lines`): a plain line at least every 30 s ("still running after 1m30s, …");
 * - under --json (`json`): one JSON event per line on stderr: start, progress (every 30 s), end.
 *
 * The clock, the intervals and the writer can be replaced (tests).
 */
import { isQuiet } from './log.js';

export type ProgressMode = 'tty' | 'lines' | 'json';

export interface ProgressOptions {
  /** What is running ("build kubelet v1.35.4"). */
  label: string;
  /** Default: progressMode(). */
  mode?: ProgressMode;
  /** Output lines that count as one unit of work (e.g. /^Unpacking /), and what they are called ("packages unpacked"). */
  count?: { pattern: RegExp; noun: string };
  /** `lines` and `json` modes: print at least this often (default 30 s). */
  intervalMs?: number;
  /** `tty` mode: redraw this often (default 1 s). */
  tickMs?: number;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  /** Where the output goes (default process.stderr). */
  write?: (s: string) => void;
  /** Terminal width for the live line (default process.stderr.columns or 80). */
  columns?: number;
}

/** Set by the CLI under --json; otherwise --json is read from the command line, as cli/base.ts does. */
let jsonMode: boolean | undefined;
export function setProgressJson(on: boolean): void {
  jsonMode = on;
}

/** The mode for this process: json under --json, tty when stderr is a terminal outside CI, else plain lines. */
export function progressMode(env: NodeJS.ProcessEnv = process.env, stderrIsTTY = !!process.stderr.isTTY): ProgressMode {
  if (jsonMode ?? process.argv.slice(2).includes('--json')) return 'json';
  if (stderrIsTTY && !env.CI && env.TERM !== 'dumb') return 'tty';
  return 'lines';
}

/** "42s", "3m07s", "1h02m03s". */
export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m${String(s % 60).padStart(2, '0')}s`;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]/g;

export class Progress {
  readonly mode: ProgressMode;
  private readonly now: () => number;
  private readonly write: (s: string) => void;
  private readonly intervalMs: number;
  private readonly tickMs: number;
  private readonly t0: number;
  private lastPrint: number;
  private lastDraw = -Infinity;
  private lines = 0;
  private counted = 0;
  private last = '';
  /** Unfinished last lines, per stream (stdout and stderr chunks interleave). */
  private readonly partial = { out: '', err: '' };
  private timer?: NodeJS.Timeout;
  private drawn = false;
  private ended = false;

  constructor(private readonly opts: ProgressOptions) {
    this.mode = opts.mode ?? progressMode();
    this.now = opts.now ?? Date.now;
    this.write = opts.write ?? ((s) => void process.stderr.write(s));
    this.intervalMs = opts.intervalMs ?? 30_000;
    this.tickMs = opts.tickMs ?? 1000;
    this.t0 = this.now();
    this.lastPrint = this.t0;
    if (this.mode === 'json') this.event('start', {});
  }

  /** Start the timer that keeps the output alive while the step prints nothing. */
  start(): this {
    const every = this.mode === 'tty' ? this.tickMs : Math.min(this.tickMs, this.intervalMs);
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
    if (this.mode === 'tty') this.draw();
    return this;
  }

  /** A chunk of the step's output (stdout or stderr); split into lines here. */
  data(chunk: string | Buffer, stream: 'out' | 'err' = 'out'): void {
    const text = this.partial[stream] + chunk.toString();
    const parts = text.split(/\r?\n|\r/);
    this.partial[stream] = (parts.pop() ?? '').slice(-4096);
    for (const l of parts) this.line(l);
  }

  /** One output line of the step. */
  line(text: string): void {
    const clean = text.replace(/\t/g, ' ').replace(ANSI, '').trim();
    if (!clean) return;
    this.lines++;
    this.last = clean;
    if (this.opts.count?.pattern.test(clean)) this.counted++;
    // Redraw at most 10 times a second on output; the timer redraws the rest.
    if (this.mode === 'tty' && this.now() - this.lastDraw >= 100) this.draw();
  }

  /** Called by the timer (and by tests with a fake clock). */
  tick(): void {
    if (this.ended) return;
    if (this.mode === 'tty') return this.draw();
    if (this.now() - this.lastPrint < this.intervalMs) return;
    this.lastPrint = this.now();
    if (this.mode === 'json') this.event('progress', {});
    else this.write(`    ${this.opts.label}: still running after ${formatElapsed(this.elapsed())}${this.detail()}\n`);
  }

  /** The step ended: stop the timer, erase the live line, and (json) say how it ended. */
  end(ok: boolean): void {
    if (this.ended) return;
    for (const k of ['out', 'err'] as const) {
      if (this.partial[k]) this.line(this.partial[k]);
      this.partial[k] = '';
    }
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    if (this.mode === 'tty' && this.drawn) this.write('\r\x1b[2K');
    if (this.mode === 'json') this.event('end', { ok });
  }

  private elapsed(): number {
    return this.now() - this.t0;
  }

  private detail(): string {
    const parts: string[] = [];
    if (this.opts.count && this.counted) parts.push(`${this.counted} ${this.opts.count.noun}`);
    else if (this.lines) parts.push(`${this.lines} lines of output`);
    if (this.last) parts.push(`last: ${this.last}`);
    return parts.length ? `, ${parts.join(', ')}` : '';
  }

  private draw(): void {
    this.lastDraw = this.now();
    const cols = Math.max(20, (this.opts.columns ?? process.stderr.columns ?? 80) - 1);
    const count = this.opts.count && this.counted ? ` · ${this.counted} ${this.opts.count.noun}` : '';
    let s = `    ${this.opts.label}: ${formatElapsed(this.elapsed())}${count}${this.last ? ` · ${this.last}` : ''}`;
    if (s.length > cols) s = `${s.slice(0, cols - 1)}…`;
    this.write(`\r\x1b[2K${s}`);
    this.drawn = true;
  }

  private event(event: 'start' | 'progress' | 'end', extra: Record<string, unknown>): void {
    const e: Record<string, unknown> = { event, step: this.opts.label, elapsedSeconds: Math.round(this.elapsed() / 100) / 10, ...extra };
    if (event !== 'start') {
      e.lines = this.lines;
      if (this.opts.count) Object.assign(e, { count: this.counted, counting: this.opts.count.noun });
      if (this.last) e.last = this.last;
    }
    this.write(`${JSON.stringify(e)}\n`);
  }
}

/** A Progress for run(), or undefined when progress is off (quiet mode). */
export function startProgress(opts: ProgressOptions): Progress | undefined {
  if (isQuiet() && !opts.write) return undefined;
  return new Progress(opts).start();
}
