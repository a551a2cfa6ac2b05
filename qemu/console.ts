/**
 * Console failure detection (kola's console checks): scan the serial console line by line and report the first
 * line that shows the boot went wrong, so a test fails in seconds instead of at its time-out.
 */

export interface FailurePattern {
  /** Short name shown in reports: "kernel panic". */
  name: string;
  re: RegExp;
}

export interface ConsoleFailure {
  name: string;
  /** The console line (ANSI colours removed). */
  line: string;
  /** 1-based line number in console.txt. */
  lineNo: number;
}

export const FAILURE_PATTERNS: readonly FailurePattern[] = [
  { name: 'kernel panic', re: /Kernel panic - not syncing/ },
  { name: 'kernel oops', re: /\bOops: / },
  { name: 'kernel warning', re: /WARNING: CPU: \d+ PID: \d+ at / },
  { name: 'emergency shell', re: /You are in emergency mode|Entering emergency mode/ },
  { name: 'dracut gave up', re: /dracut(-\S+)?(\[\d+\])?: .*Refusing to continue/ },
  // Wording differs between systemd versions: "Ordering cycle found" (old), "Found ordering cycle on X/start",
  // "Breaking ordering cycle by deleting job", "Unable to break cycle starting with" (252-257).
  { name: 'ordering cycle', re: /Ordering cycle found|Found ordering cycle on|Breaking ordering cycle|Unable to break cycle|Transaction order is cyclic/ },
  { name: 'failed unit', re: /Failed to start .+/ },
  { name: 'failed mount', re: /\bFailed to mount .+/ },
  // systemd gave up on a device a unit waited for (90 s by default): a boot that hung on a disk it does not have.
  { name: 'device time-out', re: /Timed out waiting for device / },
  { name: 'ignition failure', re: /ignition\[\d+\]: .*(\bfailed\b|\[failed\]|CRITICAL)|Ignition failed|ignition: .*failed to/i },
  { name: 'generator failure', re: /generators?\/\S+ failed with exit status|Generator \S+ failed/ },
  { name: 'go panic', re: /goroutine \d+ \[running\]:/ },
  { name: 'segfault', re: /segfault at [0-9a-f]+ ip [0-9a-f]+/ },
  { name: 'core dump', re: /dumped core|Process \d+ \(.+\) of user \d+ dumped core/ },
  { name: 'oom killer', re: /invoked oom-killer/ },
];

// CSI sequences, OSC, and the cursor/erase bits systemd and QEMU print.
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>78DEHM]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/** Does this one line show a failure? Returns the pattern's name. `ignore` wins over every pattern. */
export function matchFailure(line: string, patterns: readonly FailurePattern[] = FAILURE_PATTERNS, ignore: readonly RegExp[] = []): string | undefined {
  const clean = stripAnsi(line).replace(/\r/g, '');
  if (ignore.some((r) => r.test(clean))) return undefined;
  for (const p of patterns) if (p.re.test(clean)) return p.name;
  return undefined;
}

/** A streaming scanner: feed chunks in any sizes; complete lines are checked. */
export class ConsoleScanner {
  readonly failures: ConsoleFailure[] = [];
  private partial = '';
  private lineNo = 0;
  constructor(
    private readonly opts: { patterns?: readonly FailurePattern[]; ignore?: readonly RegExp[] } = {},
  ) {}

  /** Returns the failures found in this chunk. */
  feed(chunk: string): ConsoleFailure[] {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    // A very long partial line (no newline for a long time) is checked anyway.
    if (this.partial.length > 8192) {
      lines.push(this.partial);
      this.partial = '';
    }
    return this.check(lines);
  }

  /** Check the last, unterminated line (at the end of a run). */
  flush(): ConsoleFailure[] {
    if (!this.partial) return [];
    const l = [this.partial];
    this.partial = '';
    return this.check(l);
  }

  private check(lines: string[]): ConsoleFailure[] {
    const found: ConsoleFailure[] = [];
    for (const raw of lines) {
      this.lineNo++;
      const name = matchFailure(raw, this.opts.patterns ?? FAILURE_PATTERNS, this.opts.ignore ?? []);
      if (name) {
        const f = { name, line: stripAnsi(raw).replace(/\r/g, '').trim(), lineNo: this.lineNo };
        found.push(f);
        this.failures.push(f);
      }
    }
    return found;
  }
}

export function describeFailure(f: ConsoleFailure): string {
  return `${f.name} on the console (console.txt line ${f.lineNo}): ${f.line}`;
}
