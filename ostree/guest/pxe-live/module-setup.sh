#!/bin/bash
# fcos live PXE: mount a squashfs rootfs fetched over HTTP as / (read-only squashfs + tmpfs overlay), and the
# bare-metal installer (fcos.inst.*). Only the PXE initramfs includes this module: `fcos build --format pxe` copies
# it into a temporary checkout of the deployment and runs dracut there (images/pxe.ts). See docs/pxe.md.
#
#   cmdline/20-fcos-live.sh      root=/rootok for fcos.live.rootfs_url or fcos.inst.install_dev (no root= needed)
#   fcos-live-network.service    DHCP (systemd-networkd) and wait until online
#   fcos-live-config-check       fetch ignition.config.url once; a refusal from `fcos pxe serve` is shown loudly
#   fcos-live-rootfs.service     fetch, sha256-check, loop-mount the rootfs, overlay it onto /sysroot
#   fcos-install.service         write the image to fcos.inst.install_dev, verify, make bootable last, reboot
#                                (fcos-sparse-write: only the image's data regions, by its extent index)

check() {
    return 255
}

depends() {
    echo fcos systemd-networkd
}

installkernel() {
    hostonly='' instmods squashfs overlay loop
}

# shellcheck disable=SC2154 # moddir, initdir and systemd*dir are set by dracut, which sources this file
install() {
    local u
    inst_multiple curl tee du sha256sum losetup mount umount mountpoint dd zstd mkfifo sync blockdev sleep cat cut tr sed grep head wc stat mkdir rm mv cp chmod od
    inst_multiple -o blkdiscard partx udevadm wipefs lsblk systemctl
    inst_hook cmdline 20 "$moddir/fcos-live-cmdline.sh"
    inst_script "$moddir/fcos-live-lib.sh" /usr/libexec/fcos-live-lib
    inst_script "$moddir/fcos-live-rootfs.sh" /usr/libexec/fcos-live-rootfs
    inst_script "$moddir/fcos-live-config-check.sh" /usr/libexec/fcos-live-config-check
    inst_script "$moddir/fcos-install.sh" /usr/libexec/fcos-install
    inst_script "$moddir/fcos-sparse-write.sh" /usr/libexec/fcos-sparse-write
    inst_simple "$moddir/90-fcos-live.network" /etc/systemd/network/90-fcos-live.network
    for u in fcos-live-network.service fcos-live-rootfs.service fcos-live-config-check.service fcos-install.service; do
        inst_simple "$moddir/$u" "$systemdsystemunitdir/$u"
    done
    mkdir -p "$initdir/$systemdsystemunitdir/initrd-root-fs.target.requires" "$initdir/$systemdsystemunitdir/ignition-complete.target.requires"
    ln_r "$systemdsystemunitdir/fcos-live-rootfs.service" "$systemdsystemunitdir/initrd-root-fs.target.requires/fcos-live-rootfs.service"
    ln_r "$systemdsystemunitdir/fcos-install.service" "$systemdsystemunitdir/initrd-root-fs.target.requires/fcos-install.service"
    ln_r "$systemdsystemunitdir/fcos-live-config-check.service" "$systemdsystemunitdir/ignition-complete.target.requires/fcos-live-config-check.service"
    # No ostree deployment on a live root: there is no stateroot /var to bind (fcos-mount-var) and no
    # ostree-prepare-root (its own condition is the ostree= karg).
    inst_simple "$moddir/10-fcos-live-skip.conf" "$systemdsystemunitdir/fcos-mount-var.service.d/10-fcos-live.conf"
    # 35fcos runs networkd only on a first boot (ignition.firstboot); an install boot has no such argument.
    for u in systemd-networkd.service systemd-networkd.socket systemd-network-generator.service; do
        inst_simple "$moddir/20-fcos-live-networkd.conf" "$systemdsystemunitdir/$u.d/20-fcos-live.conf"
    done
    # Replaces 35fcos's unit (installed earlier): no /boot to wait for. dracut's inst_* never overwrite a file that
    # is in the initramfs already, so the old one goes first (kept, it made every PXE boot wait 90 s for the device).
    rm -f "$initdir$systemdsystemunitdir/fcos-embedded-config.service"
    inst_simple "$moddir/fcos-embedded-config.service" "$systemdsystemunitdir/fcos-embedded-config.service"
    inst_multiple true
}
