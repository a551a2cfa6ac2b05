# shellcheck shell=bash disable=SC2034 # the variables are for the .bats files that load this
# Shared by test/guest/*.bats: a fake machine for the guest scripts of ostree/guest/overlay.
#   $ROOT   stands for / (FCOS_ROOT): /boot/grub, /var/lib/fcos-update, /etc/fcos, /usr/lib/fcos (update-lib.sh and
#           update-lock.sh are links to the real ones), /ostree/deploy
#   $FAKE   the stubs' state (FAKE_DIR): see the comments of test/guest/stubs/*; `calls` lists every stub call
# The stubs come first on PATH; everything else (awk, sed, timeout, find, ...) is the host's.

GUEST=$(cd "$BATS_TEST_DIRNAME/../../ostree/guest" && pwd)
OVERLAY=$GUEST/overlay
UPDATE=$OVERLAY/usr/bin/fcos-update
HEALTH=$OVERLAY/usr/libexec/fcos/update-health

# Commits: 64 hex digits each.
C0=$(printf '0%.0s' {1..64})
C1=$(printf '1%.0s' {1..64})
C2=$(printf '2%.0s' {1..64})
C3=$(printf '3%.0s' {1..64})

guest_setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  FAKE=$BATS_TEST_TMPDIR/fake
  mkdir -p "$ROOT/boot/grub" "$ROOT/var/lib" "$ROOT/etc/fcos" "$ROOT/usr/lib/fcos/health.d" "$FAKE/versions" "$FAKE/active"
  ln -s "$OVERLAY/usr/lib/fcos/update-lib.sh" "$ROOT/usr/lib/fcos/update-lib.sh"
  ln -s "$OVERLAY/usr/lib/fcos/update-lock.sh" "$ROOT/usr/lib/fcos/update-lock.sh"
  : >"$FAKE/calls"
  export FCOS_ROOT=$ROOT FAKE_DIR=$FAKE
  export PATH="$BATS_TEST_DIRNAME/stubs:$PATH"
  unset FAKE_DATE
}

# set_deployments STATE:VERSION:CSUM...: `ostree admin status` in its order (staged first, then booted/pending,
# rollback...); STATE is staged, booted, pending, rollback or other. Writes the booted deployment's origin file.
set_deployments() {
  local d st ver csum mark suffix
  : >"$FAKE/status"
  for d in "$@"; do
    IFS=: read -r st ver csum <<<"$d"
    mark=' ' suffix=''
    case $st in booted) mark='*' ;; other) ;; *) suffix=" ($st)" ;; esac
    printf '%s fcos %s.0%s\n    Version: %s\n    origin refspec: fcos:fcos/x86_64/stable\n' "$mark" "$csum" "$suffix" "$ver" >>"$FAKE/status"
    echo "$ver" >"$FAKE/versions/$csum"
    if [ "$st" = booted ]; then
      mkdir -p "$ROOT/ostree/deploy/fcos/deploy"
      printf '[origin]\nrefspec=fcos:fcos/x86_64/stable\n' >"$ROOT/ostree/deploy/fcos/deploy/$csum.0.origin"
    fi
  done
}

# remote VERSION CSUM: what the update server has.
remote() {
  echo "$2" >"$FAKE/remote-commit"
  echo "$1" >"$FAKE/versions/$2"
}

# conf LINE...: /etc/fcos/update.conf.
conf() { printf '%s\n' "$@" >"$ROOT/etc/fcos/update.conf"; }

# grubenv K=V...: the GRUB environment block as it is now (written, not through the fake's calls).
grubenv() { printf '%s\n' "$@" >"$ROOT/boot/grub/grubenv"; }
# grubenv_value K: a key's value in the block, empty when unset.
grubenv_value() { sed -n "s/^$1=//p" "$ROOT/boot/grub/grubenv"; }

# called PATTERN: a stub call matching the extended regex was made.
called() { grep -qE -- "$1" "$FAKE/calls"; }
# not_called PATTERN: no such call (a function: a bare `! cmd` does not fail a bats test).
not_called() { ! grep -qE -- "$1" "$FAKE/calls"; }

# state FILE: a file of /var/lib/fcos-update without its time stamp.
state() { cut -d' ' -f2- "$ROOT/var/lib/fcos-update/$1"; }

# health_check NAME EXIT [OUTPUT] [DIR]: an executable check in /usr/lib/fcos/health.d (or DIR under $ROOT).
health_check() {
  local d=$ROOT/${4:-usr/lib/fcos/health.d}
  mkdir -p "$d"
  printf '#!/bin/sh\necho "%s"\nexit %s\n' "${3:-}" "$2" >"$d/$1"
  chmod +x "$d/$1"
}

# grub_boot: what GRUB does at one boot with 08_fcos_bootcount's script (after 00_header's load_env): the script
# that the grub.d file prints is run by bash, GRUB's `set` and `save_env` written as bash functions over the
# environment block. Prints the menu entry booted (`default`: 0 unless the script set it).
grub_boot() {
  local script
  script=$("$OVERLAY/etc/grub.d/08_fcos_bootcount")
  (
    default=0
    while IFS='=' read -r k v; do [ -n "$k" ] && printf -v "$k" '%s' "$v"; done <"$ROOT/boot/grub/grubenv"
    # shellcheck disable=SC2317 # called by the GRUB script
    set() { printf -v "${1%%=*}" '%s' "${1#*=}"; }
    # shellcheck disable=SC2317 # called by the GRUB script
    save_env() { local k; for k in "$@"; do grub-editenv "$ROOT/boot/grub/grubenv" set "$k=${!k}"; done; }
    eval "$script"
    echo "$default"
  )
}
