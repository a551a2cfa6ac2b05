/** SSH into test VMs: one place that builds the ssh command line (so it is unit-tested) and runs it. */
import { run, formatCommand } from '../lib/run.js';

export interface SshTarget {
  host?: string;
  port: number;
  user?: string;
  key: string;
}

export interface SshResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Options that make ssh non-interactive and indifferent to the throw-away VM's host key. */
export function sshOptions(connectTimeoutSec = 5): string[] {
  return [
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', `ConnectTimeout=${connectTimeoutSec}`,
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=6',
    '-o', 'IdentitiesOnly=yes',
  ];
}

/** argv for `ssh` running `command` (a shell command line, run by the remote login shell). */
export function sshArgs(t: SshTarget, command?: string, connectTimeoutSec = 5): string[] {
  const a = [...sshOptions(connectTimeoutSec), '-i', t.key, '-p', String(t.port), `${t.user ?? 'core'}@${t.host ?? '127.0.0.1'}`];
  if (command !== undefined) a.push('--', command);
  return a;
}

/** The command a user pastes to log in. */
export function sshCommandLine(t: SshTarget): string {
  return formatCommand('ssh', ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-i', t.key, '-p', String(t.port), `${t.user ?? 'core'}@${t.host ?? '127.0.0.1'}`]);
}

/** Run a command over SSH; never throws on a non-zero exit (exit 255 means ssh itself failed). */
export async function sshExec(t: SshTarget, command: string, opts: { timeoutMs?: number; input?: string; connectTimeoutSec?: number } = {}): Promise<SshResult> {
  const r = await run('ssh', sshArgs(t, command, opts.connectTimeoutSec), {
    allowFailure: true,
    timeoutMs: opts.timeoutMs ?? 120_000,
    input: opts.input,
    purpose: `run over ssh: ${command}`,
  });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
}
