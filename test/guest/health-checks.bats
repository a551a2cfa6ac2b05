#!/usr/bin/env bats
# The shipped health checks (ostree/guest/overlay/usr/lib/fcos/health.d) against a fake systemctl and etcdctl.

load helpers

setup() {
  guest_setup
  D=$OVERLAY/usr/lib/fcos/health.d
}

@test "10-no-failed-units: passes with no failed unit, or with only the health service itself failed" {
  run "$D/10-no-failed-units"
  [ "$status" -eq 0 ]
  echo "fcos-update-health.service loaded failed failed fcos health" >"$FAKE/failed"
  run "$D/10-no-failed-units"
  [ "$status" -eq 0 ]
}

@test "10-no-failed-units: fails and names the failed units on one line" {
  printf '%s\n' "etcd.service loaded failed failed etcd" "fcos-update-health.service loaded failed failed h" \
    "kubelet.service loaded failed failed kubelet" >"$FAKE/failed"
  run "$D/10-no-failed-units"
  [ "$status" -eq 1 ]
  [ "$output" = "failed units: etcd.service kubelet.service" ]
}

@test "20-etcd: passes when etcd is not enabled, or when it answers" {
  touch "$FAKE/etcd-down"
  run "$D/20-etcd"
  [ "$status" -eq 0 ]
  not_called '^etcdctl'
  echo etcd.service >"$FAKE/enabled"
  rm "$FAKE/etcd-down"
  run "$D/20-etcd"
  [ "$status" -eq 0 ]
  called '^etcdctl endpoint health$'
}

@test "20-etcd: an enabled etcd that does not answer is retried until the check's time-out" {
  echo etcd.service >"$FAKE/enabled"
  touch "$FAKE/etcd-down"
  run timeout 1 "$D/20-etcd"
  [ "$status" -eq 124 ]
  called '^sleep 2$'
}

@test "30-containerd-kubelet: passes when neither is enabled, or when the enabled ones are active" {
  run "$D/30-containerd-kubelet"
  [ "$status" -eq 0 ]
  echo containerd.service >"$FAKE/enabled"
  echo active >"$FAKE/active/containerd.service"
  run "$D/30-containerd-kubelet"
  [ "$status" -eq 0 ]
  not_called 'is-active kubelet.service'
}

@test "30-containerd-kubelet: an enabled unit still inactive after 30 tries fails with its state" {
  printf '%s\n' containerd.service kubelet.service >"$FAKE/enabled"
  echo active >"$FAKE/active/containerd.service"
  echo activating >"$FAKE/active/kubelet.service"
  run "$D/30-containerd-kubelet"
  [ "$status" -eq 1 ]
  [ "$output" = "kubelet.service is activating" ]
  [ "$(grep -c '^sleep 2$' "$FAKE/calls")" = 29 ]
}
