#!/usr/bin/env bats
# STRATEGY=etcd-lock (fcos-update, update-health, update-lock.sh) against a fake etcdctl that keeps keys and leases in
# files: several fake hosts (their own /, deployments, calls) share one etcd. The slots of the semaphore, waiting,
# groups, etcd down, the release after a healthy boot, the failed marker after a fallback and the halt it causes,
# leases running out, and the operator's commands.

load helpers

LOCK0=/fcos/updates/lock/default/0
L1=694d000000000001 # the fake's first lease
L2=694d000000000002

setup() {
  export FAKE_ETCD_DIR=$BATS_TEST_TMPDIR/etcd
  node node-a
}

# node NAME [CONF...]: act as host NAME from now on (made on first use: 41.1 booted, the remote has 42.0,
# STRATEGY=etcd-lock, CHECK_INTERVAL_MIN=1 and LOCK_POLL_SEC=20: 3 tries of a slot, 2 waits, per run). CONF lines
# are added to its /etc/fcos/update.conf.
node() {
  local base=$BATS_TEST_TMPDIR/$1 name=$1
  shift
  if [ -d "$base" ]; then
    ROOT=$base/root FAKE=$base/fake
    export FCOS_ROOT=$ROOT FAKE_DIR=$FAKE
  else
    mkdir -p "$base"
    BATS_TEST_TMPDIR=$base guest_setup
    set_deployments "booted:41.1:$C1" "rollback:41.0:$C0"
    remote 42.0 "$C2"
    grubenv
    echo "machine-$name" >"$ROOT/etc/machine-id"
  fi
  conf 'URL=http://10.0.2.2:8080/repo' STRATEGY=etcd-lock "NODE_NAME=$name" CHECK_INTERVAL_MIN=1 LOCK_POLL_SEC=20 "$@"
}

# etcd ARGS: the fake etcd, as the test (not in any host's calls).
etcd() { mkdir -p "$BATS_TEST_TMPDIR/etcd-test"; FAKE_DIR=$BATS_TEST_TMPDIR/etcd-test etcdctl "$@"; }
value() { etcd get --print-value-only "$1"; }
lease_of() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$FAKE_ETCD_DIR/kv"; }
leases() { cut -d' ' -f1 "$FAKE_ETCD_DIR/leases" | tr '\n' ' '; }
S() { echo "$ROOT/var/lib/fcos-update/$1"; }
# the number of calls matching an extended regex
ncalls() { grep -cE -- "$1" "$FAKE/calls" || true; }
# line of the first call matching
line_of() { grep -nE -- "$1" "$FAKE/calls" | head -n 1 | cut -d: -f1; }

# booted NEW: the host rebooted into 42.0 (what ostree's finalization and GRUB did)
rebooted_into_new() { set_deployments "booted:42.0:$C2" "rollback:41.1:$C1"; }

@test "auto: takes slot 0 with a lease (txn create = 0), writes the holder, stages, renews the lease, then reboots" {
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^ostree admin deploy --stage'
  called '^etcdctl txn$'
  local v
  v=$(value $LOCK0)
  [[ $v == '{"node":"node-a","machine_id":"machine-node-a","from":"41.1","from_checksum":"'"$C1"'","to":"42.0","to_checksum":"'"$C2"'","lease":"'"$L1"'","since":'* ]]
  [[ $v =~ \"since\":[0-9]{10}\}$ ]]
  [ "$(lease_of $LOCK0)" = "$L1" ]
  grep -qx "$L1 600" "$FAKE_ETCD_DIR/leases"
  [ "$(cat "$(S lock)")" = "$LOCK0 $L1" ]
  # the slot before the staging (a release marked failed while this host waited is never staged), the keep-alive
  # after both, the reboot last
  [ "$(line_of '^ostree admin deploy --stage')" -gt "$(line_of '^etcdctl txn$')" ]
  [ "$(line_of "^etcdctl lease keep-alive --once $L1$")" -gt "$(line_of '^ostree admin deploy --stage')" ]
  [ "$(line_of "^etcdctl lease keep-alive --once $L1$")" -gt "$(line_of '^etcdctl txn$')" ]
  [ "$(line_of '^systemctl reboot$')" -gt "$(line_of "^etcdctl lease keep-alive --once $L1$")" ]
  [[ $output == *"holding $LOCK0 (lease $L1): rebooting into 42.0"* ]]
  # the client flags, and the node's report
  [ "$(cat "$FAKE/etcd-flags")" = "ETCDCTL_API=3 --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/node.crt --key=/etc/etcd/pki/node.key --command-timeout=5s" ]
  [[ $(value /fcos/updates/nodes/node-a) == '{"node":"node-a","booted":"41.1","booted_checksum":"'"$C1"'","staged":"","health":"","strategy":"etcd-lock","at":'* ]]
  run "$UPDATE" status
  [[ $output == *"Lock: holding $LOCK0 (lease $L1; group default, 1 slot(s), node node-a)"* ]]
}

@test "LOCK_SLOTS=1: a second host waits (every LOCK_POLL_SEC, at most CHECK_INTERVAL_MIN), stages nothing, does not reboot" {
  run "$UPDATE" auto
  called '^systemctl reboot$'
  node node-b
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^ostree admin deploy'
  not_called '^systemctl reboot'
  [ "$(ncalls '^etcdctl txn$')" = 3 ]
  [ "$(ncalls '^sleep 20$')" = 2 ]
  [ "$(state lock-wait)" = "waiting for a slot to reboot into 42.0: every slot of group default (1) is taken: node-a (slot 0, 41.1 -> 42.0)" ]
  [ ! -e "$(S lock)" ]
  # no slot this run: the next timer run asks again at once (not only after CHECK_INTERVAL_MIN)
  [ ! -e "$(S last-check)" ]
  # its unused leases were revoked: only node-a's is left
  [ "$(leases)" = "$L1 " ]
  [ "$(json_node "$(value $LOCK0)")" = node-a ]
  run "$UPDATE" status
  [[ $output != *"Staged:"* ]]
  [[ $output == *"Lock: none held; waiting for a slot to reboot into 42.0: every slot of group default (1) is taken"* ]]
}

@test "a host waiting for the slot while the holder falls back from that release never stages it, and gives the slot back" {
  run "$UPDATE" auto
  called '^systemctl reboot$'
  node node-b
  # While node-b waits (its first sleep), node-a falls back from 42.0: it marks 42.0 failed, then frees its slot.
  cat >"$FAKE/on-sleep" <<EOF
#!/bin/sh
rm -f "\$0"
etcdctl put /fcos/updates/failed/$C2 '{"version":"42.0","checksum":"$C2","node":"node-a","at":1,"reason":"unhealthy"}' >/dev/null
etcdctl del $LOCK0 >/dev/null
EOF
  chmod +x "$FAKE/on-sleep"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  [ ! -e "$FAKE/on-sleep" ]
  # it got the slot once node-a let go, asked again, and found 42.0 failed: nothing staged, no reboot
  called '^sleep 20$'
  not_called '^ostree admin deploy'
  not_called '^systemctl reboot'
  [[ $(state halted) == "42.0 (222222222222) is marked failed in etcd by node-a: unhealthy"* ]]
  # the slot it took is given back
  [ ! -e "$(S lock)" ]
  [ -z "$(value $LOCK0)" ]
}

@test "etcd stops answering while a host waits for the slot (no quorum while a member reboots): it keeps trying, then takes the slot" {
  run "$UPDATE" auto
  called '^systemctl reboot$'
  node node-b
  # 1st wait: node-a is done (its slot deleted) but node-b's etcd stops answering; 2nd wait: it answers again.
  cat >"$FAKE/on-sleep" <<EOF
#!/bin/sh
etcdctl del $LOCK0 >/dev/null
touch "$FAKE/etcd-down"
printf '#!/bin/sh\\nrm -f "$FAKE/etcd-down" "\\\$0"\\n' >"$FAKE/on-sleep"
chmod +x "$FAKE/on-sleep"
EOF
  chmod +x "$FAKE/on-sleep"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  [ "$(ncalls '^sleep 20$')" = 2 ]
  [[ $output == *"trying again in 20s"* ]]
  called '^ostree admin deploy --stage'
  called '^systemctl reboot$'
  [ "$(json_node "$(value $LOCK0)")" = node-b ]
}

json_node() { sed -n 's/^{"node":"\([^"]*\)".*/\1/p' <<<"$1"; }

# members NAME:HEALTHY ...: the fake cluster's voting members (client URL https://10.0.0.I:2379); "-:false" is an
# unstarted member
members() {
  local i=0 m
  mkdir -p "$FAKE_ETCD_DIR"
  : >"$FAKE_ETCD_DIR/members"
  for m in "$@"; do
    i=$((i + 1))
    echo "${m%%:*} https://10.0.0.$i:2379 ${m#*:}" >>"$FAKE_ETCD_DIR/members"
  done
}

@test "quorum guard: the slot is free (its dead holder's lease ran out) but that member is down: stage, hold the slot, keep its lease alive, no reboot; once the member is back, the reboot" {
  members node-a:true node-b:false node-c:true
  node node-c
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^ostree admin deploy --stage'
  not_called '^systemctl reboot'
  # CHECK_INTERVAL_MIN=1, LOCK_POLL_SEC=20: 3 looks at the members, the lease renewed each time, 2 waits
  [ "$(ncalls '^etcdctl endpoint health --cluster -w json$')" = 3 ]
  [ "$(ncalls "^etcdctl lease keep-alive --once $L1$")" = 3 ]
  [ "$(ncalls '^sleep 20$')" = 2 ]
  [ "$(state lock-wait)" = "not rebooting into 42.0 yet: a reboot now would leave etcd without its quorum: 1 of 2 other member(s) healthy, 2 needed (down: node-b)" ]
  # the slot stays this host's, with its lease
  [ "$(json_node "$(value $LOCK0)")" = node-c ]
  [ "$(cat "$(S lock)")" = "$LOCK0 $L1" ]
  run "$UPDATE" status
  [[ $output == *"Staged: 42.0"* ]]
  [[ $output == *"Lock: holding $LOCK0 (lease $L1; group default, 1 slot(s), node node-c); not rebooting into 42.0 yet: a reboot now would leave etcd without its quorum"* ]]
  # node-b is back: the next run reboots, in the same slot
  members node-a:true node-b:true node-c:true
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^systemctl reboot$'
  [ "$(line_of '^systemctl reboot$')" -gt "$(line_of "^etcdctl lease keep-alive --once $L1$")" ]
  [ "$(cat "$(S lock)")" = "$LOCK0 $L1" ]
  [ ! -e "$(S lock-wait)" ]
}

@test "quorum guard: 5 members, one down: 3 of the 4 others healthy keep the quorum (3): reboot at once" {
  members node-a:true node-b:false node-c:true node-d:true node-e:true
  node node-c
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^systemctl reboot$'
  [ "$(ncalls '^etcdctl endpoint health --cluster -w json$')" = 1 ]
  # two down (the same host runs again, its update still staged): 2 of 4 others is no quorum, no second reboot
  members node-a:true node-b:false node-c:true node-d:false node-e:true
  run "$UPDATE" auto
  [ "$(ncalls '^systemctl reboot$')" = 1 ]
  [[ $(state lock-wait) == *"2 of 4 other member(s) healthy, 3 needed (down: node-b, node-d)" ]]
  # a host that is no member (e.g. a worker) needs a quorum of all the members: 3 of 5 healthy is one
  members node-a:true node-b:false node-c:true node-d:false node-e:true
  node node-w
  etcd fake-expire "$L1"
  run "$UPDATE" auto
  called '^systemctl reboot$'
  [ "$(json_node "$(value $LOCK0)")" = node-w ]
}

@test "quorum guard: an unstarted member counts as down; a lone member reboots; LOCK_KEEP_QUORUM=no never asks" {
  members node-a:true -:false node-c:true
  node node-c
  run "$UPDATE" auto
  not_called '^systemctl reboot'
  [[ $(state lock-wait) == *"1 of 2 other member(s) healthy, 2 needed (down: an unstarted member)" ]]
  # a one-member cluster: its reboot cannot keep a quorum anyway, nothing to wait for
  etcd fake-expire "$L1"
  rm -f "$(S lock)"
  members node-x:true
  node node-x
  run "$UPDATE" auto
  called '^systemctl reboot$'
  # the guard off: a member down does not hold the reboot, and the members are not asked
  etcd fake-expire 694d000000000002
  members node-a:true node-b:false node-y:true
  node node-y LOCK_KEEP_QUORUM=no
  run "$UPDATE" auto
  called '^systemctl reboot$'
  not_called '^etcdctl (member list|endpoint health)'
}

@test "quorum guard: etcd stops answering the member list: no reboot (the slot is kept, the next run tries again)" {
  node node-a
  cat >"$BATS_TEST_TMPDIR/etcdctl" <<EOF
#!/bin/bash
case " \$* " in *" member list "*) echo "Error: context deadline exceeded" >&2; exit 1 ;; esac
exec "$BATS_TEST_DIRNAME/stubs/etcdctl" "\$@"
EOF
  chmod +x "$BATS_TEST_TMPDIR/etcdctl"
  PATH=$BATS_TEST_TMPDIR:$PATH run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^systemctl reboot'
  [[ $(state lock-wait) == "not rebooting into 42.0 yet: etcd does not answer (https://127.0.0.1:2379): Error: context deadline exceeded" ]]
  [ "$(cat "$(S lock)")" = "$LOCK0 $L1" ]
}

@test "LOCK_SLOTS=2: two hosts reboot at once, in slots 0 and 1; a third waits" {
  node node-a LOCK_SLOTS=2
  run "$UPDATE" auto
  called '^systemctl reboot$'
  node node-b LOCK_SLOTS=2
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^systemctl reboot$'
  [ "$(cat "$(S lock)")" = "/fcos/updates/lock/default/1 $L2" ]
  [ "$(json_node "$(value /fcos/updates/lock/default/1)")" = node-b ]
  node node-c LOCK_SLOTS=2
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^systemctl reboot'
  [[ $(state lock-wait) == *"is taken: node-a (slot 0, 41.1 -> 42.0), node-b (slot 1, 41.1 -> 42.0)" ]]
}

@test "groups are separate semaphores" {
  run "$UPDATE" auto
  node node-b LOCK_GROUP=workers
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^systemctl reboot$'
  [ "$(cat "$(S lock)")" = "/fcos/updates/lock/workers/0 $L2" ]
  [ "$(json_node "$(value /fcos/updates/lock/workers/0)")" = node-b ]
  [ "$(json_node "$(value $LOCK0)")" = node-a ]
}

@test "a host that holds a slot already (by node name) reuses it: no second slot, no second lease" {
  run "$UPDATE" auto
  rm "$(S lock)"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  [ "$(ncalls '^systemctl reboot$')" = 2 ]
  [ "$(ncalls '^etcdctl lease grant')" = 1 ]
  [ "$(cat "$(S lock)")" = "$LOCK0 $L1" ]
  [ "$(ncalls '^ostree admin deploy')" = 1 ]  # the second run went straight from the staged update to the slot
}

@test "etcd unreachable: nothing staged, no reboot, the unit succeeds, the last error says why" {
  touch "$FAKE/etcd-down"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^ostree admin deploy'
  not_called '^systemctl reboot'
  [[ $(state last-error) == "etcd-lock: cannot read /fcos/updates/failed/222222222222… (https://127.0.0.1:2379: Error: context deadline exceeded); not going on with 42.0" ]]
  # staged by hand (upgrade --no-reboot) while etcd answered, then etcd went away: the update stays staged
  rm "$FAKE/etcd-down"
  run "$UPDATE" upgrade --no-reboot
  [ "$status" -eq 0 ]
  called '^ostree admin deploy --stage'
  touch "$FAKE/etcd-down"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^systemctl reboot'
  [[ $(state last-error) == "etcd-lock: cannot read /fcos/updates/failed/222222222222"* ]]
  run "$UPDATE" status
  [[ $output == *"Staged: 42.0"* ]]
}

@test "etcd fails between the slot and the reboot (keep-alive refused): no reboot, the slot forgotten" {
  etcd lease grant 600 >/dev/null  # L1 taken here, so the host's lease is L2
  # the keep-alive before the reboot gets no answer
  touch "$FAKE/keepalive-down"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called "^etcdctl lease keep-alive --once $L2$"
  not_called '^systemctl reboot'
  [ "$(state last-error)" = "etcd-lock: keep-alive of lease $L2 failed: Error: context deadline exceeded; not rebooting into 42.0 (it stays staged)" ]
  [ ! -e "$(S lock)" ]
}

@test "the lease ran out while staging (longer than LOCK_TTL): the free slot is taken again with a new lease, then the reboot" {
  etcd lease grant 600 >/dev/null  # L1 taken here, so the host's lease is L2
  # the lease dies right after the txn: the fake's keep-alive of it then answers 'lease not found'
  cat >"$BATS_TEST_TMPDIR/etcdctl" <<EOF
#!/bin/bash
case " \$* " in *" keep-alive --once $L2 "*) FAKE_DIR=$BATS_TEST_TMPDIR/etcd-test "$BATS_TEST_DIRNAME/stubs/etcdctl" fake-expire $L2 ;; esac
exec "$BATS_TEST_DIRNAME/stubs/etcdctl" "\$@"
EOF
  chmod +x "$BATS_TEST_TMPDIR/etcdctl"
  PATH=$BATS_TEST_TMPDIR:$PATH run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^systemctl reboot$'
  [ "$(json_node "$(value $LOCK0)")" = node-a ]
  [ "$(lease_of $LOCK0)" = 694d000000000003 ]
  [ "$(cat "$(S lock)")" = "$LOCK0 694d000000000003" ]
}

@test "update-health: the new version is healthy: the lease is kept alive during the checks, then the slot is released" {
  run "$UPDATE" auto
  rebooted_into_new
  health_check 10-a 0
  : >"$FAKE/calls"
  run "$HEALTH"
  [ "$status" -eq 0 ]
  [ "$(ncalls "^etcdctl lease keep-alive --once $L1$")" -ge 2 ]
  [ "$(line_of "^etcdctl del $LOCK0$")" -gt "$(line_of "^etcdctl lease keep-alive")" ]
  called "^etcdctl lease revoke $L1$"
  [ -z "$(value $LOCK0)" ]
  [ "$(leases)" = "" ]
  [ ! -e "$(S lock)" ]
  [[ $(value /fcos/updates/nodes/node-a) == '{"node":"node-a","booted":"42.0","booted_checksum":"'"$C2"'","staged":"","health":"healthy: 42.0 (1 checks)","strategy":"etcd-lock","at":'* ]]
  # the next host gets the slot
  node node-b
  run "$UPDATE" auto
  called '^systemctl reboot$'
  [ "$(json_node "$(value $LOCK0)")" = node-b ]
}

@test "update-health: the lease ran out during the reboot (LOCK_TTL too short): the same slot is taken again with a new lease, released once healthy" {
  run "$UPDATE" auto
  [ "$(sed 's/.*"lease":"\([^"]*\)".*/\1/' "$(S lock-value)")" = "$L1" ]
  etcd fake-expire "$L1"
  [ -z "$(value $LOCK0)" ]
  rebooted_into_new
  # the first check looks at the slot: it is held again, by this host, with a new lease
  health_check 10-a 0
  # shellcheck disable=SC2016 # $(...) belongs to the check script: it expands when the check runs
  printf '#!/bin/sh\n[ "$(etcdctl get --print-value-only %s | sed -n "s/.*\\"node\\":\\"\\([^\\"]*\\)\\".*/\\1/p")" = node-a ] || { echo "slot not held during the checks"; exit 1; }\n' "$LOCK0" >"$ROOT/usr/lib/fcos/health.d/05-slot-held"
  chmod +x "$ROOT/usr/lib/fcos/health.d/05-slot-held"
  : >"$FAKE/calls"
  run "$HEALTH"
  [ "$status" -eq 0 ]
  [[ $output == *"the lease of $LOCK0 ran out during this boot"*"took the slot again (lease $L2)"* ]]
  called "^etcdctl lease grant"
  called "^etcdctl del $LOCK0$"
  called "^etcdctl lease revoke $L2$"
  [ -z "$(value $LOCK0)" ]
  [ ! -e "$(S lock)" ]
  [ ! -e "$(S lock-value)" ]
  [[ $(value /fcos/updates/nodes/node-a) == *'"health":"healthy: 42.0 (2 checks)"'* ]]
}

@test "update-health: the lease ran out during the reboot and another host holds the slot now: not taken back, not released, forgotten" {
  run "$UPDATE" auto
  etcd fake-expire "$L1"
  node node-b
  run "$UPDATE" auto
  called '^systemctl reboot$'
  [ "$(json_node "$(value $LOCK0)")" = node-b ]
  node node-a
  rebooted_into_new
  health_check 10-a 0
  : >"$FAKE/calls"
  run "$HEALTH"
  [ "$status" -eq 0 ]
  [[ $output == *"the lease of $LOCK0 ran out during this boot and node-b holds the slot now"* ]]
  not_called "^etcdctl del"
  [ "$(json_node "$(value $LOCK0)")" = node-b ]
  [ ! -e "$(S lock)" ]
}

@test "update-health: unhealthy on trial: the slot is kept (its lease renewed) and the host reboots for another try" {
  run "$UPDATE" auto
  rebooted_into_new
  health_check 10-a 1 "kubelet is down"
  [ "$(grubenv_value boot_counter)" = 3 ]
  : >"$FAKE/calls"
  run "$HEALTH"
  [ "$status" -eq 0 ]
  called '^systemctl reboot --no-block$'
  called "^etcdctl lease keep-alive --once $L1$"
  not_called '^etcdctl del'
  not_called '^etcdctl lease revoke'
  [ "$(json_node "$(value $LOCK0)")" = node-a ]
  [ "$(cat "$(S lock)")" = "$LOCK0 $L1" ]
  [[ $(value /fcos/updates/nodes/node-a) == *'"health":"UNHEALTHY: 42.0: '*'kubelet is down"'* ]]
}

@test "update-health after GRUB fell back: the failed marker is written first, then the slot is released; other hosts halt" {
  run "$UPDATE" auto
  set_deployments "other:42.0:$C2" "booted:41.1:$C1"
  grubenv boot_counter=-1 boot_success=0
  echo "2026-12-04T00:00:00Z 42.0: /usr/lib/fcos/health.d/10-a: kubelet is down" >"$(S last-health-failure)"
  health_check 10-a 0
  : >"$FAKE/calls"
  run "$HEALTH"
  [ "$status" -eq 0 ]
  local m
  m=$(value "/fcos/updates/failed/$C2")
  [[ $m == '{"version":"42.0","checksum":"'"$C2"'","node":"node-a","at":'[0-9]*',"reason":"fell back from 42.0 (222222222222) to 41.1 after 3 failed boots: 42.0: /usr/lib/fcos/health.d/10-a: kubelet is down"}' ]]
  [ "$(lease_of "/fcos/updates/failed/$C2")" = 0 ]
  [ "$(line_of "^etcdctl put /fcos/updates/failed/$C2 ")" -lt "$(line_of "^etcdctl del $LOCK0$")" ]
  [ -z "$(value $LOCK0)" ]
  [ ! -e "$(S lock)" ]
  # another host does not stage 42.0, and says why
  node node-b
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^ostree admin deploy'
  not_called '^systemctl reboot'
  [ "$(state last-error)" = "42.0 (222222222222) is marked failed in etcd by node-a: fell back from 42.0 (222222222222) to 41.1 after 3 failed boots: 42.0: /usr/lib/fcos/health.d/10-a: kubelet is down; clear with fcos-update failed clear VERSION|CHECKSUM" ]
  run "$UPDATE" status
  [[ $output == *"Halted: 42.0 (222222222222) is marked failed in etcd by node-a: fell back from 42.0"* ]]
}

@test "fallback while etcd is down: the slot stays until the marker is written (auto retries both)" {
  run "$UPDATE" auto
  set_deployments "other:42.0:$C2" "booted:41.1:$C1"
  grubenv boot_counter=-1 boot_success=0
  touch "$FAKE/etcd-down"
  run "$HEALTH"
  [ "$status" -eq 0 ]
  [ -s "$(S failed-marker-todo)" ]
  [ "$(json_node "$(value $LOCK0)")" = node-a ]
  rm "$FAKE/etcd-down"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  [[ $(value "/fcos/updates/failed/$C2") == '{"version":"42.0",'* ]]
  [ -z "$(value $LOCK0)" ]
  [ ! -e "$(S lock)" ]
  [ ! -e "$(S failed-marker-todo)" ]
}

@test "fallback: the marker cannot be written but etcd answers otherwise: the healthy old version keeps the slot" {
  run "$UPDATE" auto
  set_deployments "other:42.0:$C2" "booted:41.1:$C1"
  grubenv boot_counter=-1 boot_success=0
  health_check 10-a 0
  cat >"$BATS_TEST_TMPDIR/etcdctl" <<EOF
#!/bin/bash
case " \$* " in *" put /fcos/updates/failed/"*) echo "Error: etcdserver: permission denied" >&2; exit 1 ;; esac
exec "$BATS_TEST_DIRNAME/stubs/etcdctl" "\$@"
EOF
  chmod +x "$BATS_TEST_TMPDIR/etcdctl"
  PATH=$BATS_TEST_TMPDIR:$PATH run "$HEALTH"
  [ "$status" -eq 0 ]
  [[ $output == *"41.1 is healthy"* ]]
  [[ $output == *"could not mark 42.0 (222222222222) failed in etcd: Error: etcdserver: permission denied"* ]]
  [ -s "$(S failed-marker-todo)" ]
  [ "$(json_node "$(value $LOCK0)")" = node-a ]
  [ "$(cat "$(S lock)")" = "$LOCK0 $L1" ]
}

@test "a failed marker blocks staging (auto and upgrade); failed list shows it; failed clear unblocks" {
  etcd put "/fcos/updates/failed/$C2" '{"version":"42.0","checksum":"'"$C2"'","node":"node-x","at":1764806400,"reason":"fell back: \"kubelet\" down"}' >/dev/null
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^ostree admin deploy'
  [ "$(state halted)" = '42.0 (222222222222) is marked failed in etcd by node-x: fell back: "kubelet" down; clear with fcos-update failed clear VERSION|CHECKSUM' ]
  run "$UPDATE" upgrade --no-reboot
  [ "$status" -eq 1 ]
  [[ $output == *"not upgrading: 42.0 (222222222222) is marked failed in etcd by node-x"* ]]
  not_called '^ostree admin deploy'
  run "$UPDATE" failed list
  [ "$status" -eq 0 ]
  [ "$output" = '42.0 (222222222222) by node-x at 2025-12-04T00:00:00Z: fell back: "kubelet" down' ]
  run "$UPDATE" failed clear 41.9
  [ "$status" -eq 1 ]
  run "$UPDATE" failed clear 42.0
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "cleared 42.0 ($C2)" ]
  [ -z "$(value "/fcos/updates/failed/$C2")" ]
  run "$UPDATE" status
  [[ $output != *"Halted:"* ]]
  rm "$(S last-check)"
  run "$UPDATE" auto
  called '^ostree admin deploy --stage'
  called '^systemctl reboot$'
}

@test "failed clear by checksum; upgrade --allow-failed passes a marker" {
  etcd put "/fcos/updates/failed/$C2" '{"version":"42.0","checksum":"'"$C2"'","node":"node-x","at":1,"reason":"r"}' >/dev/null
  run "$UPDATE" upgrade --no-reboot --allow-failed
  [ "$status" -eq 0 ]
  called '^ostree admin deploy --stage'
  run "$UPDATE" failed clear "$C2"
  [ "$status" -eq 0 ]
  [ -z "$(value "/fcos/updates/failed/$C2")" ]
}

@test "a newer version (another checksum) is not blocked by the marker of a bad one" {
  etcd put "/fcos/updates/failed/$C2" '{"version":"42.0","checksum":"'"$C2"'","node":"node-x","at":1,"reason":"r"}' >/dev/null
  remote 43.0 "$C3"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^ostree admin deploy --stage'
  called '^systemctl reboot$'
  [[ $(value $LOCK0) == *'"to":"43.0","to_checksum":"'"$C3"'"'* ]]
  [ ! -e "$(S halted)" ]
}

@test "the local failed-commits list still skips a commit" {
  mkdir -p "$ROOT/var/lib/fcos-update"
  echo "$C2 42.0 2026-12-01T00:00:00Z" >"$(S failed-commits)"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  [[ $output == *"skipping 42.0: it failed its health checks before"* ]]
  not_called '^ostree admin deploy'
  not_called '^etcdctl txn'
}

@test "the holder died: its lease runs out, the slot comes back, the waiting host takes it" {
  run "$UPDATE" auto
  node node-b
  run "$UPDATE" auto
  not_called '^systemctl reboot'
  etcd fake-expire "$L1"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^systemctl reboot$'
  [ "$(json_node "$(value $LOCK0)")" = node-b ]
  [ "$(lease_of $LOCK0)" != "$L1" ]
}

@test "lock status shows the holders with their lease's TTL; lock release SLOT frees a dead holder's slot by hand" {
  run "$UPDATE" auto
  node node-b
  run "$UPDATE" lock status
  [ "$status" -eq 0 ]
  [[ $output == *"Group default: 1 slot(s) (/fcos/updates/lock/default/)"* ]]
  [[ $output =~ "slot 0: node-a  41.1 -> 42.0  since "[0-9T:-]+"Z  lease $L1 (TTL left 593s)" ]]
  [[ $output == *"Taken: 1 of 1"* ]]
  [[ $output == *"This host (node-b): none held"* ]]
  run "$UPDATE" lock release x
  [ "$status" -eq 2 ]
  run "$UPDATE" lock release 0
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "released slot 0 of group default (held by node-a)" ]
  called "^etcdctl del $LOCK0$"
  called "^etcdctl lease revoke $L1$"
  [ "$(leases)" = "" ]
  run "$UPDATE" auto
  called '^systemctl reboot$'
  [ "$(json_node "$(value $LOCK0)")" = node-b ]
  # and a host gives back its own slot
  run "$UPDATE" lock release
  [ "$status" -eq 0 ]
  [ -z "$(value $LOCK0)" ]
  [ ! -e "$(S lock)" ]
}

@test "upgrade by hand with etcd-lock reboots only holding a slot" {
  run "$UPDATE" auto
  node node-b
  run "$UPDATE" upgrade
  [ "$status" -eq 0 ]
  called '^ostree admin deploy --stage'
  not_called '^systemctl reboot'
  [[ $output == *"not rebooting: no slot of group default (fcos-update status says why); 42.0 stays staged"* ]]
  etcd fake-expire "$L1"
  run "$UPDATE" upgrade
  [ "$status" -eq 0 ]
  called '^systemctl reboot$'
  [ "$(json_node "$(value $LOCK0)")" = node-b ]
}

@test "etcd-lock without an update URL: auto does nothing, quietly, and never asks etcd" {
  conf STRATEGY=etcd-lock NODE_NAME=node-a
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  not_called '^etcdctl'
  not_called '^ostree pull'
}

@test "a bad LOCK_GROUP or NODE_NAME is refused (they are etcd key parts); no etcd call" {
  node node-a 'LOCK_GROUP=a/b'
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^etcdctl'
  [[ $(state last-error) == "etcd-lock: bad setting LOCK_GROUP=a/b"* ]]
}
