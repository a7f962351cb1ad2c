package vmdisk

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkDiskAssembly compares writing the qcow2 disk from an unpacked tree (Build) with
// the two tools alone on the same tree (mkfs.erofs, then qemu-img convert of the EROFS
// image to qcow2), in one run so the ratio holds on a noisy machine. The tree is the
// bootable Debian base of .ci/vm.sh (REPROBUILD_VM_ROOTFS).
//
//	REPROBUILD_VM_ROOTFS=... go test -run '^$' -bench DiskAssembly -benchtime 3x ./internal/vmdisk
func BenchmarkDiskAssembly(b *testing.B) {
	tarPath := os.Getenv("REPROBUILD_VM_ROOTFS")
	if tarPath == "" {
		b.Skip("REPROBUILD_VM_ROOTFS is not set (run .ci/vm.sh)")
	}
	tree := filepath.Join(b.TempDir(), "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(tarPath)
	if err != nil {
		b.Fatal(err)
	}
	err = ExtractTree(f, tree)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	o := testOptions("qcow2")
	o.Runtime.User = ""
	b.Run("reprobuild", func(b *testing.B) {
		for b.Loop() {
			if _, err := Build(context.Background(), tree, filepath.Join(out, "disk.qcow2"), o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mkfs.erofs+qemu-img", func(b *testing.B) {
		for b.Loop() {
			img := filepath.Join(out, "root.erofs")
			if o, err := exec.Command("mkfs.erofs", "--quiet", "-x-1", "--all-root", "--ignore-mtime", "-T1700000000",
				"-U12345678-1234-4234-8234-123456789abc", img, tree).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, o)
			}
			if o, err := exec.Command("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", img, filepath.Join(out, "tools.qcow2")).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, o)
			}
			os.Remove(img)
		}
	})
}
