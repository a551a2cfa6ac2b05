#!/bin/bash
# Fetch the live rootfs (squashfs of the deployment) into RAM, check its sha256, mount it read-only, and put a
# copy it into a tmpfs at /sysroot (the live root, in RAM). Kernel arguments: fcos.live.rootfs_url (or coreos.live.rootfs_url) and
# fcos.live.rootfs_sha256 (checked when present; `fcos pxe serve` always passes it).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=fcos-live-lib.sh # installed as /usr/libexec/fcos-live-lib
. /usr/libexec/fcos-live-lib
T=fcos-live
url=$(karg fcos.live.rootfs_url coreos.live.rootfs_url) || fail $T "no fcos.live.rootfs_url on the kernel command line"
want=$(karg fcos.live.rootfs_sha256 || true)
d=/run/fcos-live
mkdir -p $d/squash $d/rw
# The image lives in RAM: a tmpfs sized for it (the default /run is 10-20% of RAM).
mountpoint -q $d/img || { mkdir -p $d/img && mount -t tmpfs -o mode=0700,size=90% fcos-live-img $d/img; } || fail $T "cannot mount a tmpfs for the rootfs image"
say $T "fetching the rootfs image $url"
# A .zst rootfs is decompressed while it downloads. The sha256 is of the bytes downloaded.
rm -f $d/sum.fifo && mkfifo $d/sum.fifo
sha256sum < $d/sum.fifo > $d/sum &
sumpid=$!
case "$url" in
    *.zst) curl --fail --silent --show-error --location --retry 5 --retry-delay 2 --retry-connrefused --connect-timeout 20 "$url" 2>$d/curl.err \
               | tee $d/sum.fifo | zstd -dc > $d/img/rootfs.img 2>$d/zstd.err ;;
    *) curl --fail --silent --show-error --location --retry 5 --retry-delay 2 --retry-connrefused --connect-timeout 20 "$url" 2>$d/curl.err \
           | tee $d/sum.fifo > $d/img/rootfs.img ;;
esac
rc=("${PIPESTATUS[@]}")
wait $sumpid
got=$(cut -d' ' -f1 < $d/sum)
[ "${rc[0]}" = 0 ] || { rm -f $d/img/rootfs.img; fail $T "failed to download the rootfs image from $url: $(cat $d/curl.err)"; }
[ "${rc[1]}" = 0 ] || { rm -f $d/img/rootfs.img; fail $T "failed to store the rootfs image (out of memory?)"; }
[ "${rc[2]:-0}" = 0 ] || { rm -f $d/img/rootfs.img; fail $T "the rootfs image from $url does not decompress (zstd): $(cat $d/zstd.err)"; }
size=$(stat -c %s $d/img/rootfs.img)
if [ -n "$want" ]; then
    if [ "$got" != "$want" ]; then
        rm -f $d/img/rootfs.img
        fail $T "rootfs image sha256 mismatch: got $got, expected $want ($url); refusing to boot it"
    fi
    say $T "rootfs image sha256 verified ($size bytes)"
else
    say $T "no fcos.live.rootfs_sha256: the rootfs image ($size bytes) is not verified"
fi
modprobe -q squashfs 2>/dev/null; modprobe -q overlay 2>/dev/null; modprobe -q loop 2>/dev/null
mount -t squashfs -o ro,loop $d/img/rootfs.img $d/squash || fail $T "cannot mount the rootfs image (not a squashfs?)"
# The root is a RAM copy of the image (tmpfs), not an overlay on the squashfs: reading a squashfs at random
# under TCG was slow enough that systemd's generators timed out after switch-root (compressed), or the kernel
# soft-locked in squashfs readahead (uncompressed). A sequential copy costs RAM (the tree's size) and some seconds.
say $T "copying the rootfs into RAM"
mount -t tmpfs -o mode=0755,size=90% fcos-live-root /sysroot || fail $T "cannot mount the root tmpfs on /sysroot"
cp -a $d/squash/. /sysroot/ || fail $T "cannot copy the rootfs into RAM (out of memory?)"
umount $d/squash
rm -f $d/img/rootfs.img
umount $d/img
say $T "live root in RAM on /sysroot (tmpfs, $(du -sm /sysroot 2>/dev/null | cut -f1) MiB)"
