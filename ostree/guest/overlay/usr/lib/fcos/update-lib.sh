# shellcheck shell=bash
# fcos-update shared shell functions (sourced by /usr/bin/fcos-update and /usr/libexec/fcos/update-health).
# FCOS_ROOT (tests only: test/guest) is a directory that stands for / in every file path; empty on a machine.
: "${FCOS_ROOT:=}"
STATE=$FCOS_ROOT/var/lib/fcos-update
GRUBENV=$FCOS_ROOT/boot/grub/grubenv
# shellcheck disable=SC2034 # used by the scripts that source this file
REMOTE=fcos
KEYRING=$FCOS_ROOT/usr/lib/fcos/updates.gpg
mkdir -p "$STATE"

log() {
  echo "fcos-update: $*" >&2
  logger -t fcos-update -- "$*" 2>/dev/null || true
}

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

record() { # record FILE TEXT: one line, replaced atomically
  printf '%s %s\n' "$(now)" "$2" > "$STATE/$1.tmp" && mv "$STATE/$1.tmp" "$STATE/$1"
}

load_conf() {
  # shellcheck disable=SC2034 # used by the scripts that source this file
  REF='' URL='' STRATEGY=immediate CHECK_INTERVAL_MIN=60 WINDOW_DAYS='' WINDOW_START='' WINDOW_MINUTES='' BOOT_TRIES=3 HEALTH_TIMEOUT=120
  # STRATEGY=etcd-lock (update-lock.sh): the cluster's etcd, this node's client certificate, the semaphore
  # shellcheck disable=SC2034 # used by update-lock.sh
  LOCK_ENDPOINTS=https://127.0.0.1:2379 LOCK_CACERT=/etc/etcd/pki/ca.crt LOCK_CERT=/etc/etcd/pki/node.crt \
    LOCK_KEY=/etc/etcd/pki/node.key LOCK_GROUP=default LOCK_SLOTS=1 LOCK_TTL=600 LOCK_POLL_SEC=10 \
    LOCK_KEEP_QUORUM=yes NODE_NAME=''
  # shellcheck disable=SC1091
  [ -r "$FCOS_ROOT/usr/lib/fcos/update.conf" ] && . "$FCOS_ROOT/usr/lib/fcos/update.conf"
  # shellcheck disable=SC1091
  [ -r "$FCOS_ROOT/etc/fcos/update.conf" ] && . "$FCOS_ROOT/etc/fcos/update.conf"
  [ -n "$NODE_NAME" ] || NODE_NAME=$(uname -n)
  [ -n "$REF" ] || REF=$(sed -n 's/^refspec=\(.*:\)\{0,1\}//p' "$FCOS_ROOT/ostree/deploy/$(booted_os)/deploy/$(booted_field csum).$(booted_field serial).origin" 2>/dev/null)
  return 0
}

# /boot is mounted read-only on some setups: write with it read-write, then restore.
boot_rw() {
  local ro=0 rc=0
  if ! touch "$FCOS_ROOT/boot/.fcos-rw-test" 2>/dev/null; then ro=1; mount -o remount,rw "$FCOS_ROOT/boot"; else rm -f "$FCOS_ROOT/boot/.fcos-rw-test"; fi
  "$@" || rc=$?
  sync -f "$FCOS_ROOT/boot" 2>/dev/null || true
  if [ "$ro" = 1 ]; then mount -o remount,ro "$FCOS_ROOT/boot"; fi
  return $rc
}

grubenv() { # grubenv set k=v ... | grubenv unset k ...
  [ -f "$GRUBENV" ] || boot_rw grub-editenv "$GRUBENV" create
  boot_rw grub-editenv "$GRUBENV" "$@"
}

grubenv_get() { grub-editenv "$GRUBENV" list 2>/dev/null | sed -n "s/^$1=//p"; }

# Deployments, one per line: "index|state|os|checksum|serial|version" (index: the position that
# `ostree admin set-default` takes; state: staged, booted, pending, rollback or other). The staged deployment has
# index "-".
deployments() {
  local line re='^([* ]) ([^ ]+) ([0-9a-f]{64})\.([0-9]+)( \(([a-z]+)\))?' i=0 cur='' ver=''
  while IFS= read -r line; do
    if [[ $line =~ $re ]]; then
      [ -n "$cur" ] && echo "$cur|$ver"
      local st=${BASH_REMATCH[6]:-other} idx
      [ "${BASH_REMATCH[1]}" = '*' ] && st=booted
      if [ "$st" = staged ]; then idx=-; else idx=$i; i=$((i + 1)); fi
      cur="$idx|$st|${BASH_REMATCH[2]}|${BASH_REMATCH[3]}|${BASH_REMATCH[4]}"
      ver=''
    elif [[ $line =~ ^\ +Version:\ (.*)$ ]]; then
      ver=${BASH_REMATCH[1]}
    fi
  done < <(ostree admin status 2>/dev/null)
  [ -n "$cur" ] && echo "$cur|$ver"
  return 0
}

booted_field() { # booted_field index|state|os|csum|serial|version
  local n
  case $1 in index) n=1 ;; state) n=2 ;; os) n=3 ;; csum) n=4 ;; serial) n=5 ;; version) n=6 ;; esac
  deployments | awk -F'|' -v n="$n" '$2 == "booted" { print $n }'
}
booted_os() { deployments | awk -F'|' '$2 == "booted" { print $3 }'; }

commit_version() { # the version of a commit in the local repo
  ostree show --print-metadata-key=version "$1" 2>/dev/null | tr -d "'"
}

setup_remote() {
  if [ -z "$URL" ]; then
    record last-error "no update URL: set URL= in /etc/fcos/update.conf (or upgrade.url in the manifest)"
    log "no update URL configured (URL= in /etc/fcos/update.conf)"
    return 1
  fi
  mkdir -p "$FCOS_ROOT/etc/ostree/remotes.d"
  cat > "$FCOS_ROOT/etc/ostree/remotes.d/fcos.conf.tmp" <<EOF
# Written by fcos-update from /usr/lib/fcos/update.conf and /etc/fcos/update.conf; edit those instead.
[remote "fcos"]
url=$URL
gpg-verify=true
gpg-verify-summary=false
gpgkeypath=$KEYRING
EOF
  mv "$FCOS_ROOT/etc/ostree/remotes.d/fcos.conf.tmp" "$FCOS_ROOT/etc/ostree/remotes.d/fcos.conf"
}
