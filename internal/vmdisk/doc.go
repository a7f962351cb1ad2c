// Package vmdisk writes a bootable, bit-for-bit reproducible disk image from an unpacked
// root filesystem tree: a GPT disk with a FAT32 EFI system partition (systemd-boot, the
// tree's kernel and an initramfs written here as a sorted cpio) and a read-only EROFS
// root partition, as raw bytes or qcow2. It also reads the runtime record back from
// such a disk.
//
// Every identifier on the disk (GUIDs, volume IDs, UUIDs) is derived from a seed the
// caller passes (the lock hash) and every time stamp is the epoch the caller passes:
// the package reads no clock, environment or randomness. External programs it runs
// (mkfs.erofs from erofs-utils, qemu-img from qemu-utils) are named in its errors when
// missing. It imports only the standard library.
package vmdisk
