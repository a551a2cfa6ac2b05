#!/bin/bash
# fcos-ignition-failure: run before the initramfs's emergency shell (emergency.service.d/10-fcos-ignition.conf).
# When an Ignition stage failed, print its errors on the console: the reason is otherwise only in the initramfs
# journal, which is gone at the next boot (FCOS shows a failed first boot's reason on the console the same way).
failed=$(systemctl --failed --no-legend --plain 2>/dev/null | awk '$1 ~ /^ignition-/ {print $1}' | tr '\n' ' ')
[ -n "$failed" ] || exit 0
{
    echo
    echo "fcos: Ignition failed (${failed% }); its errors and warnings:"
    journalctl -b --no-pager -o cat -t ignition -p warning 2>/dev/null | tail -n 30 | sed 's/^/fcos: ignition: /'
    echo
} >"${FCOS_CONSOLE:-/dev/console}" 2>&1
exit 0
