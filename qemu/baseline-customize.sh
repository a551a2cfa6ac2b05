#!/bin/sh
# mmdebstrap --customize-hook of the baseline image (qemu/baseline.ts), run on the host: a plain Debian system to
# measure fcos against. Hostname and fstab, user core (sudo without password) with the harness's SSH key, DHCP on
# eth*/en* through systemd-networkd, sshd without DNS lookups, multi-user.target, and the harness's negative control
# unit (pulled in only by the kernel argument systemd.wants=fcos-selftest-fail.service).
# Arguments: ROOT (the tree, mmdebstrap's "$1") PUBKEY (the SSH public key line for core) SUITE (bookworm, trixie, ...)
set -eu
root="$1"
pubkey="$2"
suite="$3"
echo baseline > "$root/etc/hostname"
printf '127.0.1.1 baseline\n' >> "$root/etc/hosts"
printf '/dev/vda / ext4 defaults 0 1\n' > "$root/etc/fstab"
chroot "$root" useradd -m -s /bin/bash -G sudo core
mkdir -p "$root/home/core/.ssh"
printf '%s\n' "$pubkey" > "$root/home/core/.ssh/authorized_keys"
chroot "$root" chown -R core:core /home/core/.ssh
chmod 700 "$root/home/core/.ssh"; chmod 600 "$root/home/core/.ssh/authorized_keys"
echo 'core ALL=(ALL) NOPASSWD:ALL' > "$root/etc/sudoers.d/core"; chmod 440 "$root/etc/sudoers.d/core"
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=eth* en*\n[Network]\nDHCP=yes\n' > "$root/etc/systemd/network/10-dhcp.network"
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
# systemd >= 256 (trixie) ships systemd-ssh-generator, which fails at every boot under QEMU without vsock (and loads
# the vsock modules first): fcos images mask it, so the baseline masks it too.
if [ "$suite" != bookworm ]; then
  mkdir -p "$root/etc/systemd/system-generators"
  ln -sf /dev/null "$root/etc/systemd/system-generators/systemd-ssh-generator"
fi
