/**
 * Build the initramfs with the tree's own dracut, in a chroot of the tree:
 *   dracut --no-hostonly --add "ostree ignition …" --kver $kver --reproducible … /usr/lib/modules/$kver/initramfs.img
 *
 * The tree already has the ostree layout (/etc is /usr/etc), so /etc is a temporary symlink during the chroot.
 * /proc, /sys, /dev are mounted and /tmp is a tmpfs; all of it is undone by the one mount stack (lib/mounts.ts),
 * on success, failure and Ctrl-C.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/run.js';
import { UserError } from '../lib/errors.js';
import { MountStack } from '../lib/mounts.js';
import type { Cleanup } from '../lib/signals.js';
import type { InitramfsConfig } from './manifest.js';

/** The dracut command line (inside the chroot). Exported for unit tests. */
export function dracutArgs(cfg: InitramfsConfig, kver: string): string[] {
  const add = ['ostree', 'ignition', ...cfg.modules];
  const args = ['--no-hostonly', '--reproducible', '--force', '--quiet', '--no-hostonly-cmdline', '--tmpdir', '/tmp', '--add', add.join(' ')];
  if (cfg.omit.length) args.push('--omit', cfg.omit.join(' '));
  if (cfg.drivers.length) args.push('--add-drivers', cfg.drivers.join(' '));
  if (cfg.compress === 'none') args.push('--no-compress');
  else args.push(`--${cfg.compress}`);
  args.push(...cfg.args, '--kver', kver, `/usr/lib/modules/${kver}/initramfs.img`);
  return args;
}

export interface InitramfsResult {
  path: string;
  size: number;
}

export async function buildInitramfs(root: string, kver: string, cfg: InitramfsConfig, sourceDateEpoch: number, cleanup: Cleanup): Promise<InitramfsResult> {
  if (!existsSync(join(root, 'usr', 'bin', 'dracut'))) {
    throw new UserError('the tree has no dracut: add the dracut and dracut-network packages to the manifest');
  }
  for (const mod of ['ostree', 'ignition']) {
    const d = join(root, 'usr', 'lib', 'dracut', 'modules.d');
    let ok = false;
    try {
      ok = readdirSync(d).some((x) => x.replace(/^\d+/, '') === mod);
    } catch {
      ok = false;
    }
    if (!ok) throw new UserError(`the tree has no '${mod}' dracut module: add the ${mod === 'ostree' ? 'ostree' : 'ignition'} package to the manifest`);
  }
  // dracut runs the compressor of the tree, and silently falls back to gzip when it is missing.
  const compressor: Record<string, string> = { zstd: 'zstd', xz: 'xz', lz4: 'lz4', gzip: 'gzip' };
  const bin = compressor[cfg.compress];
  if (bin && !existsSync(join(root, 'usr', 'bin', bin))) {
    throw new UserError(`initramfs compress: ${cfg.compress} needs '${bin}' in the tree`, `add the ${bin === 'lz4' ? 'lz4' : bin === 'xz' ? 'xz-utils' : bin} package to the manifest, or choose another initramfs.compress`);
  }
  // /etc is /usr/etc now. dracut needs a real /etc directory: with a symlink it copies the symlink into the
  // initramfs (etc -> usr/etc), and every relative link in it breaks (etc/initrd-release -> ../usr/lib/…), so
  // systemd's initrd targets fail their AssertPathExists=/etc/initrd-release. Bind-mount usr/etc on an empty /etc.
  const etc = join(root, 'etc');
  const stack = new MountStack(cleanup, 'unmount chroot filesystems and remove the temporary /etc');
  await stack.scope(async () => {
    if (!lstatSync(etc, { throwIfNoEntry: false })) {
      mkdirSync(etc);
      stack.defer('remove the temporary /etc', () => rmdirSync(etc));
      await stack.mount(['--bind', join(root, 'usr', 'etc')], etc, 'bind /usr/etc on /etc for dracut');
    }
    await stack.mountChroot(root);
    await run('chroot', [root, 'dracut', ...dracutArgs(cfg, kver)], {
      env: { SOURCE_DATE_EPOCH: String(sourceDateEpoch), LC_ALL: 'C.UTF-8', TMPDIR: '/tmp', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      purpose: 'build the initramfs with dracut',
      hint: 'the initramfs section of the manifest drives dracut (modules, omit, drivers, compress, args)',
    });
  });
  const path = join(root, 'usr', 'lib', 'modules', kver, 'initramfs.img');
  const st = statSync(path);
  if (st.size < 1024) throw new UserError(`dracut wrote an implausibly small initramfs (${st.size} bytes)`);
  return { path, size: st.size };
}
