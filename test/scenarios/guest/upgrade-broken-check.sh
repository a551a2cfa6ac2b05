#!/bin/sh
for _ in $(seq 1 50); do [ -e /run/fcos-test-trial-seen ] && break; sleep 1; done
echo "v3 is broken on purpose (fcos upgrade test)"
exit 1
