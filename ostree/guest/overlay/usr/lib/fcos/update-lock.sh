# shellcheck shell=bash
# fcos-update: the etcd-lock strategy's functions (docs/upgrade.md, "Fleet updates (etcd-lock)"), sourced after
# update-lib.sh by /usr/bin/fcos-update and /usr/libexec/fcos/update-health. A locksmith-like reboot semaphore kept
# in the cluster's own etcd (v3 API, Debian's etcdctl 3.5): no daemon, no lock server. Keys, all under /fcos/updates/:
#   lock/GROUP/I       a slot (I < LOCK_SLOTS): taken by a txn `create(KEY) = "0"` that puts the holder's JSON with a
#                      lease of LOCK_TTL s; freed by the holder after a healthy boot (or by its lease running out)
#   failed/CHECKSUM    a release some host rolled back from (no lease): nobody stages it until it is cleared
#   nodes/NODE         each host's last report (no lease), read by `fcos cluster status`
# $STATE/lock is "KEY LEASE" of the slot this host holds (in /var: it survives the reboot into the update).
LOCK_ROOT=/fcos/updates

# etcdctl with the cluster's endpoints and this node's client certificate; its stderr goes to $STATE/etcd.err.
# shellcheck disable=SC2153 # the LOCK_* settings are set by load_conf (update-lib.sh)
etcd() {
  ETCDCTL_API=3 etcdctl --endpoints "$LOCK_ENDPOINTS" --cacert "$LOCK_CACERT" --cert "$LOCK_CERT" --key "$LOCK_KEY" \
    --command-timeout=5s "$@" 2>"$STATE/etcd.err"
}
etcd_err() { tail -n 1 "$STATE/etcd.err" 2>/dev/null | tr -d '\r'; }

# The lock settings are names in keys and numbers in loops: refuse anything else (recorded as the last error).
lock_conf_ok() {
  local bad=''
  [[ $LOCK_GROUP =~ ^[A-Za-z0-9._-]+$ ]] || bad="LOCK_GROUP=$LOCK_GROUP"
  [[ $NODE_NAME =~ ^[A-Za-z0-9._-]+$ ]] || bad="NODE_NAME=$NODE_NAME"
  local v
  for v in LOCK_SLOTS LOCK_TTL LOCK_POLL_SEC; do
    [[ ${!v} =~ ^[1-9][0-9]{0,5}$ ]] || bad="$v=${!v}"
  done
  [[ $LOCK_KEEP_QUORUM =~ ^(yes|no)$ ]] || bad="LOCK_KEEP_QUORUM=$LOCK_KEEP_QUORUM"
  [ -z "$bad" ] && return 0
  record last-error "etcd-lock: bad setting $bad in update.conf (names: letters, digits, . _ -; numbers: 1 or more; LOCK_KEEP_QUORUM: yes or no)"
  log "etcd-lock: bad setting $bad"
  return 1
}

json_str() { # a JSON string of $1: backslashes and quotes escaped, control characters dropped
  local s
  s=$(printf '%s' "$1" | tr -d '\000-\037')
  s=${s//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

json_get() { # json_get FIELD JSON: a string (unescaped) or number field of the flat objects written here
  printf '%s\n' "$2" | sed -n -e 's/.*"'"$1"'":"\(\([^"\\]\|\\.\)*\)".*/\1/p' -e 't' -e 's/.*"'"$1"'":\(-\{0,1\}[0-9]\{1,\}\).*/\1/p' |
    head -n 1 | sed -e 's/\\"/"/g' -e 's/\\\\/\\/g'
}

epoch_date() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo "$1"; }

# lock_value FROM FROM_CSUM TO TO_CSUM LEASE: a slot's value.
lock_value() {
  printf '{"node":%s,"machine_id":%s,"from":%s,"from_checksum":%s,"to":%s,"to_checksum":%s,"lease":%s,"since":%s}' \
    "$(json_str "$NODE_NAME")" "$(json_str "$(cat "$FCOS_ROOT/etc/machine-id" 2>/dev/null)")" "$(json_str "$1")" \
    "$(json_str "$2")" "$(json_str "$3")" "$(json_str "$4")" "$(json_str "$5")" "$(date +%s)"
}

# The group's taken slots, "KEY<TAB>VALUE" a line (etcdctl get prints a key line, then a value line). Fails when
# etcd does not answer.
lock_slots() {
  local out
  out=$(etcd get --prefix "$LOCK_ROOT/lock/$LOCK_GROUP/") || return 1
  printf '%s\n' "$out" | awk 'k == "" { if ($0 != "") k = $0; next } { print k "\t" $0; k = "" }'
}

lock_holders() { # the holders of the slots on stdin, e.g. "node-a (slot 0, 41.1 -> 42.0)"
  local k v out=''
  while IFS=$'\t' read -r k v; do
    [ -n "$k" ] && out="$out${out:+, }$(json_get node "$v") (slot ${k##*/}, $(json_get from "$v") -> $(json_get to "$v"))"
  done
  echo "${out:-none}"
}

# lock_save "KEY LEASE" [VALUE]: the held slot, and the value written to it (for lock_retake).
lock_save() {
  [ -z "${2:-}" ] || { printf '%s\n' "$2" >"$STATE/lock-value.tmp" && mv "$STATE/lock-value.tmp" "$STATE/lock-value"; }
  echo "$1" >"$STATE/lock.tmp" && mv "$STATE/lock.tmp" "$STATE/lock"
}

# lock_create KEY VALUE LEASE: put KEY only when it does not exist (a txn on create revision 0). 0: written, 1: the
# key exists, 2: etcd failed (LOCK_ERR).
lock_create() {
  local value=$2 out
  value=${value//\\/\\\\}   # etcdctl txn reads the value as a Go double-quoted string
  value=${value//\"/\\\"}
  # etcdctl txn reads three sections, each ended by an empty line: compares, success, failure (none here)
  if ! out=$(printf 'create("%s") = "0"\n\nput %s "%s" --lease=%s\n\n\n' "$1" "$1" "$value" "$3" | etcd txn); then
    LOCK_ERR="etcd txn failed ($LOCK_ENDPOINTS): $(etcd_err)"
    return 2
  fi
  [ "${out%%$'\n'*}" = SUCCESS ]
}

# lock_retake KEY: the held slot's lease ran out (a reboot and its checks took longer than LOCK_TTL): take the same
# slot again while it is free, with a new lease, so that no other host reboots before this one passed its checks.
# 0: held again; 1: another host took it meanwhile (forgotten here; LOCK_ERR says who), 2: etcd failed.
lock_retake() {
  local key=$1 lease value rc
  [ -s "$STATE/lock-value" ] || { LOCK_ERR="the lease of $key ran out"; return 1; }
  lease=$(etcd lease grant "$LOCK_TTL" | sed -n 's/^lease \([0-9a-f]\{1,\}\) granted.*/\1/p')
  [ -n "$lease" ] || { LOCK_ERR="etcd lease grant failed ($LOCK_ENDPOINTS): $(etcd_err)"; return 2; }
  value=$(sed 's/"lease":"[^"]*"/"lease":"'"$lease"'"/' "$STATE/lock-value")
  lock_create "$key" "$value" "$lease"; rc=$?
  if [ "$rc" = 0 ]; then
    lock_save "$key $lease" "$value"
    log "the lease of $key ran out during this boot (LOCK_TTL=${LOCK_TTL}s is shorter than the reboot and its checks): took the slot again (lease $lease)"
    return 0
  fi
  etcd lease revoke "$lease" >/dev/null
  [ "$rc" = 2 ] && return 2
  LOCK_ERR="the lease of $key ran out during this boot and $(json_get node "$(etcd get --print-value-only "$key")") holds the slot now (LOCK_TTL=${LOCK_TTL}s is shorter than the reboot and its checks)"
  rm -f "$STATE/lock" "$STATE/lock-value"
  return 1
}

# lock_try FROM FROM_CSUM TO TO_CSUM: one attempt at a slot. 0: held (a slot that names this node already is reused),
# 1: every slot is taken, 2: etcd failed. LOCK_ERR says why on 1 and 2.
lock_try() {
  local slots k v lease value i rc
  slots=$(lock_slots) || { LOCK_ERR="etcd does not answer ($LOCK_ENDPOINTS): $(etcd_err)"; return 2; }
  while IFS=$'\t' read -r k v; do
    if [ -n "$k" ] && [ "$(json_get node "$v")" = "$NODE_NAME" ]; then lock_save "$k $(json_get lease "$v")" "$v"; return 0; fi
  done <<<"$slots"
  lease=$(etcd lease grant "$LOCK_TTL" | sed -n 's/^lease \([0-9a-f]\{1,\}\) granted.*/\1/p')
  [ -n "$lease" ] || { LOCK_ERR="etcd lease grant failed ($LOCK_ENDPOINTS): $(etcd_err)"; return 2; }
  value=$(lock_value "$1" "$2" "$3" "$4" "$lease")
  for ((i = 0; i < LOCK_SLOTS; i++)); do
    k=$LOCK_ROOT/lock/$LOCK_GROUP/$i
    lock_create "$k" "$value" "$lease"; rc=$?
    [ "$rc" = 2 ] && { etcd lease revoke "$lease" >/dev/null; return 2; }
    if [ "$rc" = 0 ]; then lock_save "$k $lease" "$value"; return 0; fi
  done
  etcd lease revoke "$lease" >/dev/null
  LOCK_ERR="every slot of group $LOCK_GROUP ($LOCK_SLOTS) is taken: $(lock_holders <<<"$slots")"
  return 1
}

# The polls of one wait for a slot or for the quorum: CHECK_INTERVAL_MIN (then the timer's next run goes on) in steps
# of LOCK_POLL_SEC, at least one.
lock_tries() {
  local t=$((CHECK_INTERVAL_MIN * 60 / LOCK_POLL_SEC))
  [ "$t" -ge 1 ] || t=1
  echo "$t"
}

# lock_acquire FROM FROM_CSUM TO TO_CSUM: lock_try every LOCK_POLL_SEC while the slots are taken or etcd does not
# answer (e.g. no quorum while another member reboots), for at most CHECK_INTERVAL_MIN (the timer's next run tries
# again): a oneshot service must not wait for ever. A txn that timed out but was applied is found again by node name.
lock_acquire() {
  local tries i rc
  tries=$(lock_tries)
  for ((i = 1; ; i++)); do
    lock_try "$@"; rc=$?
    [ "$rc" = 0 ] && return 0
    [ "$i" -lt "$tries" ] || return "$rc"
    [ "$i" = 1 ] && log "waiting for a slot (every ${LOCK_POLL_SEC}s, $tries tries): $LOCK_ERR"
    [ "$rc" = 2 ] && log "etcd: $LOCK_ERR; trying again in ${LOCK_POLL_SEC}s"
    sleep "$LOCK_POLL_SEC"
  done
}

# Renew the held slot's lease (its TTL counts from now) and check that the slot still names this node.
lock_keepalive() {
  local key lease v
  [ -s "$STATE/lock" ] || { LOCK_ERR="no slot held"; return 1; }
  read -r key lease <"$STATE/lock"
  if ! etcd lease keep-alive --once "$lease" >/dev/null; then
    if grep -qs 'not found' "$STATE/etcd.err"; then lock_retake "$key"; return; fi
    LOCK_ERR="keep-alive of lease $lease failed: $(etcd_err)"
    return 1
  fi
  v=$(etcd get --print-value-only "$key") || { LOCK_ERR="etcd get $key failed: $(etcd_err)"; return 1; }
  [ "$(json_get node "$v")" = "$NODE_NAME" ] || { LOCK_ERR="$key is no longer held by $NODE_NAME"; return 1; }
  return 0
}

# lock_quorum_ok: 0 when this host's reboot leaves etcd its quorum: at least min(QUORUM, MEMBERS - 1) of the other
# voting members answer `endpoint health` (QUORUM = MEMBERS / 2 + 1; a host that is no member needs QUORUM of them).
# LOCK_KEEP_QUORUM=no: always 0. 1 when too few answer (LOCK_ERR names the members down), 2 when etcd does not answer.
# A slot alone is not enough: the holder before this one may be dead (its slot came back by the lease TTL) and a
# second member down stops etcd's writes.
lock_quorum_ok() {
  [ "$LOCK_KEEP_QUORUM" = no ] && return 0
  local ml hj health name clients learner c n=0 self=0 others=0 up=0 need down='' ok
  ml=$(etcd member list) || { LOCK_ERR="etcd does not answer ($LOCK_ENDPOINTS): $(etcd_err)"; return 2; }
  # exit 1 when a member is unhealthy; the JSON lists every member's endpoint either way
  hj=$(etcd endpoint health --cluster -w json)
  health=$(printf '%s' "$hj" | tr -d '\n' | sed 's/},{/}\n{/g' | sed -n 's/.*"endpoint":"\([^"]*\)".*"health":\(true\|false\).*/\1 \2/p')
  [ -n "$health" ] || { LOCK_ERR="etcd endpoint health --cluster gave no answer ($LOCK_ENDPOINTS): $(etcd_err)"; return 2; }
  # member list: "ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS, IS LEARNER" (addresses joined by ","): NAME, CLIENT
  # ADDRS and IS LEARNER, "|"-separated (an unstarted member has an empty name: not a whitespace separator)
  while IFS='|' read -r name clients learner; do
    [ "$learner" = true ] && continue
    n=$((n + 1))
    if [ -n "$name" ] && [ "$name" = "$NODE_NAME" ]; then self=1; continue; fi
    others=$((others + 1))
    ok=0
    for c in ${clients//,/ }; do
      grep -qxF "$c true" <<<"$health" && ok=1
    done
    if [ "$ok" = 1 ]; then up=$((up + 1)); else down="$down${down:+, }${name:-an unstarted member}"; fi
  done < <(printf '%s\n' "$ml" | awk -F', ' 'NF { print $3 "|" $5 "|" $6 }')
  need=$((n / 2 + 1))
  [ "$self" = 1 ] && [ "$need" -gt $((n - 1)) ] && need=$((n - 1))
  [ "$up" -ge "$need" ] && return 0
  LOCK_ERR="a reboot now would leave etcd without its quorum: $up of $others other member(s) healthy, $need needed (down: ${down:-none})"
  return 1
}

# Give the held slot back: delete its key (when it is still ours) and revoke its lease. Keeps $STATE/lock when
# etcd does not answer (the timer's next run retries).
lock_release() {
  local key lease v
  [ -s "$STATE/lock" ] || return 0
  read -r key lease <"$STATE/lock"
  v=$(etcd get --print-value-only "$key") || { LOCK_ERR="etcd does not answer: $(etcd_err)"; return 1; }
  if [ -n "$v" ] && [ "$(json_get lease "$v")" = "$lease" ]; then etcd del "$key" >/dev/null || return 1; fi
  # a lease that ran out is gone already: that is not an error
  etcd lease revoke "$lease" >/dev/null || grep -qs 'not found' "$STATE/etcd.err" || return 1
  rm -f "$STATE/lock" "$STATE/lock-value"
  log "released $key (lease $lease)"
  return 0
}

# lock_failed_put CHECKSUM VERSION REASON: mark a release failed for the fleet.
lock_failed_put() {
  local v
  v=$(printf '{"version":%s,"checksum":%s,"node":%s,"at":%s,"reason":%s}' "$(json_str "$2")" "$(json_str "$1")" \
    "$(json_str "$NODE_NAME")" "$(date +%s)" "$(json_str "$3")")
  if etcd put "$LOCK_ROOT/failed/$1" "$v" >/dev/null; then log "marked $2 (${1:0:12}) failed in etcd"; return 0; fi
  log "could not mark $2 (${1:0:12}) failed in etcd: $(etcd_err)"
  return 1
}

# lock_halted CHECKSUM VERSION: 0 when the release is marked failed in etcd (recorded as halted and last-error),
# 1 when it is not, 2 when etcd does not answer (recorded: nothing is staged while that is unknown).
lock_halted() {
  local v msg
  if ! v=$(etcd get --print-value-only "$LOCK_ROOT/failed/$1"); then
    record last-error "etcd-lock: cannot read $LOCK_ROOT/failed/${1:0:12}… ($LOCK_ENDPOINTS: $(etcd_err)); not going on with $2"
    log "etcd does not answer: not going on with $2"
    return 2
  fi
  if [ -z "$v" ]; then rm -f "$STATE/halted"; return 1; fi
  msg="$2 (${1:0:12}) is marked failed in etcd by $(json_get node "$v"): $(json_get reason "$v"); clear with fcos-update failed clear VERSION|CHECKSUM"
  record halted "$msg"
  record last-error "$msg"
  log "$msg"
  return 0
}

# Best effort (never fails): this host's report under nodes/NODE_NAME.
lock_report_node() {
  local staged health v
  staged=$(deployments | awk -F'|' '$2 == "staged" { print $6 }')
  health=$(cut -d' ' -f2- "$STATE/last-health" 2>/dev/null)
  v=$(printf '{"node":%s,"booted":%s,"booted_checksum":%s,"staged":%s,"health":%s,"strategy":%s,"at":%s}' \
    "$(json_str "$NODE_NAME")" "$(json_str "$(booted_field version)")" "$(json_str "$(booted_field csum)")" \
    "$(json_str "$staged")" "$(json_str "$health")" "$(json_str "$STRATEGY")" "$(date +%s)")
  etcd put "$LOCK_ROOT/nodes/$NODE_NAME" "$v" >/dev/null || log "could not report to etcd: $(etcd_err)"
  return 0
}
