#!/bin/sh
# The upgrade test's power cut during staging (test/scenarios/upgrade.ts), run as root: start `fcos-update upgrade`
# in the transient unit $1, wait for `ostree admin deploy --stage`, and freeze it with SIGSTOP 1 s into its work.
# Prints "frozen PID" and exits 0; exits 3 when staging ended before the freeze, 4 when the upgrade ended without
# staging, 5 when staging did not start within 10 minutes.
unit=$1
systemd-run --unit="$unit" --collect /usr/bin/fcos-update upgrade --no-reboot >/dev/null 2>&1
for _ in $(seq 1 6000); do
  p=$(pgrep -f "^ostree admin deploy")
  if [ -n "$p" ]; then
    sleep 1
    # shellcheck disable=SC2086 # every PID pgrep found
    kill -STOP $p && { echo "frozen $p"; exit 0; }
    echo "staging ended before the freeze"
    exit 3
  fi
  systemctl -q is-active "$unit" || { echo "the upgrade ended without staging"; exit 4; }
  sleep 0.1
done
exit 5
