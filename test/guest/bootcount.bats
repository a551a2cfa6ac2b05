#!/usr/bin/env bats
# Boot counting (docs/upgrade.md): GRUB's 08_fcos_bootcount (run here by helpers.bash grub_boot), fcos-update's
# armed counter and update-health's verdicts, one boot after another.

load helpers

setup() {
  guest_setup
  grubenv
}

@test "08_fcos_bootcount: one try spent per boot; when none is left GRUB boots entry 1 and leaves boot_counter=-1" {
  grubenv boot_counter=3 boot_success=0
  [ "$(grub_boot)" = 0 ]; [ "$(grubenv_value boot_counter)" = 2 ]
  [ "$(grub_boot)" = 0 ]; [ "$(grubenv_value boot_counter)" = 1 ]
  [ "$(grub_boot)" = 0 ]; [ "$(grubenv_value boot_counter)" = 0 ]
  [ "$(grub_boot)" = 1 ]; [ "$(grubenv_value boot_counter)" = -1 ]
  [ "$(grubenv_value boot_success)" = 0 ]
}

@test "08_fcos_bootcount: counts down from 9; without boot_counter GRUB changes nothing" {
  grubenv boot_counter=9
  for want in 8 7 6 5 4 3 2 1 0 -1; do
    grub_boot >/dev/null
    [ "$(grubenv_value boot_counter)" = "$want" ]
  done
  grubenv boot_success=1
  : >"$FAKE/calls"
  [ "$(grub_boot)" = 0 ]
  [ "$(cat "$ROOT/boot/grub/grubenv")" = boot_success=1 ]
  not_called '^grub-editenv'
}

@test "an upgrade whose boots stay unhealthy: three tries, then GRUB's fallback, recorded, and not retried" {
  set_deployments "booted:41.1:$C1" "rollback:41.0:$C0"
  remote 42.0 "$C2"
  conf 'URL=http://10.0.2.2:8080/repo'
  run "$UPDATE" upgrade
  [ "$status" -eq 0 ]
  [ "$(grubenv_value boot_counter)" = 3 ]
  # the new deployment boots (entry 0) and fails its checks: update-health reboots it, three times
  set_deployments "booted:42.0:$C2" "rollback:41.1:$C1"
  health_check 10-broken 1 "broken"
  for _ in 1 2 3; do
    : >"$FAKE/calls"
    [ "$(grub_boot)" = 0 ]
    run "$HEALTH"
    [ "$status" -eq 0 ]
    called '^systemctl reboot --no-block$'
  done
  # the fourth boot: GRUB falls back to entry 1, the previous deployment, where the checks pass
  [ "$(grub_boot)" = 1 ]
  set_deployments "other:42.0:$C2" "booted:41.1:$C1"
  rm "$ROOT/usr/lib/fcos/health.d/10-broken"
  health_check 10-ok 0
  run "$HEALTH"
  [ "$status" -eq 0 ]
  called '^ostree admin set-default 1$'
  [[ $(state fallback) == "fell back from 42.0 (222222222222) to 41.1 after 3 failed boots: 42.0: "*"10-broken: broken" ]]
  [ -z "$(grubenv_value boot_counter)" ]
  [ "$(grubenv_value boot_success)" = 1 ]
  # GRUB leaves the next boots alone, and the timer does not try 42.0 again
  [ "$(grub_boot)" = 0 ]
  set_deployments "booted:41.1:$C1" "other:42.0:$C2"
  : >"$FAKE/calls"
  touch -d '2 hours ago' "$ROOT/var/lib/fcos-update/last-check"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  [[ $output == *"skipping 42.0: it failed its health checks before"* ]]
  not_called '^ostree admin deploy'
}

@test "an upgrade that boots healthy: one try spent, then marked good; GRUB leaves it alone" {
  set_deployments "booted:41.1:$C1" "rollback:41.0:$C0"
  remote 42.0 "$C2"
  conf 'URL=http://10.0.2.2:8080/repo'
  run "$UPDATE" upgrade --no-reboot
  [ "$status" -eq 0 ]
  set_deployments "booted:42.0:$C2" "rollback:41.1:$C1"
  health_check 10-ok 0
  [ "$(grub_boot)" = 0 ]
  [ "$(grubenv_value boot_counter)" = 2 ]
  run "$HEALTH"
  [ "$status" -eq 0 ]
  [ -z "$(grubenv_value boot_counter)" ]
  [ "$(grubenv_value boot_success)" = 1 ]
  [ "$(grub_boot)" = 0 ]
  [ -z "$(grubenv_value boot_counter)" ]
}
