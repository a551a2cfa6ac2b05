#!/bin/bash
# Fetch the live rootfs (squashfs of the deployment) into RAM, check its sha256, mount it read-only, and put a
# tmpfs overlay on top at /sysroot. Kernel arguments: fcos.live.rootfs_url (or coreos.live.rootfs_url) and
# fcos.live.rootfs_sha256 (checked when present; `fcos pxe serve` always passes it).
set -uo pipefail
. /usr/libexec/fcos-live-lib
T=fcos-live
url=$(karg fcos.live.rootfs_url coreos.live.rootfs_url) || fail $T "no fcos.live.rootfs_url on the kernel command line"
want=$(karg fcos.live.rootfs_sha256 || true)
d=/run/fcos-live
mkdir -p $d/squash $d/rw
# The image lives in RAM: a tmpfs sized for it (the default /run is 10-20% of RAM).
mountpoint -q $d/img || { mkdir -p $d/img && mount -t tmpfs -o mode=0700,size=90% fcos-live-img $d/img; } || fail $T "cannot mount a tmpfs for the rootfs image"
say $T "fetching the rootfs image $url"
fetch "$url" $d/img/rootfs.img || fail $T "failed to download the rootfs image from $url (curl exit $?)"
size=$(stat -c %s $d/img/rootfs.img)
if [ -n "$want" ]; then
    got=$(sha256sum $d/img/rootfs.img | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
        rm -f $d/img/rootfs.img
        fail $T "rootfs image sha256 mismatch: got $got, expected $want ($url, $size bytes); refusing to boot it"
    fi
    say $T "rootfs image sha256 verified ($size bytes)"
else
    say $T "no fcos.live.rootfs_sha256: the rootfs image ($size bytes) is not verified"
fi
modprobe -q squashfs 2>/dev/null; modprobe -q overlay 2>/dev/null; modprobe -q loop 2>/dev/null
mount -t squashfs -o ro,loop $d/img/rootfs.img $d/squash || fail $T "cannot mount the rootfs image (not a squashfs?)"
mount -t tmpfs -o mode=0755 fcos-live-rw $d/rw || fail $T "cannot mount the overlay tmpfs"
mkdir -p $d/rw/upper $d/rw/work
mount -t overlay -o lowerdir=$d/squash,upperdir=$d/rw/upper,workdir=$d/rw/work fcos-live-root /sysroot || fail $T "cannot mount the overlay on /sysroot"
say $T "live root mounted on /sysroot (squashfs + tmpfs overlay)"
