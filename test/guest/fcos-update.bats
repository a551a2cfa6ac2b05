#!/usr/bin/env bats
# fcos-update (ostree/guest/overlay/usr/bin/fcos-update + update-lib.sh) against fake ostree, systemctl and
# grub-editenv: status, check, upgrade (--no-reboot, --allow-failed), rollback, and the timer's strategies (auto).

load helpers

setup() {
  guest_setup
  set_deployments "booted:41.1:$C1" "rollback:41.0:$C0"
  remote 42.0 "$C2"
  conf 'URL=http://10.0.2.2:8080/repo'
  grubenv
}

@test "status: deployments, versions, the rollback target, the boot counter and the update URL" {
  grubenv boot_counter=2 boot_success=0
  run "$UPDATE" status
  [ "$status" -eq 0 ]
  [[ $output == *"*  booted    41.1 (111111111111.0)"* ]]
  [[ $output == *"Booted: 41.1"* ]]
  [[ $output == *"Default: 41.1"* ]]
  [[ $output == *"Rollback: 41.0"* ]]
  [[ $output == *"Update URL: http://10.0.2.2:8080/repo"* ]]
  [[ $output == *"Strategy: immediate"* ]]
  [[ $output == *"Boot counter: 2"* ]]
  [[ $output == *"Boot success: 0"* ]]
  [[ $output != *"Lock:"* ]]   # only with STRATEGY=etcd-lock
}

@test "status with a staged deployment: it is the default and the booted one the rollback" {
  set_deployments "staged:42.0:$C2" "booted:41.1:$C1" "rollback:41.0:$C0"
  run "$UPDATE" status
  [ "$status" -eq 0 ]
  [[ $output == *"Default: 42.0"* ]]
  [[ $output == *"Staged: 42.0"* ]]
  [[ $output == *"Rollback: 41.1"* ]]
}

@test "check: an update is available; the ref comes from the booted deployment's origin" {
  run "$UPDATE" check
  [ "$status" -eq 0 ]
  [ "$output" = "update available: 42.0 (222222222222)" ]
  called '^ostree pull --commit-metadata-only --depth=0 fcos fcos/x86_64/stable$'
  [ "$(state last-check)" = "update available: 42.0 ($C2)" ]
  # the remote, written from update.conf, verifies signatures
  grep -qx 'url=http://10.0.2.2:8080/repo' "$ROOT/etc/ostree/remotes.d/fcos.conf"
  grep -qx 'gpg-verify=true' "$ROOT/etc/ostree/remotes.d/fcos.conf"
  grep -qx "gpgkeypath=$ROOT/usr/lib/fcos/updates.gpg" "$ROOT/etc/ostree/remotes.d/fcos.conf"
}

@test "check: up to date when the remote commit is the booted one" {
  remote 41.1 "$C1"
  run "$UPDATE" check
  [ "$status" -eq 0 ]
  [ "$output" = "up to date: 41.1 (111111111111)" ]
}

@test "check: a refused pull (bad signature) fails and is recorded as the last error" {
  echo 1 >"$FAKE/pull-rc"
  echo "error: GPG signatures found, but none are in trusted keyring" >"$FAKE/pull-out"
  run "$UPDATE" check
  [ "$status" -eq 1 ]
  [[ $(state last-error) == "check refused or failed: error: GPG signatures found, but none are in trusted keyring"* ]]
  [[ $(state last-check) == "failed: error: GPG signatures found"* ]]
}

@test "check without an update URL fails and says where to set it" {
  conf 'STRATEGY=immediate'
  run "$UPDATE" check
  [ "$status" -eq 1 ]
  [[ $(state last-error) == "no update URL: set URL= in /etc/fcos/update.conf"* ]]
  not_called '^ostree pull'
}

@test "upgrade: pulls, stages, arms the boot counter (boot_counter=3 boot_success=0) and reboots" {
  run "$UPDATE" upgrade
  [ "$status" -eq 0 ]
  [[ $output == *"staged 42.0 (222222222222); it becomes the default at the next boot"* ]]
  called '^ostree pull fcos fcos/x86_64/stable$'
  called '^ostree admin deploy --stage --os=fcos fcos:fcos/x86_64/stable$'
  called '^systemctl start ostree-finalize-staged.service$'
  [ "$(grubenv_value boot_counter)" = 3 ]
  [ "$(grubenv_value boot_success)" = 0 ]
  [ "$(cat "$ROOT/var/lib/fcos-update/pending")" = "$C2 42.0" ]
  [ "$(state last-upgrade)" = "staged 42.0 ($C2) over 41.1; boot counter 3" ]
  called '^systemctl reboot$'
}

@test "upgrade --no-reboot stages without rebooting; the boot counter comes from BOOT_TRIES" {
  conf 'URL=http://10.0.2.2:8080/repo' 'BOOT_TRIES=5'
  run "$UPDATE" upgrade --no-reboot
  [ "$status" -eq 0 ]
  [ "$(grubenv_value boot_counter)" = 5 ]
  not_called '^systemctl reboot'
}

@test "upgrade: already booted into the remote commit: nothing staged, the counter untouched" {
  remote 41.1 "$C1"
  run "$UPDATE" upgrade
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "already booted into 41.1 (111111111111)" ]
  not_called '^ostree admin deploy'
  [ -z "$(grubenv_value boot_counter)" ]
  not_called '^systemctl reboot'
}

@test "upgrade: a commit staged already is not deployed again" {
  set_deployments "staged:42.0:$C2" "booted:41.1:$C1" "rollback:41.0:$C0"
  run "$UPDATE" upgrade --no-reboot
  [ "$status" -eq 0 ]
  [[ $output == *"42.0 is staged already"* ]]
  not_called '^ostree admin deploy'
  [ "$(grubenv_value boot_counter)" = 3 ]
}

@test "upgrade refuses a commit that failed its health checks here before; --allow-failed retries it" {
  mkdir -p "$ROOT/var/lib/fcos-update"
  echo "$C2 42.0 2026-12-01T00:00:00Z" >"$ROOT/var/lib/fcos-update/failed-commits"
  run "$UPDATE" upgrade --no-reboot
  [ "$status" -eq 1 ]
  [[ $output == *"not upgrading to 42.0 (222222222222): it failed its health checks on this host before; --allow-failed retries"* ]]
  not_called '^ostree admin deploy'
  [[ $(state last-error) == "not upgrading to 42.0: it failed its health checks here before"* ]]

  run "$UPDATE" upgrade --no-reboot --allow-failed
  [ "$status" -eq 0 ]
  called '^ostree admin deploy --stage'
  [ "$(grubenv_value boot_counter)" = 3 ]
  [ ! -e "$ROOT/var/lib/fcos-update/last-error" ]
}

@test "upgrade: a failed pull or deploy fails, records the error and arms nothing" {
  echo 1 >"$FAKE/pull-rc"
  echo "error: Commit has no requested ref" >"$FAKE/pull-out"
  run "$UPDATE" upgrade --no-reboot
  [ "$status" -eq 1 ]
  [[ $(state last-error) == "upgrade refused or failed: error: Commit has no requested ref"* ]]
  rm "$FAKE/pull-rc"
  echo 1 >"$FAKE/deploy-rc"
  echo "error: No space left on device" >"$FAKE/deploy-out"
  run "$UPDATE" upgrade --no-reboot
  [ "$status" -eq 1 ]
  [[ $(state last-error) == "staging 42.0 failed: error: No space left on device"* ]]
  [ -z "$(grubenv_value boot_counter)" ]
  [ ! -e "$ROOT/var/lib/fcos-update/pending" ]
}

@test "upgrade: an unknown option is a usage error (exit 2), before any pull" {
  run "$UPDATE" upgrade --now
  [ "$status" -eq 2 ]
  [[ $output == *"unknown option --now"* ]]
  not_called '^ostree pull'
}

@test "rollback: makes deployment 1 the default, disarms the counter, marks success" {
  grubenv boot_counter=2 boot_success=0
  mkdir -p "$ROOT/var/lib/fcos-update"
  echo "$C1 41.1" >"$ROOT/var/lib/fcos-update/pending"
  run "$UPDATE" rollback
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "rollback: the next boot is 41.0 (000000000000) (reboot to apply)" ]
  called '^ostree admin set-default 1$'
  [ -z "$(grubenv_value boot_counter)" ]
  [ "$(grubenv_value boot_success)" = 1 ]
  [ ! -e "$ROOT/var/lib/fcos-update/pending" ]
  [ "$(state last-upgrade)" = "manual rollback: the next boot is 41.0 (000000000000)" ]
}

@test "rollback is refused while an update is staged" {
  set_deployments "staged:42.0:$C2" "booted:41.1:$C1" "rollback:41.0:$C0"
  grubenv boot_counter=3 boot_success=0
  run "$UPDATE" rollback
  [ "$status" -eq 1 ]
  [[ $output == *"a staged deployment is pending; reboot into it first"* ]]
  not_called '^ostree admin set-default'
  [ "$(grubenv_value boot_counter)" = 3 ]
}

@test "rollback is refused when there is no other deployment" {
  set_deployments "booted:41.1:$C1"
  run "$UPDATE" rollback
  [ "$status" -eq 1 ]
  [[ $output == *"no rollback deployment"* ]]
  not_called '^ostree admin set-default'
}

@test "auto, strategy immediate: checks, upgrades and reboots" {
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^ostree pull --commit-metadata-only'
  called '^ostree admin deploy --stage'
  called '^systemctl reboot$'
}

@test "auto, strategy off: no check at all" {
  conf 'URL=http://10.0.2.2:8080/repo' 'STRATEGY=off'
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  [[ $output == *"strategy off: no automatic updates"* ]]
  not_called '^ostree pull'
}

@test "auto, strategy periodic outside the window: stages now, no reboot" {
  conf 'URL=http://10.0.2.2:8080/repo' 'STRATEGY=periodic' 'WINDOW_DAYS="Sat Sun"' 'WINDOW_START=03:00' 'WINDOW_MINUTES=60'
  FAKE_DATE="Tue 03 30" run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^ostree admin deploy --stage'
  not_called '^systemctl reboot'
  [[ $output == *"staged; rebooting in the window (Sat Sun 03:00 +60min)"* ]]
  # a day in the window, but before its start and after its end
  rm "$ROOT/var/lib/fcos-update/last-check"
  FAKE_DATE="Sun 02 59" run "$UPDATE" auto
  not_called '^systemctl reboot'
  rm "$ROOT/var/lib/fcos-update/last-check"
  FAKE_DATE="Sun 04 00" run "$UPDATE" auto
  not_called '^systemctl reboot'
}

@test "auto with a staged deployment: immediate leaves it to its reboot; periodic reboots into it in the window" {
  set_deployments "staged:42.0:$C2" "booted:41.1:$C1" "rollback:41.0:$C0"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^ostree pull'
  not_called '^systemctl reboot'
  conf 'URL=http://10.0.2.2:8080/repo' 'STRATEGY=periodic' 'WINDOW_DAYS="Sat Sun"' 'WINDOW_START=03:00' 'WINDOW_MINUTES=60'
  FAKE_DATE="Sun 03 10" run "$UPDATE" auto
  [ "$status" -eq 0 ]
  [[ $output == *"42.0 is staged already"* ]]
  not_called '^ostree admin deploy'
  called '^systemctl reboot$'
}

@test "auto, strategy periodic inside the window: upgrades and reboots" {
  conf 'URL=http://10.0.2.2:8080/repo' 'STRATEGY=periodic' 'WINDOW_DAYS="Sat Sun"' 'WINDOW_START=03:00' 'WINDOW_MINUTES=60'
  FAKE_DATE="Sun 03 59" run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^ostree admin deploy --stage'
  called '^systemctl reboot$'
}

@test "auto: a check younger than CHECK_INTERVAL_MIN is not repeated; an older one is" {
  conf 'URL=http://10.0.2.2:8080/repo' 'CHECK_INTERVAL_MIN=60'
  mkdir -p "$ROOT/var/lib/fcos-update"
  echo "x up to date" >"$ROOT/var/lib/fcos-update/last-check"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^ostree pull'
  touch -d '2 hours ago' "$ROOT/var/lib/fcos-update/last-check"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  called '^ostree pull --commit-metadata-only'
}

@test "auto skips a commit that failed its health checks before (no --allow-failed)" {
  mkdir -p "$ROOT/var/lib/fcos-update"
  echo "$C2 42.0 2026-12-01T00:00:00Z" >"$ROOT/var/lib/fcos-update/failed-commits"
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  [[ $output == *"skipping 42.0: it failed its health checks before"* ]]
  not_called '^ostree admin deploy'
  not_called '^systemctl reboot'
}

@test "auto without an update URL does nothing; an unknown strategy fails" {
  conf 'STRATEGY=immediate'
  run "$UPDATE" auto
  [ "$status" -eq 0 ]
  not_called '^ostree pull'
  conf 'URL=http://10.0.2.2:8080/repo' 'STRATEGY=sometimes'
  run "$UPDATE" auto
  [ "$status" -eq 1 ]
  [[ $output == *"unknown STRATEGY=sometimes"* ]]
  not_called '^ostree admin deploy'
}
