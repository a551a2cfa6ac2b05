# shellcheck shell=sh
# The basic test's podman check (test/scenarios/basic.ts): a tiny container image made inside the VM from
# /usr/bin/echo and its libraries, imported and run with podman; prints hello-from-podman.
set -e
r=$(mktemp -d)
for f in /usr/bin/echo $(ldd /usr/bin/echo | grep -o '/[^ ]*'); do cp --parents -L "$f" "$r"; done
tar -C "$r" -c . | sudo podman import - localhost/fcos-hello:test >/dev/null
sudo podman run --rm --network none localhost/fcos-hello:test /usr/bin/echo hello-from-podman
rm -rf "$r"
