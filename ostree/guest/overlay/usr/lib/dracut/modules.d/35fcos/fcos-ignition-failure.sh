#!/bin/bash
# fcos-ignition-failure: run before the initramfs's emergency shell (emergency.service.d/10-fcos-emergency.conf).
# When an Ignition stage failed, print its errors on the console: the reason is otherwise only in the initramfs
# journal, which is gone at the next boot (FCOS shows a failed first boot's reason on the console the same way).
failed=$(systemctl --failed --no-legend --plain 2>/dev/null | awk '$1 ~ /^ignition-/ {print $1}')
[ -n "$failed" ] || exit 0
{
    echo
    # shellcheck disable=SC2086,SC2116 # unquoted on purpose: the unit names, one a line, become one line
    echo "fcos: Ignition failed ($(echo $failed)); its errors:"
    # The failed units' own log lines and Ignition's (by identifier), whatever their priority; the error lines only.
    errs=$({
        for u in $failed; do journalctl -b -o cat --no-pager -u "$u" 2>/dev/null; done
        journalctl -b -o cat --no-pager -t ignition 2>/dev/null
    } | grep -aiE 'fail|error|mismatch|crit' | awk '!seen[$0]++' | tail -n 30)
    if [ -n "$errs" ]; then
        printf '%s\n' "$errs" | sed 's/^/fcos: ignition: /'
    else
        # Nothing matched: the journal's last lines, so that something says why.
        journalctl -b -o short-monotonic --no-pager -n 30 2>/dev/null | sed 's/^/fcos: journal: /'
    fi
    echo
} >"${FCOS_CONSOLE:-/dev/console}" 2>&1
exit 0
