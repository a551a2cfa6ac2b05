/**
 * The one "is this tool installed" check of fcos: host tools are found on PATH without a subprocess (a no-change
 * compose checks a dozen tools and must stay within seconds), and a missing one is a UserError that names the
 * Debian package to install.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from './errors.js';

/** Which Debian package provides each host tool fcos calls. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  'ignition-validate': 'ignition',
  mmdebstrap: 'mmdebstrap',
  ostree: 'ostree',
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  sgdisk: 'gdisk',
  'mkfs.ext4': 'e2fsprogs',
  'mkfs.vfat': 'dosfstools',
  mmd: 'mtools',
  mcopy: 'mtools',
  mdir: 'mtools',
  chroot: 'coreutils',
  truncate: 'coreutils',
  rm: 'coreutils',
  du: 'coreutils',
  sync: 'coreutils',
  mksquashfs: 'squashfs-tools',
  losetup: 'mount',
  mount: 'mount',
  umount: 'mount',
  partx: 'util-linux',
  cpio: 'cpio',
  zstd: 'zstd',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  go: 'golang-go',
  openssl: 'openssl',
  etcdctl: 'etcd-client',
  curl: 'curl',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-query': 'dpkg',
  gpg: 'gpg',
  gpgconf: 'gpgconf',
};

/** The PATH searched when the environment has none (what sh uses). */
const DEFAULT_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

function isExecutableFile(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Where a tool is: a path with a slash is taken as it is, a name is looked up on PATH. Undefined when missing. */
export function findTool(tool: string, path = process.env.PATH ?? DEFAULT_PATH): string | undefined {
  if (tool.includes('/')) return isExecutableFile(tool) ? tool : undefined;
  for (const d of path.split(':')) {
    if (!d) continue;
    const p = join(d, tool);
    if (isExecutableFile(p)) return p;
  }
  return undefined;
}

/** Is a tool installed (an executable file on PATH)? */
export function haveTool(tool: string): boolean {
  return findTool(tool) !== undefined;
}

/** The error for one missing tool, with the Debian package to install as the hint. */
export function missingToolError(tool: string): UserError {
  const pkg = TOOL_PACKAGES[tool];
  return new UserError(`required tool '${tool}' was not found`, pkg ? `install it with: apt-get install ${pkg}` : `install '${tool}' and make sure it is on PATH`);
}

/** Fail early, with the Debian package names, when any of these tools is missing. */
export function requireTools(tools: readonly string[]): void {
  const missing = tools.filter((t) => !haveTool(t));
  if (missing.length === 0) return;
  if (missing.length === 1) throw missingToolError(missing[0]!);
  const pkgs = [...new Set(missing.map((t) => TOOL_PACKAGES[t] ?? t))];
  throw new UserError(`required tools not found: ${missing.join(', ')}`, `install with: apt-get install ${pkgs.join(' ')}`);
}
