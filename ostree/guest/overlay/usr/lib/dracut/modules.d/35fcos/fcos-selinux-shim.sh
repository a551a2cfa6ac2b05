#!/bin/bash
set -euo pipefail
cfg=/sysroot/etc/selinux/config
stamp=/run/fcos-selinux-shim
case "$1" in
create)
    if [ ! -e "$cfg" ]; then
        mkdir -p /sysroot/etc/selinux
        [ -d /sysroot/etc/selinux ] && : > "$stamp.dir"
        printf 'SELINUX=disabled\nSELINUXTYPE=default\n' > "$cfg"
        : > "$stamp"
    fi ;;
remove)
    if [ -e "$stamp" ]; then
        rm -f "$cfg" "$stamp"
        rmdir /sysroot/etc/selinux 2>/dev/null || true
    fi ;;
esac
