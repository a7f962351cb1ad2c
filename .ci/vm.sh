#!/usr/bin/env bash
# VM disk tests (issue 16): installs qemu, OVMF firmware and the tools the VM output needs
# (mkfs.erofs from erofs-utils, qemu-img from qemu-utils), then builds and caches a bootable
# Debian bookworm root filesystem (debootstrap: linux-image-amd64, python3-minimal,
# busybox-static for the initramfs, systemd-boot-efi for the EFI loader) as a tar outside
# the clone. Idempotent; prints the tar's path on stdout.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(qemu-system-x86 qemu-utils ovmf erofs-utils debootstrap)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cache=${REPROBUILD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprobuild-ci}
out="$cache/debian-bookworm-vm.tar"
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$cache"
root=$(mktemp -d "$cache/vmroot.XXXXXX")
trap 'rm -rf "$root"' EXIT
mirror=${DEBIAN_MIRROR:-$(awk '/^deb / && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)}
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
fi
debootstrap --variant=minbase \
  --include=linux-image-amd64,python3-minimal,busybox-static,systemd-boot-efi \
  bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >&2
# The disk builder writes its own initramfs: the distribution's is dead weight.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/boot/initrd.img-*
# Keep CI fast: a qemu guest needs no sound, network or hardware drivers, so only the
# virtio and block drivers, 9p (mounted data) and the file system, crypto and library
# modules stay (about 280 MB less to pack on every build); depmod rewrites modules.dep.
for kdir in "$root"/usr/lib/modules/*/; do
  kver=$(basename "$kdir")
  find "$kdir/kernel/drivers" -mindepth 1 -maxdepth 1 ! -name virtio ! -name block -exec rm -rf {} +
  find "$kdir/kernel/net" -mindepth 1 -maxdepth 1 ! -name 9p -exec rm -rf {} +
  rm -rf "$kdir/kernel/sound" "$kdir"/kernel/net/9p/9pnet_rdma.ko "$kdir"/kernel/net/9p/9pnet_xen.ko
  chroot "$root" depmod -a "$kver"
done
tar -C "$root" --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out"
