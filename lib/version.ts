import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { run } from './run.js';
import { UserError } from './errors.js';

/** The project root (works from both the source tree and dist/). */
export function projectRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'));
      if (pkg.name === 'fcos') return d;
    } catch {
      /* keep looking */
    }
    d = dirname(d);
  }
  throw new UserError('cannot find the fcos project root (no package.json named fcos above the code)', 'run fcos from its source tree or its dist/ build; reinstall it if files are missing');
}

export function fcosVersion(): string {
  return JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')).version;
}

export async function toolVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = { fcos: fcosVersion(), node: process.version };
  const probes: [string, string, string[]][] = [
    ['ostree', 'ostree', ['--version']],
    ['mmdebstrap', 'mmdebstrap', ['--version']],
    ['qemu', 'qemu-system-x86_64', ['--version']],
    ['ignition-validate', 'ignition-validate', ['--version']],
  ];
  for (const [name, bin, args] of probes) {
    try {
      const r = await run(bin, args, { allowFailure: true });
      out[name] = versionLine(r.stdout || r.stderr);
    } catch {
      out[name] = 'not installed';
    }
  }
  return out;
}

/**
 * The version of a tool from its `--version` output: the first non-empty line, except for YAML-ish output like
 * ostree's ("libostree:\n Version: '2022.7'\n Features: …"), which gives "libostree 2022.7".
 */
export function versionLine(text: string): string {
  const first = text.split('\n').find((l) => l.trim())?.trim();
  if (!first) return 'unknown';
  const v = /^\s*Version:\s*['"]?([^'"\s]+)['"]?\s*$/m.exec(text);
  if (first.endsWith(':') && v) return `${first.slice(0, -1)} ${v[1]}`;
  return first;
}
