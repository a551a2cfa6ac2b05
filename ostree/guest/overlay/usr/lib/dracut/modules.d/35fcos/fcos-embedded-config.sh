#!/bin/bash
# Ignition 2.14 looks for its config in this order: the ignition.config.url karg, /usr/lib/ignition/user.ign in
# the initramfs, then the platform (qemu: fw_cfg opt/com.coreos/config). `fcos build` embeds the user's config as
# /boot/ignition/config.ign. We copy it to user.ign only when fw_cfg carries no config, so that
# `fcos run --ignition other.ign` (fw_cfg) takes precedence, and the embedded config is used otherwise.
set -euo pipefail
fwcfg=/sys/firmware/qemu_fw_cfg/by_name/opt/com.coreos/config/raw
dest=/usr/lib/ignition/user.ign
if grep -qw 'ignition.config.url=[^ ]*' /proc/cmdline; then
    echo "fcos: ignition.config.url is set; not using the embedded config"
    exit 0
fi
modprobe -q qemu_fw_cfg 2>/dev/null || true
if [ -e "$fwcfg" ]; then
    echo "fcos: QEMU fw_cfg has an Ignition config; it takes precedence over the embedded one"
    exit 0
fi
dev=/dev/disk/by-label/boot
for _ in $(seq 1 100); do [ -b "$dev" ] && break; sleep 0.1; done
if [ ! -b "$dev" ]; then
    echo "fcos: no boot partition ($dev); no embedded config"
    exit 0
fi
mnt=/run/fcos-boot
mkdir -p "$mnt"
mount -o ro "$dev" "$mnt"
if [ -f "$mnt/ignition/config.ign" ]; then
    # systemd ≥ 256 keeps /usr read-only in the initramfs (ProtectSystem=auto for PID 1): a tmpfs on the
    # (empty, shipped) /usr/lib/ignition takes the config.
    if ! mountpoint -q /usr/lib/ignition; then
        mount -t tmpfs -o mode=0755,size=16m fcos-ignition /usr/lib/ignition
    fi
    cp "$mnt/ignition/config.ign" "$dest"
    chmod 0600 "$dest"
    echo "fcos: using the Ignition config embedded in /boot/ignition/config.ign"
else
    echo "fcos: no embedded Ignition config"
fi
umount "$mnt"
rmdir "$mnt"
