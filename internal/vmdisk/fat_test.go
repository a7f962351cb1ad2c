package vmdisk

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testFiles() []fatFile {
	big := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	return []fatFile{
		{Path: "EFI/BOOT/BOOTX64.EFI", Data: []byte("MZ loader")},
		{Path: "loader/loader.conf", Data: []byte("timeout 0\n")},
		{Path: "loader/entries/reprobuild.conf", Data: []byte("title x\n")},
		{Path: "loader/entries/another-long-name.conf", Data: []byte("title y\n")},
		{Path: "vmlinuz", Data: big},
		{Path: "empty", Data: nil},
		{Path: "reprobuild/runtime.json", Data: []byte("{}")},
	}
}

func TestFAT32RoundTrip(t *testing.T) {
	epoch := time.Unix(1700000000, 0)
	img, err := writeFAT32(64*mib/sectorSize, 2048, 0x12345678, "REPROBUILD", epoch, testFiles())
	if err != nil {
		t.Fatal(err)
	}
	again, err := writeFAT32(64*mib/sectorSize, 2048, 0x12345678, "REPROBUILD", epoch, testFiles())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img, again) {
		t.Fatal("two writes of the same files differ")
	}
	for _, f := range testFiles() {
		got, err := readFATFile(bytes.NewReader(img), strings.ToUpper(f.Path))
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if !bytes.Equal(got, f.Data) {
			t.Fatalf("%s: read %d bytes, wrote %d", f.Path, len(got), len(f.Data))
		}
	}
	if _, err := readFATFile(bytes.NewReader(img), "nope"); err == nil {
		t.Fatal("reading a missing file succeeded")
	}
	// An independent checker: dosfstools' fsck.fat, and mtools listing the long names.
	p := filepath.Join(t.TempDir(), "esp.img")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if fsck, err := exec.LookPath("fsck.fat"); err == nil {
		out, err := exec.Command(fsck, "-n", "-v", p).CombinedOutput()
		if err != nil {
			t.Fatalf("fsck.fat: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "FAT32") {
			t.Fatalf("fsck.fat does not see FAT32:\n%s", out)
		}
	}
	if mdir, err := exec.LookPath("mdir"); err == nil {
		out, err := exec.Command(mdir, "-i", p, "-/", "::").CombinedOutput()
		if err != nil {
			t.Fatalf("mdir: %v\n%s", err, out)
		}
		for _, want := range []string{"another-long-name.conf", "reprobuild.conf", "loader.conf", "BOOTX64"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("mdir does not list %s:\n%s", want, out)
			}
		}
	}
}
