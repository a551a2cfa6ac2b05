#!/bin/sh
# dracut cmdline hook: a live or install boot has no root= (the root is fetched, or there is none: the installer
# reboots). Tell dracut's root= check that this is handled.
# shellcheck disable=SC2034 # root and rootok are read by dracut, which sources this hook
if getarg fcos.live.rootfs_url= >/dev/null || getarg coreos.live.rootfs_url= >/dev/null; then
    root=fcos-live
    rootok=1
    info "fcos: live boot, rootfs from $(getarg fcos.live.rootfs_url= || getarg coreos.live.rootfs_url=)"
elif getarg fcos.inst.install_dev= >/dev/null || getarg coreos.inst.install_dev= >/dev/null; then
    root=fcos-install
    rootok=1
    info "fcos: install boot"
fi
