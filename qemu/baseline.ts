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
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, renameSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../lib/paths.js';
import { run } from '../lib/run.js';
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
 * systemd >= 256 (trixie) ships systemd-ssh-generator, which fails at every boot under QEMU without vsock (and
 * loads the vsock modules first): fcos images mask it, so the baseline masks it too. Bookworm's script is
 * unchanged (its cached image keeps its key).
 */
function suiteTweaks(suite: string): string {
  if (suite === 'bookworm') return '';
  return 'mkdir -p "$root/etc/systemd/system-generators"\nln -sf /dev/null "$root/etc/systemd/system-generators/systemd-ssh-generator"\n';
}

function customizeScript(pubkey: string, suite = 'bookworm'): string {
  return `set -eu
root="$1"
echo baseline > "$root/etc/hostname"
printf '127.0.1.1 baseline\\n' >> "$root/etc/hosts"
printf '/dev/vda / ext4 defaults 0 1\\n' > "$root/etc/fstab"
chroot "$root" useradd -m -s /bin/bash -G sudo core
mkdir -p "$root/home/core/.ssh"
printf '%s\\n' '${pubkey}' > "$root/home/core/.ssh/authorized_keys"
chroot "$root" chown -R core:core /home/core/.ssh
chmod 700 "$root/home/core/.ssh"; chmod 600 "$root/home/core/.ssh/authorized_keys"
echo 'core ALL=(ALL) NOPASSWD:ALL' > "$root/etc/sudoers.d/core"; chmod 440 "$root/etc/sudoers.d/core"
mkdir -p "$root/etc/systemd/network"
printf '[Match]\\nName=eth* en*\\n[Network]\\nDHCP=yes\\n' > "$root/etc/systemd/network/10-dhcp.network"
chroot "$root" systemctl enable systemd-networkd.service
# sshd: no DNS lookups (user networking has a slow resolver under TCG)
echo 'UseDNS no' > "$root/etc/ssh/sshd_config.d/fcos.conf"
# Boot to multi-user.target, like fcos images.
chroot "$root" systemctl set-default multi-user.target
# A unit that always fails, pulled in only by the kernel argument systemd.wants=fcos-selftest-fail.service
# (the harness's negative control).
printf '[Unit]\nDescription=fcos selftest fail\n[Service]\nType=oneshot\nExecStart=/bin/false\n' > "$root/etc/systemd/system/fcos-selftest-fail.service"
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
${suiteTweaks(suite)}`;
}

export function baselineKey(opts: BaselineOptions = {}): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: RECIPE_VERSION, suite: opts.suite ?? 'bookworm', mirror: opts.mirror ?? '', PACKAGES, BASELINE_APPEND }));
  h.update(customizeScript('KEY', opts.suite ?? 'bookworm'));
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
  const pub = (await import('node:fs')).readFileSync(img.sshKey + '.pub', 'utf8').trim();
  const rootfs = join(dir, 'rootfs');
  rmSync(rootfs, { recursive: true, force: true });
  const hook = join(dir, 'customize.sh');
  writeFileSync(hook, customizeScript(pub, suite));
  chmodSync(hook, 0o755);
  const args = [
    '--mode=root',
    '--variant=minbase',
    `--include=${PACKAGES.join(',')}`,
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    `--customize-hook=${hook} "$1"`,
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
