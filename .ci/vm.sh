#!/usr/bin/env bash
# VM disk tests (issue 16): installs qemu, OVMF firmware and the tools the VM output needs
# (mkfs.erofs from erofs-utils, qemu-img from qemu-utils), then builds and caches a bootable
# Debian bookworm root filesystem (debootstrap: linux-image-amd64, python3-minimal,
# busybox-static for the initramfs, systemd-boot-efi for the EFI loader) as a tar outside
# the clone. Idempotent; prints the tar's path on stdout.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
. "$(dirname "$0")/lib.sh"
ci_apt_install qemu-system-x86 qemu-utils ovmf erofs-utils debootstrap

build() { # ROOT MIRROR
  local root=$1 kdir kver
  debootstrap --variant=minbase \
    --include=linux-image-amd64,python3-minimal,busybox-static,systemd-boot-efi \
    bookworm "$root" "$2"
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
}
ci_rootfs_tar debian-bookworm-vm.tar build
