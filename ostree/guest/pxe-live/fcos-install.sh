#!/bin/bash
# fcos bare-metal install (the role of coreos-installer), run in the PXE initramfs:
#   1. check the target device and fetch the Ignition config (nothing is written before both are good);
#   2. wipe the partition table signatures (the disk is not bootable from here on);
#   3. stream the compressed image: curl | tee (sha256) | fcos-sparse-write: only the image's data regions are
#      decompressed and written (its extent index, images/sparse-zst.ts), the zero regions skipped when the disk
#      reads zeros after blkdiscard, else written; a plain zstd image is decompressed whole; the first MiB
#      (protective MBR with the boot code, primary GPT) is held back in RAM until the download is verified;
#   4. check the sha256 of what was downloaded; on any failure wipe the disk's first and last MiB, so that a
#      half-written disk never looks bootable;
#   5. only then write the held-back first MiB (the disk becomes bootable), embed the config in
#      /boot/ignition/config.ign and the first-boot stamp (a failure here wipes the disk again);
#   6. sync, reboot.
# Kernel arguments (FCOS's coreos.inst.* names are accepted too): fcos.inst.install_dev (required),
# fcos.inst.image_url, fcos.inst.image_sha256, fcos.inst.ignition_url, fcos.inst.skip_reboot.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=fcos-live-lib.sh # installed as /usr/libexec/fcos-live-lib
. /usr/libexec/fcos-live-lib
T=fcos-install
dev=$(karg fcos.inst.install_dev coreos.inst.install_dev) || fail $T "no fcos.inst.install_dev on the kernel command line"
case "$dev" in /dev/*) ;; *) dev=/dev/$dev ;; esac
image=$(karg fcos.inst.image_url coreos.inst.image_url) || fail $T "no fcos.inst.image_url on the kernel command line"
want=$(karg fcos.inst.image_sha256 || true)
ign_url=$(karg fcos.inst.ignition_url coreos.inst.ignition_url || true)
w=/run/fcos-install
mkdir -p $w

say $T "installing $image to $dev"
for _ in $(seq 1 50); do [ -b "$dev" ] && break; sleep 0.2; done
if [ ! -b "$dev" ]; then
    avail=$(lsblk -dnpo NAME,SIZE 2>/dev/null | tr -s ' \n' ' ' || true)
    fail $T "install device $dev does not exist (disks: ${avail:-none found}); nothing was written"
fi
if [ -n "$ign_url" ]; then
    fetch_config $T "$ign_url" $w/config.ign
    grep -q '{' $w/config.ign || fail $T "the Ignition config from $ign_url is not JSON; nothing was written"
    say $T "Ignition config fetched ($(stat -c %s $w/config.ign) bytes)"
fi

wipe() {
    local sz
    sz=$(blockdev --getsize64 "$dev" 2>/dev/null || echo 0)
    dd if=/dev/zero of="$dev" bs=1M count=1 conv=fsync status=none 2>/dev/null
    if [ "$sz" -gt 2097152 ]; then dd if=/dev/zero of="$dev" bs=1M seek=$((sz / 1048576 - 1)) count=1 conv=fsync status=none 2>/dev/null; fi
    sync
}
abort() {
    wipe
    fail $T "$* -- the disk $dev was wiped (not bootable)"
}
# From here on the disk is not bootable until the very last step.
wipe
# Zero regions of the image are skipped only when the whole disk was discarded: on a virtual disk (qcow2, thin LVM,
# a fresh image) and on SSDs that return zeros after TRIM (RZAT) discarded blocks read as zeros. Assumption: a disk
# whose discard succeeds but keeps stale data would need blkdiscard -z; without discard every zero is written.
zeroed=
if command -v blkdiscard >/dev/null && blkdiscard "$dev" 2>/dev/null; then zeroed=1; fi
rm -f $w/sum.fifo && mkfifo $w/sum.fifo
sha256sum < $w/sum.fifo > $w/sum &
sumpid=$!
say $T "writing the image (this takes a while)"
curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 "$image" 2>$w/curl.err | tee $w/sum.fifo \
    | /usr/libexec/fcos-sparse-write "$dev" $w/head $w "$zeroed" 2>$w/write.err
rc=("${PIPESTATUS[@]}")
wait $sumpid
got=$(cut -d' ' -f1 < $w/sum)
# curl 23 is a write error: the writer stopped first, and says why.
[ "${rc[0]}" = 0 ] || [ "${rc[0]}" = 23 ] || abort "failed to download the image from $image: $(cat $w/curl.err)"
[ "${rc[2]}" != 2 ] || abort "the image from $image is not a valid image: $(cat $w/write.err)"
[ "${rc[2]}" = 0 ] || abort "writing to $dev failed: $(cat $w/write.err)"
[ "${rc[0]}" = 0 ] || abort "failed to download the image from $image: $(cat $w/curl.err)"
[ "${rc[1]}" = 0 ] || abort "failed to hash the image stream (tee)"
say $T "image written ($( [ -n "$zeroed" ] && echo 'data regions only: the disk was discarded' || echo 'every byte: no discard'))"
if [ -n "$want" ] && [ "$got" != "$want" ]; then
    abort "image sha256 mismatch: got $got, expected $want ($image)"
fi
# shellcheck disable=SC2015 # say always succeeds
[ -n "$want" ] && say $T "image sha256 verified" || say $T "no fcos.inst.image_sha256: the image was not verified"
[ "$(stat -c %s $w/head)" = 1048576 ] || abort "the image is smaller than 1 MiB"

# The partition table (the first MiB) goes on now, to find /boot (partition 3, images/layout.ts) and embed the
# config; any failure from here wipes it again.
dd if=$w/head of="$dev" bs=1M count=1 conv=fsync status=none || abort "writing the partition table failed"
blockdev --rereadpt "$dev" 2>/dev/null || partx -u "$dev" 2>/dev/null || true
command -v udevadm >/dev/null && udevadm settle --timeout=30 2>/dev/null
bootp=
for _ in $(seq 1 50); do
    for p in "${dev}3" "${dev}p3"; do [ -b "$p" ] && bootp=$p && break; done
    [ -n "$bootp" ] && break
    sleep 0.2
done
[ -n "$bootp" ] || abort "the boot partition of $dev did not appear after writing the image"
mkdir -p $w/boot
mount -t ext4 "$bootp" $w/boot || abort "cannot mount the boot partition $bootp"
if [ -f $w/config.ign ]; then
    mkdir -p $w/boot/ignition && chmod 0700 $w/boot/ignition
    cp $w/config.ign $w/boot/ignition/config.ign && chmod 0600 $w/boot/ignition/config.ign
    say $T "Ignition config embedded in /boot/ignition/config.ign"
fi
printf '%s\n' '# fcos: present until the first boot completes (written by fcos-install).' 'set ignition_platform="metal"' > $w/boot/ignition.firstboot
sync -f $w/boot/ignition.firstboot
umount $w/boot || abort "cannot unmount the boot partition"
sync
say $T "install complete: $dev is bootable"
if hasarg fcos.inst.skip_reboot || hasarg coreos.inst.skip_reboot; then
    say $T "fcos.inst.skip_reboot: powering off instead of rebooting"
    systemctl --no-block poweroff
else
    say $T "rebooting into the installed system"
    systemctl --no-block reboot
fi
# Keep initrd-root-fs.target from being reached while the reboot job runs.
sleep infinity
