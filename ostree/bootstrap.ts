/**
 * Bootstrap the rootfs with mmdebstrap.
 *
 * - .deb files are cached under cacheDir('debs', suite): mmdebstrap's documented sync-in/sync-out pattern
 *   (setup hook fills /var/cache/apt/archives, customize hook copies new .debs out, --skip=essential/unlink keeps
 *   them for the copy), done with hard links when the cache and the work dir share a filesystem, so a warm
 *   compose neither downloads nor copies package data.
 * - The package indexes come from our private apt state (already updated when the inputs were resolved), so
 *   mmdebstrap runs with --skip=update.
 * - SOURCE_DATE_EPOCH makes mmdebstrap's output reproducible (it also removes logs and ld.so aux-cache).
 */
import { join } from 'node:path';
import { cacheDir } from '../lib/paths.js';
import { projectRoot } from '../lib/version.js';
import { run, shellQuote } from '../lib/run.js';
import { ExternalError, UserError } from '../lib/errors.js';
import { isVerbose } from '../lib/log.js';
import type { Manifest } from './manifest.js';
import { listFiles, type AptState } from './apt.js';

export interface BootstrapOptions {
  manifest: Manifest;
  apt: AptState;
  /** Directory to create (must not exist). */
  target: string;
  /** Work directory (mmdebstrap's TMPDIR). */
  workDir: string;
  sourceDateEpoch: number;
}

export function debCacheDir(m: Manifest): string {
  return cacheDir('debs', m.suite);
}

/** The hook scripts (run on the host by mmdebstrap), from the sources or from dist/ alike. */
export function bootstrapHook(which: 'setup' | 'customize'): string {
  return join(projectRoot(), 'ostree', `bootstrap-${which}-hook.sh`);
}

/**
 * mmdebstrap's setup and customize hooks: ostree/bootstrap-{setup,customize}-hook.sh with their values as quoted
 * arguments after the tree ("$1", from mmdebstrap). debs: the .deb cache; lists: the package list files to copy in.
 */
export function bootstrapHooks(debs: string, lists: readonly string[]): { setup: string; customize: string } {
  const q = shellQuote;
  return {
    setup: ['sh', q(bootstrapHook('setup')), '"$1"', q(debs), ...lists.map(q)].join(' '),
    customize: ['sh', q(bootstrapHook('customize')), '"$1"', q(debs)].join(' '),
  };
}

/**
 * The mmdebstrap command line (exported for the bench's floor measurement and for tests). `hooks`: the shell
 * commands mmdebstrap runs as its setup and customize hooks (it passes the tree as "$1").
 */
export function mmdebstrapArgs(o: BootstrapOptions, hooks?: { setup: string; customize: string }): string[] {
  const m = o.manifest;
  const args = [
    '--mode=root',
    `--variant=${m.variant}`,
    '--format=directory',
    `--architectures=${m.architecture}`,
    `--include=${m.packages.join(',')}`,
    '--aptopt=Acquire::Languages "none"',
    '--aptopt=Acquire::Retries "3"',
    // dpkg without fsync: the tree is scratch until ostree commit (which syncs the repo before moving refs).
    '--dpkgopt=force-unsafe-io',
    '--skip=essential/unlink',
  ];
  if (hooks) {
    args.push('--skip=update', `--setup-hook=${hooks.setup}`, `--customize-hook=${hooks.customize}`);
  }
  args.push(m.suite, o.target, ...o.apt.sources);
  return args;
}

export async function bootstrap(o: BootstrapOptions): Promise<void> {
  const debs = debCacheDir(o.manifest);
  const lists = listFiles(o.apt);
  const hooks = bootstrapHooks(debs, lists.map((f) => join(o.apt.lists, f)));
  const r = await run('mmdebstrap', mmdebstrapArgs(o, hooks), {
    // INITRD=No: the kernel's postinst hook would run dracut for /boot; compose builds its own initramfs later.
    env: { SOURCE_DATE_EPOCH: String(o.sourceDateEpoch), LC_ALL: 'C.UTF-8', TMPDIR: o.workDir, INITRD: 'No' },
    inherit: isVerbose(),
    allowFailure: true,
    purpose: 'bootstrap the rootfs',
    // A cold bootstrap downloads and unpacks a few hundred packages: show mmdebstrap's phase ("I: …") as it goes.
    progress: { label: 'mmdebstrap', count: { pattern: /^Unpacking /, noun: 'packages unpacked' } },
  });
  if (r.exitCode !== 0) {
    const text = r.stderr + r.stdout;
    const aptErrs = text.split('\n').filter((l) => /^E: |Depends: .* but |has no installation candidate|Unable to locate package/.test(l.trim()));
    if (/No space left on device/i.test(text)) {
      throw new UserError('no space left on device while bootstrapping the rootfs', `free some disk space (work dir: ${o.workDir}; cache: ${debs})`);
    }
    if (aptErrs.length) {
      throw new UserError(`apt could not install the manifest's packages:\n  ${aptErrs.map((l) => l.trim()).join('\n  ')}`, 'fix the package list in the manifest');
    }
    const tail = text.trimEnd().split('\n').slice(-25).join('\n');
    throw new ExternalError('failed to bootstrap the rootfs', r.command, r.exitCode, tail);
  }
}
