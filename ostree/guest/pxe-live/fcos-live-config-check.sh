#!/bin/bash
# Ask the config server for this machine's config once, before Ignition does. `fcos pxe serve` answers a config that
# failed its validation with HTTP 403 and the reasons as text: show them on the console and stop, instead of letting
# Ignition retry a failing URL forever.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=fcos-live-lib.sh # installed as /usr/libexec/fcos-live-lib
. /usr/libexec/fcos-live-lib
T=fcos-live
url=$(karg ignition.config.url) || exit 0
case "$url" in http://*|https://*) ;; *) exit 0 ;; esac
fetch_config $T "$url" /run/fcos-live-config-check.ign
say $T "the config server has a config for this machine ($url)"
rm -f /run/fcos-live-config-check.ign
