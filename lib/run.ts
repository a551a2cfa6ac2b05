/**
 * The one subprocess runner of fcos (mkosi's run()).
 *
 * Every external command goes through run(). It:
 * - turns a missing binary into a UserError naming the Debian package to install;
 * - on failure, throws an ExternalError holding the exact command (shell-quoted, pasteable) and its stderr tail;
 * - kills the child when the user presses Ctrl-C (the shared abort signal), and reports an InterruptedError;
 * - logs every command in verbose mode (FCOS_VERBOSE=1).
 */
import { execa, type Options } from 'execa';
import { ExternalError, InterruptedError, UserError } from './errors.js';
import { abortSignal, interrupted } from './signals.js';
import { debug, isVerbose } from './log.js';

/** Which Debian package provides each host tool fcos calls. */
export const TOOL_PACKAGES: Record<string, string> = {
  'ignition-validate': 'ignition',
  mmdebstrap: 'mmdebstrap',
  ostree: 'ostree',
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  sgdisk: 'gdisk',
  'mkfs.ext4': 'e2fsprogs',
  'mkfs.vfat': 'dosfstools',
  mksquashfs: 'squashfs-tools',
  losetup: 'mount',
  partx: 'util-linux',
  mount: 'mount',
  cpio: 'cpio',
  zstd: 'zstd',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  go: 'golang-go',
  openssl: 'openssl',
  etcdctl: 'etcd-client',
  curl: 'curl',
};

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Text fed to stdin. */
  input?: string | Buffer;
  /** Stream output to the terminal instead of capturing it (long steps in verbose mode). */
  inherit?: boolean;
  /** Kill after this many milliseconds. */
  timeoutMs?: number;
  /** Do not throw on non-zero exit; return the result. */
  allowFailure?: boolean;
  /** What the command is for, used in the failure message ("bootstrap the rootfs"). */
  purpose?: string;
  /** Extra hint shown on failure. */
  hint?: string;
  /** Return stdout as a Buffer. */
  binary?: boolean;
  /**
   * A cleanup action (unmount, remove a work dir): it must run after an interrupt too, so it is neither refused
   * nor cancelled by the shared abort signal.
   */
  cleanup?: boolean;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  stdoutBuffer?: Buffer;
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
export function shellQuote(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map(shellQuote).join(' ');
}

export function tail(text: string, lines = 20): string {
  const ls = text.trimEnd().split('\n');
  return ls.slice(-lines).join('\n');
}

export function missingToolError(tool: string): UserError {
  const pkg = TOOL_PACKAGES[tool];
  return new UserError(
    `required tool '${tool}' was not found`,
    pkg ? `install it with: apt-get install ${pkg}` : `install '${tool}' and make sure it is on PATH`,
  );
}

export async function run(file: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult> {
  const command = formatCommand(file, args);
  if (isVerbose()) debug(`run: ${command}${opts.cwd ? `   (in ${opts.cwd})` : ''}`);
  const signal = abortSignal();
  if (signal.aborted && !opts.cleanup) throw new InterruptedError(`interrupted by ${interrupted() ?? 'signal'}`);
  const execOpts: Options = {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    reject: false,
    ...(opts.cleanup ? {} : { cancelSignal: signal }),
    timeout: opts.timeoutMs,
    stripFinalNewline: false,
    encoding: opts.binary ? 'buffer' : 'utf8',
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    ...(opts.inherit ? { stdout: ['pipe', 'inherit'] as const, stderr: ['pipe', 'inherit'] as const } : {}),
    maxBuffer: 1024 * 1024 * 1024,
  };
  const r = await execa(file, [...args], execOpts);
  const errCode = (r as unknown as { code?: string }).code;
  if (r.failed && errCode === 'ENOENT' && r.exitCode === undefined) throw missingToolError(file);
  if (r.isCanceled || (!opts.cleanup && signal.aborted && r.failed)) throw new InterruptedError(`interrupted by ${interrupted() ?? 'signal'} while running: ${command}`);
  const stdoutBuffer = opts.binary ? Buffer.from(r.stdout as unknown as Uint8Array) : undefined;
  const stdout = opts.binary ? '' : String(r.stdout ?? '');
  const stderr = r.stderr instanceof Uint8Array ? Buffer.from(r.stderr).toString('utf8') : String(r.stderr ?? '');
  const exitCode = r.exitCode ?? (r.failed ? -1 : 0);
  if (r.timedOut) {
    throw new ExternalError(`${opts.purpose ?? file} timed out after ${opts.timeoutMs} ms`, command, undefined, tail(stderr), opts.hint);
  }
  if (r.failed && !opts.allowFailure) {
    if (/No space left on device/i.test(stderr)) {
      throw new UserError(`no space left on device while running: ${command}`, 'free some disk space or point FCOS_CACHE_DIR/--builds elsewhere');
    }
    const what = opts.purpose ? `failed to ${opts.purpose}` : `${file} failed`;
    const sig = r.signal ? ` (killed by ${r.signal})` : '';
    throw new ExternalError(`${what}${sig}`, command, r.exitCode, tail(stderr || stdout), opts.hint);
  }
  return { command, exitCode, stdout, stderr, stdoutBuffer };
}

/** Is a tool on PATH? */
export async function haveTool(tool: string): Promise<boolean> {
  const r = await execa('sh', ['-c', `command -v ${shellQuote(tool)}`], { reject: false });
  return r.exitCode === 0;
}

/** Fail early, with the Debian package names, when any of these tools is missing. */
export async function requireTools(tools: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const t of tools) if (!(await haveTool(t))) missing.push(t);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => TOOL_PACKAGES[t] ?? t))];
  throw new UserError(`required tool${missing.length > 1 ? 's' : ''} not found: ${missing.join(', ')}`, `install with: apt-get install ${pkgs.join(' ')}`);
}
