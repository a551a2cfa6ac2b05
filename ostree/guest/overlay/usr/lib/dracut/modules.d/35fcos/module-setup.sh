#!/bin/bash
# fcos first-boot glue for Debian's Ignition 2.14 on an ostree system (the role of FCOS's ignition-ostree
# module in fedora-coreos-config overlay.d/05core). Installed into the tree by `fcos compose` (ostree/guest/overlay/).
#
# Units (all in the initramfs, all first boot only unless noted):
#   fcos-embedded-config   before ignition-fetch-offline: copies /boot/ignition/config.ign (written by `fcos build`)
#                          to /usr/lib/ignition/user.ign, but only when QEMU's fw_cfg carries no config, so a
#                          config passed with -fw_cfg (fcos run --ignition) wins over the embedded one.
#   fcos-enable-network    between fetch-offline and fetch: brings the network up only when Ignition asked
#                          for it (/run/ignition/neednet), as FCOS does.
#   fcos-mount-var         binds the stateroot /var onto /sysroot/var, so what Ignition writes under /var
#                          (home directories, ssh keys) lands in the persistent /var (ignition-ostree-mount-var).
#   fcos-populate-var      systemd-tmpfiles --root=/sysroot for /var, before the files stage.
#   ignition-files.service.d/10-fcos-selinux.conf
#                          Debian's Ignition relabels with setfiles: a temporary /etc/selinux/config around the
#                          files stage plus a no-op setfiles in the initramfs only.
#   systemd-networkd.service.d/10-fcos.conf (every boot)
#                          networkd runs in the initramfs only on first boot.
#   /init = fcos-init (every boot)
#                          later boots skip systemd in the initramfs: mount root=, ostree-prepare-root, switch_root
#                          (see fcos-init.sh); a first boot, a live/installer boot, debugging arguments and any
#                          failure hand over to systemd as before. `fcos.initrd=systemd` forces the systemd path.
#   emergency.service, rescue.service (systemd's own: systemd-sulogin-shell)
#                          the default initramfs has no dracut-systemd (whose shell hooks cost seconds at every
#                          boot), which is what normally installs them; a failed first boot still ends visibly in
#                          an emergency shell. With dracut-systemd added back, its own versions are used.
#   emergency.service.d/10-fcos-emergency.conf
#                          before the shell, fcos-ignition-failure prints a failed Ignition stage's errors (from the
#                          initramfs journal) on the console, so a bad config's reason is visible where it failed.

check() {
    return 255
}

depends() {
    echo ignition ostree systemd-networkd
}

# shellcheck disable=SC2154 # moddir, initdir and systemd*dir are set by dracut, which sources this file
install() {
    local u
    inst_multiple chmod mount umount mountpoint readlink dirname sed tr tail grep seq sleep cp mkdir rmdir rm cat systemd-tmpfiles modprobe
    inst_multiple -o blkid
    # /init: the short path for later boots, systemd otherwise (00systemd made /init a link to systemd).
    inst_multiple bash switch_root blkid modprobe
    inst_script "$moddir/fcos-init.sh" /usr/libexec/fcos-init
    ln -sfn usr/libexec/fcos-init "$initdir/init"
    if ! dracut_module_included "dracut-systemd"; then
        inst_multiple -o sulogin "$systemdutildir/systemd-sulogin-shell" \
            "$systemdsystemunitdir/emergency.service" "$systemdsystemunitdir/rescue.service"
    fi
    inst_script "$moddir/fcos-ignition-failure.sh" /usr/libexec/fcos-ignition-failure
    inst_multiple -o journalctl awk
    inst_simple "$moddir/10-fcos-emergency.conf" "$systemdsystemunitdir/emergency.service.d/10-fcos-emergency.conf"
    inst_script "$moddir/fcos-embedded-config.sh" /usr/libexec/fcos-embedded-config
    # Mount point for the embedded config (/usr is read-only in the initramfs with systemd >= 256).
    inst_dir /usr/lib/ignition
    inst_script "$moddir/fcos-mount-var.sh" /usr/libexec/fcos-mount-var
    inst_script "$moddir/fcos-selinux-shim.sh" /usr/libexec/fcos-selinux-shim
    # Ignition calls setfiles after writing files; there is no SELinux policy in the tree.
    inst_script "$moddir/setfiles-noop.sh" /usr/sbin/setfiles
    for u in fcos-embedded-config.service fcos-enable-network.service fcos-mount-var.service fcos-populate-var.service; do
        inst_simple "$moddir/$u" "$systemdsystemunitdir/$u"
        mkdir -p "$initdir/$systemdsystemunitdir/ignition-complete.target.requires"
        ln_r "$systemdsystemunitdir/$u" "$systemdsystemunitdir/ignition-complete.target.requires/$u"
    done
    inst_simple "$moddir/10-fcos-selinux.conf" "$systemdsystemunitdir/ignition-files.service.d/10-fcos-selinux.conf"
    inst_simple "$moddir/10-fcos-networkd.conf" "$systemdsystemunitdir/systemd-networkd.service.d/10-fcos.conf"
    inst_simple "$moddir/10-fcos-networkd.conf" "$systemdsystemunitdir/systemd-networkd.socket.d/10-fcos.conf"
    inst_simple "$moddir/10-fcos-networkd.conf" "$systemdsystemunitdir/systemd-network-generator.service.d/10-fcos.conf"
}
