#!/bin/sh
# mmdebstrap --customize-hook of fcos compose's bootstrap (ostree/bootstrap.ts), run on the host: put the .debs that
# mmdebstrap downloaded into the .deb cache (hard links when possible; each one whole or not at all), then remove
# what would make the tree differ between hosts or carry build-time settings.
# Arguments: ROOT (the tree, mmdebstrap's "$1") DEBS (the .deb cache directory)
set -e
root="$1"
debs="$2"
for f in "$root"/var/cache/apt/archives/*.deb; do [ -e "$f" ] || continue; b=$(basename "$f"); [ -e "$debs/$b" ] && continue; ln "$f" "$debs/.$b.tmp" 2>/dev/null || cp "$f" "$debs/.$b.tmp"; mv -f "$debs/.$b.tmp" "$debs/$b"; done
# Reproducible across hosts: mmdebstrap copies the host's resolv.conf and hostname.
rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
# --aptopt/--dpkgopt are written into the tree permanently; they are build-time settings only.
rm -f "$root/etc/apt/apt.conf.d/99mmdebstrap" "$root/etc/dpkg/dpkg.cfg.d/99mmdebstrap"
