/**
 * One typed error family for the whole project.
 *
 * - UserError: the user can fix it (bad input, missing tool, full disk…). Exit 1.
 * - ExternalError: an external tool failed. Carries the exact command and the tail of its stderr. Exit 1.
 * - CheckError: a check of the system under test failed (a VM scenario's or a bench's assertion on the guest).
 *   Neither fcos's bug nor a failed host tool: the OS it built misbehaves. Exit 1.
 * - BugError: a bug in fcos (an invariant broken). Exit 70 (EX_SOFTWARE).
 *
 * Product code throws only these: a bare `new Error(` is refused by test/unit/errors.test.ts.
 *
 * The CLI renders all of them as one clear message, never a stack trace (unless FCOS_DEBUG=1).
 */
export abstract class FcosError extends Error {
  abstract readonly kind: 'user' | 'external' | 'bug';
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
  get exitCode(): number {
    return this.kind === 'bug' ? 70 : 1;
  }
  /** The message shown to the user. */
  render(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

export class UserError extends FcosError {
  readonly kind = 'user' as const;
}

export class ExternalError extends FcosError {
  readonly kind = 'external' as const;
  constructor(
    message: string,
    readonly command: string,
    readonly exitStatus: number | undefined,
    readonly stderrTail: string,
    hint?: string,
  ) {
    super(message, hint);
  }
  override render(): string {
    let s = `${this.message}\n  command: ${this.command}`;
    if (this.exitStatus !== undefined) s += `\n  exit status: ${this.exitStatus}`;
    if (this.stderrTail.trim()) s += `\n  stderr (tail):\n${indent(this.stderrTail.trimEnd(), '    ')}`;
    if (this.hint) s += `\n  hint: ${this.hint}`;
    return s;
  }
}

export class CheckError extends FcosError {
  readonly kind = 'external' as const;
}

export class BugError extends FcosError {
  readonly kind = 'bug' as const;
  override render(): string {
    return `internal error (a bug in fcos): ${this.message}`;
  }
}

/** Thrown when the user interrupts (SIGINT/SIGTERM). Exit 130. */
export class InterruptedError extends UserError {
  override get exitCode(): number {
    return 130;
  }
}

export function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

/** Turn anything thrown into an FcosError. Node system errors that users can fix become UserErrors. */
export function toFcosError(err: unknown): FcosError {
  if (err instanceof FcosError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string') {
    const where = e.path ? `: ${e.path}` : '';
    switch (e.code) {
      case 'ENOENT':
        return new UserError(`no such file or directory${where}`);
      case 'EISDIR':
        return new UserError(`is a directory, expected a file${where}`);
      case 'EACCES':
      case 'EPERM':
        return new UserError(`permission denied${where}`, 'run fcos as root for image builds');
      case 'ENOSPC':
        return new UserError(`no space left on device${where}`, 'free some disk space or point --builds/FCOS_CACHE_DIR elsewhere');
      case 'EDQUOT':
        return new UserError(`disk quota exceeded${where}`);
    }
  }
  const msg = err instanceof Error ? err.message : String(err);
  const bug = new BugError(msg);
  if (err instanceof Error && err.stack) bug.stack = err.stack;
  return bug;
}
