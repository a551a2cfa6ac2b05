#!/bin/bash
# Shared helpers of the fcos live/install scripts (sourced).
# karg NAME...: the value of the first of these kernel arguments that is present (the last occurrence wins).
karg() {
    local n v
    for n in "$@"; do
        v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s|^${n}=||p" | tail -n1)
        if [ -n "$v" ]; then
            printf '%s\n' "$v"
            return 0
        fi
    done
    return 1
}
# hasarg NAME: a flag argument (no value) is present.
hasarg() {
    tr ' ' '\n' < /proc/cmdline | grep -qx "$1"
}
# fail TAG MESSAGE: a loud, greppable line on the console, then exit 1 (the unit's OnFailure= takes over).
fail() {
    local tag=$1
    shift
    echo "$tag: ERROR: $*" > /dev/console 2>/dev/null || true
    echo "$tag: ERROR: $*" >&2
    exit 1
}
say() {
    local tag=$1
    shift
    echo "$tag: $*" > /dev/console 2>/dev/null || true
    echo "$tag: $*"
}
# fetch URL FILE: curl with retries; fails on HTTP errors.
fetch() {
    curl --fail --silent --show-error --location --retry 5 --retry-delay 2 --retry-connrefused --connect-timeout 20 -o "$2" "$1"
}
# fetch_config TAG URL FILE: fetch an Ignition config; a refusal from `fcos pxe serve` (HTTP 403 with the reasons as
# text) is shown line by line on the console, and the caller stops.
fetch_config() {
    local tag=$1 url=$2 out=$3 code='' i line
    # shellcheck disable=SC2034 # i only counts the tries
    for i in $(seq 1 10); do
        code=$(curl --silent --location --connect-timeout 20 -o "$out" -w '%{http_code}' "$url")
        [ "$code" != 000 ] && break
        sleep 3
    done
    case "$code" in
        200) return 0 ;;
        403|422)
            while IFS= read -r line; do say "$tag" "config refused: $line"; done < "$out"
            rm -f "$out"
            fail "$tag" "the config server refused this machine's Ignition config (HTTP $code from $url); fix it and reboot" ;;
        *) fail "$tag" "cannot fetch the Ignition config from $url (HTTP $code): $(head -c 300 "$out" 2>/dev/null)" ;;
    esac
}
