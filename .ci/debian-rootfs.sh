#!/usr/bin/env bash
# Builds a minimal Debian bookworm root filesystem with python3 (debootstrap) as a tar,
# cached outside the clone. The end-to-end tests pack it into an OCI layout to use as a
# real base image with a real interpreter. Prints the tar's path.
set -euo pipefail
cache=${REPROBUILD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprobuild-ci}
out="$cache/debian-bookworm-python3.tar"
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$cache"
root=$(mktemp -d "$cache/rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mirror=${DEBIAN_MIRROR:-$(awk '/^deb / && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)}
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
fi
debootstrap --variant=minbase --include=python3-minimal bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >&2
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out"
