/**
 * The baseline test image: a plain Debian cloud kernel with a systemd rootfs, booted by direct kernel boot
 * (-kernel/-initrd/-append) from an ext4 disk. It is what `bench/boot` compares fcos images against, and what the
 * harness's own e2e test boots (it needs no fcos build).
 *
 * Made with mmdebstrap into a directory, then `mkfs.ext4 -d` (no loop devices, no mounts). An ed25519 key is made at
 * build time and installed for user `core` (passwordless sudo, like FCOS), since there is no Ignition here.
 * Cached under cacheDir('baseline', <hash of the recipe>); a second call returns at once.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../lib/paths.js';
import { run, shellQuote } from '../lib/run.js';
import { projectRoot } from '../lib/version.js';
import { requireTools } from '../lib/tools.js';
import { step, info } from '../lib/log.js';
import { UserError } from '../lib/errors.js';

export interface BaselineImage {
  dir: string;
  kernel: string;
  initrd: string;
  /** Raw ext4 filesystem image (the whole disk is the root filesystem: root=/dev/vda). */
  disk: string;
  diskFormat: 'raw';
  /** Private key that logs in as core. */
  sshKey: string;
  /** Kernel command line to boot it. */
  append: string;
}

export interface BaselineOptions {
  suite?: string;
  mirror?: string;
  /** Rebuild even when cached. */
  force?: boolean;
}

const PACKAGES = [
  'systemd-sysv',
  'udev',
  'dbus',
  'linux-image-cloud-amd64',
  'initramfs-tools',
  'openssh-server',
  'sudo',
  'iproute2',
  'ca-certificates',
];

const RECIPE_VERSION = 2;

export const BASELINE_APPEND = 'root=/dev/vda rw console=ttyS0,115200n8 net.ifnames=0 systemd.show_status=1';

/**
 * The mmdebstrap customize hook (qemu/baseline-customize.sh, run on the host; found from the sources or from dist/
 * alike). It takes the tree, the SSH public key for core and the suite as arguments (systemd >= 256, trixie, ships
 * systemd-ssh-generator, which fails at every boot under QEMU without vsock: the hook masks it there, as fcos images
 * do).
 */
export function baselineHook(): string {
  return join(projectRoot(), 'qemu', 'baseline-customize.sh');
}

/** mmdebstrap's --customize-hook command: the hook with its values quoted after the tree ("$1", from mmdebstrap). */
export function baselineHookCommand(pubkey: string, suite: string): string {
  return `sh ${shellQuote(baselineHook())} "$1" ${shellQuote(pubkey)} ${shellQuote(suite)}`;
}

export function baselineKey(opts: BaselineOptions = {}): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: RECIPE_VERSION, suite: opts.suite ?? 'bookworm', mirror: opts.mirror ?? '', PACKAGES, BASELINE_APPEND }));
  h.update(readFileSync(baselineHook()));
  return h.digest('hex').slice(0, 16);
}

/** Build (or reuse) the baseline image. */
export async function ensureBaseline(opts: BaselineOptions = {}): Promise<BaselineImage> {
  const suite = opts.suite ?? 'bookworm';
  const dir = cacheDir('baseline', baselineKey(opts));
  const img: BaselineImage = {
    dir,
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    disk: join(dir, 'disk.raw'),
    diskFormat: 'raw',
    sshKey: join(dir, 'id_ed25519'),
    append: BASELINE_APPEND,
  };
  if (!opts.force && existsSync(join(dir, 'done'))) return img;
  requireTools(['mmdebstrap', 'mkfs.ext4', 'ssh-keygen']);
  info(`building the baseline Debian ${suite} image in ${dir} (a few minutes, once)`);
  rmSync(join(dir, 'done'), { force: true });
  for (const f of ['id_ed25519', 'id_ed25519.pub']) rmSync(join(dir, f), { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fcos-baseline', '-f', img.sshKey], { purpose: 'make the baseline SSH key' });
  const pub = readFileSync(img.sshKey + '.pub', 'utf8').trim();
  const rootfs = join(dir, 'rootfs');
  rmSync(rootfs, { recursive: true, force: true });
  const args = [
    '--mode=root',
    '--variant=minbase',
    `--include=${PACKAGES.join(',')}`,
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    `--customize-hook=${baselineHookCommand(pub, suite)}`,
    suite,
    rootfs,
  ];
  if (opts.mirror) args.push(opts.mirror);
  await step('mmdebstrap the baseline rootfs', () => run('mmdebstrap', args, { purpose: 'bootstrap the baseline rootfs', timeoutMs: 40 * 60_000 }));
  const boot = readdirSync(join(rootfs, 'boot'));
  const vmlinuz = boot.find((f) => f.startsWith('vmlinuz-'));
  const initrd = boot.find((f) => f.startsWith('initrd.img-'));
  if (!vmlinuz || !initrd) throw new UserError(`baseline rootfs has no kernel/initrd in /boot (found: ${boot.join(', ')})`, 'the suite and mirror must provide linux-image-amd64 and initramfs-tools');
  await run('cp', [join(rootfs, 'boot', vmlinuz), img.kernel]);
  await run('cp', [join(rootfs, 'boot', initrd), img.initrd]);
  const tmpDisk = img.disk + '.tmp';
  rmSync(tmpDisk, { force: true });
  await step('make the baseline ext4 disk', () => run('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', rootfs, tmpDisk, '3G'], { purpose: 'make the baseline ext4 disk' }));
  renameSync(tmpDisk, img.disk);
  rmSync(rootfs, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'done'), new Date().toISOString() + '\n');
  return img;
}

// `node dist/qemu/baseline.js` builds it and prints the paths.
if (import.meta.url === `file://${process.argv[1]}`) {
  ensureBaseline({ force: process.argv.includes('--force') }).then(
    (i) => process.stdout.write(JSON.stringify(i, null, 2) + '\n'),
    (e) => {
      process.stderr.write(`${e?.render?.() ?? e}\n`);
      process.exit(1);
    },
  );
}
