package vmdisk

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt")

// staticELF is the smallest ELF executable header debug/elf accepts, with no program
// headers (so no interpreter): a stand-in for a static busybox.
func staticELF() []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1
	binary.LittleEndian.PutUint16(h[16:], 2)
	binary.LittleEndian.PutUint16(h[18:], 62)
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint16(h[52:], 64)
	binary.LittleEndian.PutUint16(h[54:], 56)
	binary.LittleEndian.PutUint16(h[58:], 64)
	return h
}

// fakeTree writes a small root file system with everything Build looks for; files are
// created in the order given (reversed for the second tree of a pair).
func fakeTree(t *testing.T, dir string, reverse bool) {
	t.Helper()
	files := []struct{ p, data string }{
		{"boot/vmlinuz-6.1.0-9-amd64", strings.Repeat("kernel", 50000)},
		{"boot/vmlinuz-6.1.0-10-amd64", strings.Repeat("newer kernel", 50000)},
		{"usr/lib/modules/6.1.0-10-amd64/modules.dep", "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n" +
			"kernel/drivers/virtio/virtio.ko:\nkernel/drivers/virtio/virtio_ring.ko:\nkernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n" +
			"kernel/fs/erofs/erofs.ko:\nkernel/fs/overlayfs/overlay.ko:\n"},
		{"usr/lib/modules/6.1.0-10-amd64/kernel/drivers/virtio/virtio_pci.ko", "pci"},
		{"usr/lib/modules/6.1.0-10-amd64/kernel/drivers/virtio/virtio.ko", "virtio"},
		{"usr/lib/modules/6.1.0-10-amd64/kernel/drivers/virtio/virtio_ring.ko", "ring"},
		{"usr/lib/modules/6.1.0-10-amd64/kernel/drivers/block/virtio_blk.ko", "blk"},
		{"usr/lib/modules/6.1.0-10-amd64/kernel/fs/erofs/erofs.ko", "erofs"},
		{"usr/lib/modules/6.1.0-10-amd64/kernel/fs/overlayfs/overlay.ko", "overlay"},
		{"usr/bin/busybox", string(staticELF())},
		{"usr/lib/systemd/boot/efi/systemd-bootx64.efi", "MZ systemd-boot"},
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nworker:x:1000:100::/home/worker:/bin/sh\n"},
		{"opt/env/bin/hello", "#!/bin/sh\necho hello\n"},
	}
	if reverse {
		for i, j := 0, len(files)-1; i < j; i, j = i+1, j-1 {
			files[i], files[j] = files[j], files[i]
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, f.p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range [][2]string{{"usr/bin", "bin"}, {"usr/lib", "lib"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	// Directory modes must not depend on the umask.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o755)
		}
		return err
	})
}

func testOptions(format string) Options {
	return Options{
		Name: "fake", LockHash: strings.Repeat("ab", 32), Epoch: time.Unix(1700000000, 0),
		Runtime: Runtime{Entrypoint: []string{"/opt/env/bin/hello"}, Env: []string{"PATH=/usr/bin:/bin"}, User: "worker", Workdir: "/tmp"},
		Record:  []byte(`{"record_version":1}`), Format: format,
	}
}

func needTools(t *testing.T) {
	t.Helper()
	for _, p := range []string{"mkfs.erofs", "qemu-img"} {
		if _, err := exec.LookPath(p); err != nil {
			testutil.Unavailable(t, "%s is not installed (run .ci/vm.sh)", p)
		}
	}
}

func sha(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestBuildReproducibleAndGolden writes raw and qcow2 disks of two trees created in
// opposite orders in different directories: the bytes must match each other and the
// committed digests (which pin this package's writers, mkfs.erofs 1.5 and qemu-img 7.2).
func TestBuildReproducibleAndGolden(t *testing.T) {
	needTools(t)
	got := map[string]string{}
	for _, format := range []string{"raw", "qcow2"} {
		var sums []string
		for i := 0; i < 2; i++ {
			tree := filepath.Join(t.TempDir(), "tree", strings.Repeat("x", i+1))
			fakeTree(t, tree, i == 1)
			out := filepath.Join(t.TempDir(), "disk."+format)
			res, err := Build(context.Background(), tree, out, testOptions(format))
			if err != nil {
				t.Fatal(err)
			}
			if res.Kernel != "6.1.0-10-amd64" {
				t.Errorf("kernel %s, want the newest, 6.1.0-10-amd64", res.Kernel)
			}
			rec, at, err := ReadRecordAt(out)
			if err != nil {
				t.Fatalf("ReadRecord(%s): %v", format, err)
			}
			if string(rec) != `{"record_version":1}` {
				t.Fatalf("ReadRecord(%s) = %q", format, rec)
			}
			if want := "partition 1 (EFI system partition): /reprobuild/runtime.json"; at != want {
				t.Errorf("ReadRecordAt(%s) read at %q, want %q", format, at, want)
			}
			sums = append(sums, sha(t, out))
		}
		if sums[0] != sums[1] {
			t.Fatalf("%s: two builds differ: %s vs %s", format, sums[0], sums[1])
		}
		got[format] = sums[0]
	}
	text := "raw " + got["raw"] + "\nqcow2 " + got["qcow2"] + "\n"
	golden := filepath.Join("testdata", "golden.txt")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != text {
		t.Fatalf("disk digests changed (a writer, mkfs.erofs or qemu-img changed; rerun with -update if intended):\ngot\n%swant\n%s", text, want)
	}
}

// TestBuildBadInput: each bad input is a one-line error and leaves nothing at the path.
func TestBuildBadInput(t *testing.T) {
	needTools(t)
	cases := []struct {
		name, want string
		edit       func(dir string, o *Options)
	}{
		{"no kernel", "the base has no kernel", func(dir string, o *Options) { os.RemoveAll(filepath.Join(dir, "boot")) }},
		{"size too small", "too small", func(dir string, o *Options) { o.Size = 8 * mib }},
		{"no busybox", "busybox-static", func(dir string, o *Options) { os.Remove(filepath.Join(dir, "usr/bin/busybox")) }},
		{"no boot loader", "systemd-boot-efi", func(dir string, o *Options) {
			os.Remove(filepath.Join(dir, "usr/lib/systemd/boot/efi/systemd-bootx64.efi"))
		}},
		{"missing module", "has no module erofs", func(dir string, o *Options) {
			p := filepath.Join(dir, "usr/lib/modules/6.1.0-10-amd64/modules.dep")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "kernel/fs/erofs/erofs.ko:\n", "")), 0o644)
		}},
		{"unknown user", "not in the image's /etc/passwd", func(dir string, o *Options) { o.Runtime.User = "nobody-here" }},
		{"no entrypoint", "no entrypoint", func(dir string, o *Options) { o.Runtime.Entrypoint = nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree := filepath.Join(t.TempDir(), "tree")
			fakeTree(t, tree, false)
			o := testOptions("qcow2")
			c.edit(tree, &o)
			outDir := t.TempDir()
			out := filepath.Join(outDir, "disk.qcow2")
			_, err := Build(context.Background(), tree, out, o)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line containing %q", err, c.want)
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Fatalf("left %s behind", ents[0].Name())
			}
		})
	}
}
