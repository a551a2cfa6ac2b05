#!/bin/sh
# mmdebstrap --setup-hook of fcos compose's bootstrap (ostree/bootstrap.ts), run on the host: fill the new tree's apt
# cache from the .deb cache (hard links when the cache and the tree share a filesystem, copies otherwise) and its
# package lists from fcos's own apt state (mmdebstrap then runs with --skip=update).
# Arguments: ROOT (the tree, mmdebstrap's "$1") DEBS (the .deb cache directory) LIST... (package list files to copy)
set -e
root="$1"
debs="$2"
shift 2
mkdir -p "$root/var/cache/apt/archives/partial" "$root/var/lib/apt/lists/partial"
for f in "$debs"/*.deb; do [ -e "$f" ] || continue; ln "$f" "$root/var/cache/apt/archives/" 2>/dev/null || cp "$f" "$root/var/cache/apt/archives/"; done
for l in "$@"; do cp "$l" "$root/var/lib/apt/lists/"; done
