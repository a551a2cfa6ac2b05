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
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../lib/paths.js';
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
  /** Work directory for hook scripts. */
  workDir: string;
  sourceDateEpoch: number;
}

export function debCacheDir(m: Manifest): string {
  return cacheDir('debs', m.suite);
}

/** The mmdebstrap command line (exported for the bench's floor measurement and for tests). */
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
    args.push('--skip=update', `--setup-hook=${hooks.setup} "$1"`, `--customize-hook=${hooks.customize} "$1"`);
  }
  args.push(m.suite, o.target, ...o.apt.sources);
  return args;
}

export async function bootstrap(o: BootstrapOptions): Promise<void> {
  const debs = debCacheDir(o.manifest);
  const lists = listFiles(o.apt);
  const setup = join(o.workDir, 'setup-hook.sh');
  const customize = join(o.workDir, 'customize-hook.sh');
  writeFileSync(
    setup,
    [
      '#!/bin/sh',
      'set -e',
      'root="$1"',
      'mkdir -p "$root/var/cache/apt/archives/partial" "$root/var/lib/apt/lists/partial"',
      // Hard links when possible (same filesystem), copies otherwise.
      `for f in ${shellQuote(debs)}/*.deb; do [ -e "$f" ] || continue; ln "$f" "$root/var/cache/apt/archives/" 2>/dev/null || cp "$f" "$root/var/cache/apt/archives/"; done`,
      ...lists.map((f) => `cp ${shellQuote(join(o.apt.lists, f))} "$root/var/lib/apt/lists/"`),
      '',
    ].join('\n'),
  );
  writeFileSync(
    customize,
    [
      '#!/bin/sh',
      'set -e',
      'root="$1"',
      `for f in "$root"/var/cache/apt/archives/*.deb; do [ -e "$f" ] || continue; b=$(basename "$f"); [ -e ${shellQuote(debs)}/"$b" ] && continue; ln "$f" ${shellQuote(debs)}/".$b.tmp" 2>/dev/null || cp "$f" ${shellQuote(debs)}/".$b.tmp"; mv -f ${shellQuote(debs)}/".$b.tmp" ${shellQuote(debs)}/"$b"; done`,
      // Reproducible across hosts: mmdebstrap copies the host's resolv.conf and hostname.
      'rm -f "$root/etc/hostname" "$root/etc/resolv.conf"',
      // --aptopt/--dpkgopt are written into the tree permanently; they are build-time settings only.
      'rm -f "$root/etc/apt/apt.conf.d/99mmdebstrap" "$root/etc/dpkg/dpkg.cfg.d/99mmdebstrap"',
      '',
    ].join('\n'),
  );
  chmodSync(setup, 0o755);
  chmodSync(customize, 0o755);
  const r = await run('mmdebstrap', mmdebstrapArgs(o, { setup, customize }), {
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
