#!/usr/bin/env bats
# update-health (fcos-update-health.service) against fake ostree, systemctl and grub-editenv: its verdicts (healthy,
# unhealthy on trial, unhealthy), the fallback after GRUB spent the boot counter, and how it finds and runs the
# checks.

load helpers

setup() {
  guest_setup
  set_deployments "booted:42.0:$C2" "rollback:41.1:$C1"
  grubenv
}

@test "healthy: every check passes: boot_success=1, the counter disarmed, pending cleared" {
  health_check 10-a 0
  health_check 20-b 0
  grubenv boot_counter=2 boot_success=0
  mkdir -p "$ROOT/var/lib/fcos-update"
  echo "$C2 42.0" >"$ROOT/var/lib/fcos-update/pending"
  run "$HEALTH"
  [ "$status" -eq 0 ]
  [[ $output == *"42.0 is healthy (2 checks)"* ]]
  [ -z "$(grubenv_value boot_counter)" ]
  [ "$(grubenv_value boot_success)" = 1 ]
  [ ! -e "$ROOT/var/lib/fcos-update/pending" ]
  [ "$(state last-health)" = "healthy: 42.0 (2 checks)" ]
  not_called '^systemctl reboot'
}

@test "unhealthy on trial (boot_counter set): records why and reboots, so GRUB spends a try" {
  health_check 10-a 0
  health_check 20-b 1 "etcd is not answering"
  grubenv boot_counter=2 boot_success=0
  run "$HEALTH"
  [ "$status" -eq 0 ]
  [[ $output == *"is on trial (boot_counter=2) and unhealthy: rebooting"* ]]
  called '^systemctl reboot --no-block$'
  [ "$(state last-health-failure)" = "42.0: $ROOT/usr/lib/fcos/health.d/20-b: etcd is not answering" ]
  [[ $(state last-health) == "UNHEALTHY: 42.0: "*"20-b: etcd is not answering" ]]
  [ "$(grubenv_value boot_counter)" = 2 ]
  [ "$(grubenv_value boot_success)" = 0 ]
  called '^logger -p user.err -t fcos-update -- unhealthy boot of 42.0'
}

@test "unhealthy, not on trial: the service fails (exit 1), no reboot" {
  health_check 10-a 3
  run "$HEALTH"
  [ "$status" -eq 1 ]
  [[ $output == *"health check $ROOT/usr/lib/fcos/health.d/10-a failed (exit 3)"* ]]
  [ "$(state last-health-failure)" = "42.0: $ROOT/usr/lib/fcos/health.d/10-a: exit 3" ]
  not_called '^systemctl reboot'
  [ -z "$(grubenv_value boot_success)" ]
}

@test "GRUB fell back (boot_counter=-1): the booted deployment is made the default again, the failed commit recorded" {
  set_deployments "other:43.0:$C3" "booted:42.0:$C2"
  health_check 10-a 0
  grubenv boot_counter=-1 boot_success=0
  mkdir -p "$ROOT/var/lib/fcos-update"
  echo "2026-12-04T00:00:00Z 43.0: /usr/lib/fcos/health.d/20-etcd: timed out after 120s" >"$ROOT/var/lib/fcos-update/last-health-failure"
  echo "$C3 43.0" >"$ROOT/var/lib/fcos-update/pending"
  run "$HEALTH"
  [ "$status" -eq 0 ]
  called '^ostree admin set-default 1$'
  [[ $(cat "$ROOT/var/lib/fcos-update/failed-commits") == "$C3 43.0 "* ]]
  [ "$(state fallback)" = "fell back from 43.0 (333333333333) to 42.0 after 3 failed boots: 43.0: /usr/lib/fcos/health.d/20-etcd: timed out after 120s" ]
  [ "$(state last-error)" = "$(state fallback)" ]
  called '^logger -p user.warning -t fcos-update -- automatic rollback: fell back from 43.0'
  [ ! -e "$ROOT/var/lib/fcos-update/pending" ]
  # then the checks of this boot: healthy, and no longer on trial
  [ -z "$(grubenv_value boot_counter)" ]
  [ "$(grubenv_value boot_success)" = 1 ]
  not_called '^systemctl reboot'
}

@test "GRUB fell back before any health report: the reason says so" {
  set_deployments "other:43.0:$C3" "booted:42.0:$C2"
  grubenv boot_counter=-1 boot_success=0
  run "$HEALTH"
  [ "$status" -eq 0 ]
  [ "$(state fallback)" = "fell back from 43.0 (333333333333) to 42.0 after 3 failed boots: no health report (the boots did not get that far)" ]
}

@test "checks: /etc/fcos/health.d overrides /usr/lib by name, in name order; non-executable files are skipped" {
  health_check 10-a 1 "from usr"
  health_check 10-a 0 "" etc/fcos/health.d
  health_check 20-b 0
  printf 'exit 1\n' >"$ROOT/usr/lib/fcos/health.d/30-not-executable"
  run "$HEALTH"
  [ "$status" -eq 0 ]
  [[ $output == *"health check $ROOT/etc/fcos/health.d/10-a passed"*"health check $ROOT/usr/lib/fcos/health.d/20-b passed"* ]]
  [[ $output == *"42.0 is healthy (2 checks)"* ]]
}

@test "checks: a check that runs past HEALTH_TIMEOUT fails as timed out" {
  conf 'HEALTH_TIMEOUT=1'
  printf '#!/bin/sh\nexec %s 30\n' "$(command -p -v sleep)" >"$ROOT/usr/lib/fcos/health.d/10-slow"
  chmod +x "$ROOT/usr/lib/fcos/health.d/10-slow"
  run "$HEALTH"
  [ "$status" -eq 1 ]
  [ "$(state last-health-failure)" = "42.0: $ROOT/usr/lib/fcos/health.d/10-slow: timed out after 1s" ]
}

@test "the checks wait until the boot's other start jobs are done" {
  health_check 10-a 0
  echo 2 >"$FAKE/jobs-left"
  run "$HEALTH"
  [ "$status" -eq 0 ]
  [ "$(grep -c '^systemctl list-jobs' "$FAKE/calls")" = 3 ]
  [ "$(grep -c '^sleep 2$' "$FAKE/calls")" = 2 ]
}
