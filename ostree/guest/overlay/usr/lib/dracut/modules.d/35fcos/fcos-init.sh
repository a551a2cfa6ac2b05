#!/bin/bash
# fcos-init: /init of the fcos initramfs (installed by 35fcos over the systemd symlink that 00systemd makes).
#
# Later boots (no `ignition.firstboot`) take a short path, the way Debian's initramfs-tools boots a plain system:
# mount /proc, /sys, /dev and /run, load the drivers for the devices present (their modaliases, two rounds so a
# disk behind a newly loaded controller is found), wait for `root=`, mount it on /sysroot, run ostree-prepare-root
# (the same binary ostree-prepare-root.service runs: it makes /sysroot the deployment and the physical root
# /sysroot/sysroot), and switch_root to the deployment's init. No systemd, udev or journald in the initramfs: under
# TCG those cost as much as the real root's own start-up (bench/boot, docs/build.md "Boot time").
#
# Everything else goes to systemd, which is then PID 1 of the initramfs exactly as before (Ignition, emergency
# shell): a first boot (`ignition.firstboot`), a live or installer boot (`fcos.live.*`, `fcos.inst.*`), debugging
# arguments (`rd.break`, `rd.shell`, `rd.emergency`, `systemd.unit=`), `fcos.initrd=systemd`, a command line without
# `root=` or `ostree=`, and any failure of the short path before switch_root (no root device after
# `rd.timeout`/30 s, a failed mount), which then ends in systemd's usual handling.
SYSTEMD=/usr/lib/systemd/systemd
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

# fcos_short_path_ok CMDLINE: 0 when the short path applies to this kernel command line.
fcos_short_path_ok() {
    local a root=0 ostree=0
    for a in $1; do
        case "$a" in
            ignition.firstboot|ignition.firstboot=*|fcos.live.*|fcos.inst.*|rd.break|rd.break=*|rd.shell|rd.shell=*|\
            rd.emergency|rd.emergency=*|systemd.unit=*|rd.systemd.unit=*|fcos.initrd=systemd|init=*|rdinit=*) return 1 ;;
            root=?*) root=1 ;;
            ostree=?*) ostree=1 ;;
        esac
    done
    [ "$root" = 1 ] && [ "$ostree" = 1 ]
}

# fcos_cmdline_value CMDLINE KEY: the last KEY=value's value (the kernel's rule: the last one wins).
fcos_cmdline_value() {
    local a v=
    for a in $1; do
        case "$a" in "$2="*) v=${a#"$2="} ;; esac
    done
    printf '%s' "$v"
}

fcos_log() {
    echo "fcos-init: $*" > /dev/kmsg 2>/dev/null || echo "fcos-init: $*" >&2
}

# Load the drivers of the devices present, until no new modalias shows up (at most 3 rounds).
fcos_coldplug() {
    local round seen='' now
    # shellcheck disable=SC2034 # round only counts the rounds
    for round in 1 2 3; do
        now=$(cat /sys/bus/*/devices/*/modalias 2>/dev/null)
        [ "$now" = "$seen" ] && return 0
        seen=$now
        # One argument per alias, no globbing.
        set -f
        # shellcheck disable=SC2086
        modprobe -a -b -q $now 2>/dev/null
        set +f
    done
}

# fcos_root_device SPEC: the device node of root= (LABEL=, UUID=, PARTUUID=, PARTLABEL= or a /dev path), or nothing.
fcos_root_device() {
    case "$1" in
        /dev/*) [ -b "$1" ] && printf '%s' "$1" ;;
        LABEL=*|UUID=*|PARTUUID=*|PARTLABEL=*) blkid -c /dev/null -l -o device -t "$1" 2>/dev/null ;;
    esac
}

fcos_short_path() {
    local cmdline root dev opts timeout i
    cmdline=$(cat /proc/cmdline)
    fcos_short_path_ok "$cmdline" || return 1
    root=$(fcos_cmdline_value "$cmdline" root)
    timeout=$(fcos_cmdline_value "$cmdline" rd.timeout)
    case "$timeout" in ''|*[!0-9]*) timeout=30 ;; esac
    fcos_coldplug
    for ((i = 0; i < timeout * 10; i++)); do
        dev=$(fcos_root_device "$root")
        [ -n "$dev" ] && break
        [ $((i % 10)) = 9 ] && fcos_coldplug
        sleep 0.1
    done
    if [ -z "$dev" ]; then
        fcos_log "root device $root not found after ${timeout}s"
        return 1
    fi
    opts=rw
    case " $cmdline " in *" ro "*) opts=ro ;; esac
    i=$(fcos_cmdline_value "$cmdline" rootflags)
    [ -n "$i" ] && opts="$opts,$i"
    mkdir -p /sysroot
    if ! mount -o "$opts" "$dev" /sysroot; then
        fcos_log "cannot mount $dev ($root) on /sysroot"
        return 1
    fi
    if ! /usr/lib/ostree/ostree-prepare-root /sysroot; then
        fcos_log "ostree-prepare-root failed"
        umount -R /sysroot 2>/dev/null
        return 1
    fi
    fcos_log "root $dev ready (short path), switching to the deployment"
    return 0
}

# Sourced by the unit tests (FCOS_INIT_LIB=1): the functions only.
[ "${FCOS_INIT_LIB:-}" = 1 ] && return 0

mount -t proc -o nosuid,noexec,nodev proc /proc 2>/dev/null
mount -t sysfs -o nosuid,noexec,nodev sysfs /sys 2>/dev/null
mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev 2>/dev/null
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run 2>/dev/null

if fcos_short_path; then
    # shellcheck disable=SC2093 # as it was: bash (no execfail) exits when exec fails, so the line below is not reached
    exec switch_root /sysroot /sbin/init "$@"
    fcos_log "switch_root failed"
fi
exec "$SYSTEMD" "$@"
