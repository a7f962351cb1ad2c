#!/usr/bin/env bash
# Builds a minimal Debian bookworm root filesystem with python3 (debootstrap) as a tar,
# cached outside the clone. The end-to-end tests pack it into an OCI layout to use as a
# real base image with a real interpreter. Prints the tar's path.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build() { # ROOT MIRROR
  debootstrap --variant=minbase --include=python3-minimal bookworm "$1" "$2"
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*
}
ci_rootfs_tar debian-bookworm-python3.tar build
