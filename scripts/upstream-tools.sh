#!/usr/bin/env bash
# Builds the real upstream tools the differential tests compare fcos with, from the Go module proxy, and caches
# them under the fcos cache dir (like ostree/k8s/kubelet.ts does for kubelet):
#   $CACHE/upstream/ignition-validate-v2.24.0/ignition-validate
#   $CACHE/upstream/butane-v0.25.1/butane
# CACHE is $FCOS_CACHE_DIR, else /var/cache/fcos as root, else ~/.cache/fcos (lib/paths.ts cacheDir). The Go module
# and build caches are the shared ones under $CACHE/go (ostree/k8s/go.ts goEnv).
# Idempotent: a cached binary that runs is reused. Prints the binary path on stdout (build log on stderr).
# Usage: scripts/upstream-tools.sh [ignition-validate|butane]
set -euo pipefail

IGNITION_VERSION=v2.24.0
BUTANE_VERSION=v0.25.1

if [[ -n "${FCOS_CACHE_DIR:-}" ]]; then
  CACHE=$(realpath -m "$FCOS_CACHE_DIR")
elif [[ $(id -u) == 0 ]]; then
  CACHE=/var/cache/fcos
else
  CACHE=$HOME/.cache/fcos
fi

if [[ -n "${FCOS_GO:-}" ]]; then GO=$FCOS_GO
elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
else GO=$(command -v go || true)
fi

go_env() {
  mkdir -p "$CACHE/go/mod" "$CACHE/go/build" "$CACHE/go/path"
  export GOMODCACHE=$CACHE/go/mod GOCACHE=$CACHE/go/build GOPATH=$CACHE/go/path
  export GOTOOLCHAIN=local GOWORK=off GO111MODULE=on CGO_ENABLED=0
}

# cached_tool NAME VERSION BUILD: prints the path of the cached NAME at VERSION; when there is none that runs, builds
# it with the function BUILD TMPDIR (which leaves TMPDIR/NAME) and caches it.
cached_tool() {
  local name=$1 version=$2 build=$3
  local dir=$CACHE/upstream/$name-$version
  local bin=$dir/$name
  if [[ -x $bin ]] && "$bin" --version >/dev/null 2>&1; then
    echo "$bin"
    return
  fi
  if [[ -z $GO ]]; then
    echo "upstream-tools: no Go toolchain (set FCOS_GO, or install Go in /usr/local/go)" >&2
    exit 1
  fi
  go_env
  mkdir -p "$CACHE/upstream"
  local tmp
  tmp=$(mktemp -d "$CACHE/upstream/.tmp-$name-XXXXXX")
  trap 'rm -rf "$tmp"' RETURN
  echo "upstream-tools: building $name $version with $("$GO" env GOVERSION) (GOMODCACHE=$GOMODCACHE)" >&2
  "$build" "$tmp"
  "$tmp/$name" --version >&2
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - RETURN
  echo "$bin"
}

build_ignition_validate() {
  local tmp=$1
  # go install names the binary after the package directory ("validate"). The version is stamped the way
  # upstream's build does it (internal/version.Raw), so --version says v2.24.0.
  GOBIN=$tmp "$GO" install -trimpath \
    -ldflags "-X github.com/coreos/ignition/v2/internal/version.Raw=$IGNITION_VERSION" \
    "github.com/coreos/ignition/v2/validate@$IGNITION_VERSION" >&2
  mv "$tmp/validate" "$tmp/ignition-validate"
}

# Butane: the module's version list is refused by the proxy, but the exact version is served; its main package is
# github.com/coreos/butane/internal. A scratch module requires it (and what internal imports), then builds it.
build_butane() {
  local tmp=$1
  mkdir "$tmp/mod"
  printf 'module fcos.local/butane-build\n\ngo 1.23\n\nrequire github.com/coreos/butane %s\n' "$BUTANE_VERSION" >"$tmp/mod/go.mod"
  # shellcheck disable=SC2016 # Go source text: the backquotes are Go's, not the shell's
  printf '%s\n' \
    '// Scratch module: pulls in what github.com/coreos/butane/internal needs, so `go mod tidy` records it.' \
    'package main' '' 'import (' '	_ "github.com/coreos/butane/config"' '	_ "github.com/spf13/pflag"' ')' '' 'func main() {}' \
    >"$tmp/mod/main.go"
  (cd "$tmp/mod" && "$GO" mod tidy >&2 && "$GO" build -trimpath -o "$tmp/butane" \
    -ldflags "-X github.com/coreos/butane/internal/version.Raw=$BUTANE_VERSION" github.com/coreos/butane/internal >&2)
  rm -rf "$tmp/mod"
}

case "${1:-ignition-validate}" in
  ignition-validate) cached_tool ignition-validate "$IGNITION_VERSION" build_ignition_validate ;;
  butane) cached_tool butane "$BUTANE_VERSION" build_butane ;;
  *)
    echo "usage: $0 [ignition-validate|butane]" >&2
    exit 2
    ;;
esac
