#!/usr/bin/env bash
# Installs the host tools fcos needs, from Debian's packages, when they are missing.
# Idempotent and quick when everything is present. Needs root (apt-get).
set -euo pipefail

PKGS=(
  ignition          # ignition-validate: the reference validator (tests, differential test)
  mmdebstrap        # rootfs bootstrap
  ostree            # repo, commit, deploy
  qemu-system-x86   # VMs
  qemu-utils        # qemu-img
  ovmf              # UEFI firmware
  ipxe-qemu         # PXE option ROMs
  gdisk             # sgdisk
  fdisk             # sfdisk
  dosfstools        # mkfs.vfat for the ESP
  mtools            # write the ESP without mounting it (the host kernel may lack vfat)
  e2fsprogs         # mkfs.ext4
  squashfs-tools    # PXE rootfs image
  cpio zstd         # initramfs inspection
  openssh-client    # ssh into test VMs
  openssl           # keys and certificates
  curl
  gnupg             # update signing keys (ostree gpg-sign with an ed25519 OpenPGP key)
  ca-certificates
  arch-test         # mmdebstrap's architecture check
  python3           # small helpers in tests
  containerd runc   # e2e: `ctr images import` of the OCI archives fcos builds (private containerd, temp root)
  skopeo podman     # e2e: the same archives read by containers/image (skopeo inspect, podman load)
  etcd-client       # etcdctl: fcos cluster status/up, the etcd-cluster e2e test
  etcd-server       # bench/etcd: one local etcd next to the cluster
  shellcheck        # tests: every shell file of the repository (test/unit/guest-scripts.test.ts)
  bats              # tests: the guest scripts' unit tests (test/guest/*.bats)
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "deps: need root to install packages (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "deps: no Go toolchain found (needed to build kubelet); installing golang-go"
  apt-get install -y -qq --no-install-recommends golang-go >/dev/null
fi
echo "deps: host tools present"
