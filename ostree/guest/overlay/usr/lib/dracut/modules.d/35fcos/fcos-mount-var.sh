#!/bin/bash
# Bind the stateroot's /var (/sysroot/sysroot/ostree/deploy/$stateroot/var) onto the deployment's /var.
set -euo pipefail
case "${1:-}" in
mount)
    # After ostree-prepare-root, /sysroot is the deployment and /sysroot/sysroot the physical root.
    ostree_arg=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^ostree=//p' | tail -n1)
    target=$(readlink -f "/sysroot/sysroot${ostree_arg}" || true)
    # target = /sysroot/sysroot/ostree/deploy/<stateroot>/deploy/<csum>.<serial>
    stateroot_dir=$(dirname "$(dirname "$target")")
    if [ ! -d "$stateroot_dir/var" ]; then
        echo "fcos: cannot find the stateroot /var from ostree=$ostree_arg ($stateroot_dir)" >&2
        exit 1
    fi
    mountpoint -q /sysroot/var || mount --bind "$stateroot_dir/var" /sysroot/var
    ;;
umount)
    if mountpoint -q /sysroot/var; then umount /sysroot/var; fi
    ;;
*) echo "usage: $0 mount|umount" >&2; exit 2 ;;
esac
