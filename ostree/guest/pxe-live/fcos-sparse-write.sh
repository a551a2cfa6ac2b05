#!/bin/bash
# fcos-sparse-write DEV HEAD WORKDIR [ZEROED]: write a metal.raw.zst read from stdin onto DEV (a disk, or a file in
# the unit test), except its first MiB, which goes to the file HEAD (the installer writes it last).
#
# An fcos image (images/sparse-zst.ts) carries an extent index in zstd skippable frames: each `data` frame is
# decompressed and written at its offset; a `zero` region is skipped when ZEROED is non-empty (the caller made the
# disk read zeros: blkdiscard), else written like data. Any other zstd stream is decompressed whole (the zeros too).
# With ZEROED, all-zero blocks inside data are skipped too (dd conv=sparse).
# Exit status: 0 done; 2 the stream is not a valid image (truncated, does not decompress, bad index); 3 a write
# failed. The reason is on stderr.
set -uo pipefail
dev=$1 head=$2 w=$3 zeroed=${4:-}
sparse=
[ -n "$zeroed" ] && sparse=,sparse
m=$w/sparse-marker
MARKER=128
HEAD=1048576

bad() { echo "$*" >&2; exit 2; }
# The 8-byte header of the marker file as one little-endian hex word ('' when the file is empty).
marker_magic() { local h; h=$(od -An -tx8 -N8 "$m"); echo "${h// /}"; }
MAGIC=00000078184d2a5e
wfail() { echo "$*" >&2; exit 3; }

# The next CSIZE bytes of stdin, decompressed, onto DEV at OFF (conv=notrunc: a regular file keeps its length).
write_at() {
    local off=$1 csize=$2 rc
    dd bs=1M iflag=fullblock,count_bytes count="$csize" status=none \
        | zstd -dcq \
        | dd of="$dev" bs=1M iflag=fullblock oflag=seek_bytes seek="$off" conv=notrunc$sparse status=none
    rc=("${PIPESTATUS[@]}")
    # The writing dd first: when it fails, zstd dies of the broken pipe.
    [ "${rc[2]}" = 0 ] || wfail "writing to $dev at offset $off failed"
    [ "${rc[0]}" = 0 ] || bad "reading the image stream failed at offset $off"
    [ "${rc[1]}" = 0 ] || bad "the image region at offset $off does not decompress (zstd)"
}

dd of="$m" bs=$MARKER count=1 iflag=fullblock status=none || bad "reading the image stream failed"
if [ "$(marker_magic)" != $MAGIC ]; then
    # A plain zstd image: everything through zstd, the first MiB held back.
    { cat "$m"; cat; } | zstd -dcq | { dd of="$head" bs=1M count=1 iflag=fullblock status=none \
        && dd of="$dev" bs=1M seek=1 iflag=fullblock conv=notrunc$sparse status=none; }
    rc=("${PIPESTATUS[@]}")
    [ "${rc[2]}" = 0 ] || wfail "writing to $dev failed"
    [ "${rc[1]}" = 0 ] || bad "the image does not decompress (zstd)"
    sync
    exit 0
fi

pos=0
while :; do
    # shellcheck disable=SC2046 # the payload is five words
    set -- $(dd if="$m" bs=8 skip=1 status=none)
    tag=${1:-} kind=${2:-} off=${3:-} len=${4:-} csize=${5:-}
    [ "$tag" = fcos-sparse-1 ] || bad "bad extent index entry at image offset $pos"
    case "$off$len$csize" in *[!0-9]*|'') bad "bad extent index entry: $kind $off $len $csize" ;; esac
    [ "$off" = "$pos" ] || bad "extent index out of order: $kind at $off, expected $pos"
    case $kind in
        head)
            # shellcheck disable=SC2015 # both must hold, else bad
            [ "$off" = 0 ] && [ "$len" = $HEAD ] || bad "bad head entry: $off $len"
            dd bs=1M iflag=fullblock,count_bytes count="$csize" status=none | zstd -dcq > "$head"
            rc=("${PIPESTATUS[@]}")
            # shellcheck disable=SC2015 # both must hold, else bad
            [ "${rc[0]}" = 0 ] && [ "${rc[1]}" = 0 ] || bad "the image's first MiB does not decompress"
            [ "$(stat -c %s "$head")" = $HEAD ] || bad "the image's first MiB is $(stat -c %s "$head") bytes"
            ;;
        data | zero)
            [ "$off" -ge $HEAD ] || bad "a $kind region inside the first MiB: $off"
            if [ "$kind" = zero ] && [ -n "$zeroed" ]; then
                dd bs=64K iflag=fullblock,count_bytes count="$csize" of=/dev/null status=none || bad "reading the image stream failed at offset $off"
            else
                write_at "$off" "$csize"
            fi
            ;;
        end)
            [ "$len" = 0 ] || bad "bad end entry"
            [ "$pos" -ge $HEAD ] || bad "the image ends at $pos, before its first MiB is complete"
            break
            ;;
        *) bad "unknown extent index entry: $kind" ;;
    esac
    pos=$((off + len))
    dd of="$m" bs=$MARKER count=1 iflag=fullblock status=none || bad "reading the image stream failed after offset $pos"
    case $(marker_magic) in
        "$MAGIC") ;;
        '') bad "the image stream ends at offset $pos without its end entry" ;;
        *) bad "no extent index entry at image offset $pos" ;;
    esac
done
# Nothing may follow the end entry.
[ "$(dd bs=1 count=1 status=none | wc -c)" = 0 ] || bad "data after the end of the image"
sync
