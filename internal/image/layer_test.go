package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/reprobuild/reprobuild/internal/install"
)

// hdr is the part of a tar header a layer promises to control.
type hdr struct {
	Name     string
	Type     byte
	Mode     int64
	Size     int64
	Link     string
	UID, GID int
	Uname    string
	Gname    string
	ModTime  int64
	Format   tar.Format
	PAX      int
	Data     string
}

func readLayer(t *testing.T, l v1.Layer) []hdr {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []hdr
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hdr{Name: h.Name, Type: h.Typeflag, Mode: h.Mode, Size: h.Size, Link: h.Linkname,
			UID: h.Uid, GID: h.Gid, Uname: h.Uname, Gname: h.Gname, ModTime: h.ModTime.Unix(),
			Format: h.Format, PAX: len(h.PAXRecords), Data: string(data)})
	}
	return out
}

func file(p string, mode fs.FileMode, data string) install.Entry {
	return install.Entry{Path: p, Type: install.TypeFile, Mode: mode, Data: []byte(data)}
}

func TestLayerFromEntriesHeaders(t *testing.T) {
	epoch := time.Date(2026, 1, 2, 3, 4, 5, 999, time.FixedZone("X", 5*3600))
	longName := "opt/env/" + strings.Repeat("d", 120) + "/f"
	tests := []struct {
		name    string
		entries []install.Entry
		opts    LayerOptions
		want    []hdr
	}{{
		name: "parents added, sorted, modes normalised",
		entries: []install.Entry{
			file("opt/env/bin/python", 0o755, "py"),
			{Path: "opt/env/lib/libz.so", Type: install.TypeSymlink, Linkname: "libz.so.1", Mode: 0o644},
			file("opt/env/lib/libz.so.1", 0, "z"),
			{Path: "opt/env/share", Type: install.TypeDir, Mode: 0o700},
			file("opt/env/bin/su", 0o755|fs.ModeSetuid, ""),
		},
		opts: LayerOptions{Epoch: epoch},
		want: []hdr{
			{Name: "opt/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "opt/env/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "opt/env/bin/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "opt/env/bin/python", Type: tar.TypeReg, Mode: 0o755, Size: 2, Data: "py"},
			{Name: "opt/env/bin/su", Type: tar.TypeReg, Mode: 0o4755},
			{Name: "opt/env/lib/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "opt/env/lib/libz.so", Type: tar.TypeSymlink, Mode: 0o777, Link: "libz.so.1"},
			{Name: "opt/env/lib/libz.so.1", Type: tar.TypeReg, Mode: 0o644, Size: 1, Data: "z"},
			{Name: "opt/env/share/", Type: tar.TypeDir, Mode: 0o700},
		},
	}, {
		name: "hardlinks point at the smallest path whichever was declared",
		entries: []install.Entry{
			file("b/orig", 0o755, "same"),
			{Path: "a/link", Type: install.TypeHardlink, Linkname: "b/orig"},
			{Path: "c/link2", Type: install.TypeHardlink, Linkname: "a/link"},
		},
		opts: LayerOptions{UID: 1000, GID: 100},
		want: []hdr{
			{Name: "a/", Type: tar.TypeDir, Mode: 0o755, UID: 1000, GID: 100},
			{Name: "a/link", Type: tar.TypeReg, Mode: 0o755, Size: 4, Data: "same", UID: 1000, GID: 100},
			{Name: "b/", Type: tar.TypeDir, Mode: 0o755, UID: 1000, GID: 100},
			{Name: "b/orig", Type: tar.TypeLink, Mode: 0o755, Link: "a/link", UID: 1000, GID: 100},
			{Name: "c/", Type: tar.TypeDir, Mode: 0o755, UID: 1000, GID: 100},
			{Name: "c/link2", Type: tar.TypeLink, Mode: 0o755, Link: "a/link", UID: 1000, GID: 100},
		},
	}, {
		// The 121-byte directory name has no USTAR prefix split; the file does.
		name:    "PAX only where USTAR cannot hold the name",
		entries: []install.Entry{file(longName, 0o644, "x")},
		want: func() []hdr {
			var h []hdr
			parts := strings.Split(longName, "/")
			for i := 1; i < len(parts); i++ {
				h = append(h, hdr{Name: strings.Join(parts[:i], "/") + "/", Type: tar.TypeDir, Mode: 0o755})
			}
			h[len(h)-1].Format, h[len(h)-1].PAX = tar.FormatPAX, 1
			return append(h, hdr{Name: longName, Type: tar.TypeReg, Mode: 0o644, Size: 1, Data: "x"})
		}(),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := LayerFromEntries(tt.entries, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := readLayer(t, l)
			mtime := tt.opts.mtime().Unix()
			for i := range tt.want {
				tt.want[i].ModTime = mtime
				if tt.want[i].Format == 0 {
					tt.want[i].Format = tar.FormatUSTAR
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			checkLayerDigests(t, l)
		})
	}
}

// checkLayerDigests recomputes digest, diff ID and size from the bytes.
func checkLayerDigests(t *testing.T, l v1.Layer) {
	t.Helper()
	rc, _ := l.Compressed()
	z, _ := io.ReadAll(rc)
	rc, _ = l.Uncompressed()
	u, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	id, _ := l.DiffID()
	size, _ := l.Size()
	mt, _ := l.MediaType()
	if got := sha(z); d.String() != got {
		t.Errorf("Digest() = %s, bytes hash to %s", d, got)
	}
	if got := sha(u); id.String() != got {
		t.Errorf("DiffID() = %s, bytes hash to %s", id, got)
	}
	if size != int64(len(z)) {
		t.Errorf("Size() = %d, compressed is %d bytes", size, len(z))
	}
	if mt != types.OCILayer {
		t.Errorf("MediaType() = %s, want %s", mt, types.OCILayer)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestLayerFromEntriesErrors(t *testing.T) {
	tests := []struct {
		name    string
		entries []install.Entry
		want    string
	}{
		{"absolute", []install.Entry{file("/etc/x", 0o644, "")}, "relative"},
		{"dotdot", []install.Entry{file("a/../../x", 0o644, "")}, "not clean"},
		{"leading dotdot", []install.Entry{file("../x", 0o644, "")}, "not clean"},
		{"trailing slash", []install.Entry{file("a/", 0o644, "")}, "not clean"},
		{"empty", []install.Entry{file("", 0o644, "")}, "empty path"},
		{"duplicate", []install.Entry{file("a", 0o644, "1"), file("a", 0o644, "2")}, "twice"},
		{"dangling hardlink", []install.Entry{{Path: "a", Type: install.TypeHardlink, Linkname: "b"}}, "not in the same layer"},
		{"hardlink to dir", []install.Entry{{Path: "d", Type: install.TypeDir}, {Path: "a", Type: install.TypeHardlink, Linkname: "d"}}, "not a regular file"},
		{"hardlink loop", []install.Entry{{Path: "a", Type: install.TypeHardlink, Linkname: "b"}, {Path: "b", Type: install.TypeHardlink, Linkname: "a"}}, "not a regular file"},
		{"empty symlink", []install.Entry{{Path: "a", Type: install.TypeSymlink}}, "empty target"},
		{"parent is a file", []install.Entry{file("a", 0o644, ""), file("a/b", 0o644, "")}, "not a directory"},
		{"bad type", []install.Entry{{Path: "a", Type: 9}}, "unknown entry type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LayerFromEntries(tt.entries, LayerOptions{})
			var ee *EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want *EntryError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

// sampleEntries is a small environment-like tree used by the determinism tests.
func sampleEntries() []install.Entry {
	return []install.Entry{
		{Path: "opt/env", Type: install.TypeDir, Mode: 0o755},
		file("opt/env/bin/python3.11", 0o755, "#!/bin/false\n"),
		{Path: "opt/env/bin/python", Type: install.TypeSymlink, Linkname: "python3.11"},
		file("opt/env/lib/python3.11/os.py", 0o644, strings.Repeat("import sys\n", 200)),
		{Path: "opt/env/lib/python3.11/os2.py", Type: install.TypeHardlink, Linkname: "opt/env/lib/python3.11/os.py"},
		file("opt/env/conda-meta/python-3.11.9-h0_0.json", 0o644, `{"name":"python","version":"3.11.9"}`),
		file("opt/env/share/ünïcode-名前.txt", 0o644, "utf-8 name"),
	}
}

func TestLayerDeterministicUnderShuffle(t *testing.T) {
	entries := sampleEntries()
	ref, err := LayerFromEntries(entries, LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ref.Digest()
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		shuffled := append([]install.Entry(nil), entries...)
		r.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		l, err := LayerFromEntries(shuffled, LayerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := l.Digest(); got != want {
			t.Fatalf("shuffle %d: digest %s, want %s", i, got, want)
		}
	}
	// The options do shape the bytes: a different epoch must give a different digest.
	l, _ := LayerFromEntries(entries, LayerOptions{Epoch: time.Unix(1700000000, 0)})
	if got, _ := l.Digest(); got == want {
		t.Errorf("epoch change left the digest at %s", got)
	}
}

func TestDataLayer(t *testing.T) {
	l, err := DataLayer("data/ref/genome.fa", bytes.NewReader([]byte(">chr1\nACGT\n")), LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []hdr{
		{Name: "data/", Type: tar.TypeDir, Mode: 0o755, Format: tar.FormatUSTAR},
		{Name: "data/ref/", Type: tar.TypeDir, Mode: 0o755, Format: tar.FormatUSTAR},
		{Name: "data/ref/genome.fa", Type: tar.TypeReg, Mode: 0o644, Size: 11, Data: ">chr1\nACGT\n", Format: tar.FormatUSTAR},
	}
	if diff := cmp.Diff(want, readLayer(t, l)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := DataLayer("/abs", bytes.NewReader(nil), LayerOptions{}); err == nil {
		t.Error("absolute in-image path accepted")
	}
}

// FuzzLayerFromEntries checks that arbitrary paths and types never panic, and that an
// accepted set reads back as a sorted tar with every declared path.
func FuzzLayerFromEntries(f *testing.F) {
	f.Add("a/b", "a/c", uint8(0), uint8(2), "a/b")
	f.Add("x", "x/y", uint8(1), uint8(3), "x")
	f.Add("../a", "b//c", uint8(0), uint8(0), "")
	f.Fuzz(func(t *testing.T, p1, p2 string, t1, t2 uint8, link string) {
		entries := []install.Entry{
			{Path: p1, Type: install.EntryType(t1 % 5), Mode: 0o644, Data: []byte(p1), Linkname: link},
			{Path: p2, Type: install.EntryType(t2 % 5), Mode: 0o755, Data: []byte(p2), Linkname: link},
		}
		l, err := LayerFromEntries(entries, LayerOptions{})
		if err != nil {
			return
		}
		hs := readLayer(t, l)
		names := map[string]bool{}
		for i, h := range hs {
			n := strings.TrimSuffix(h.Name, "/")
			names[n] = true
			if i > 0 && strings.TrimSuffix(hs[i-1].Name, "/") >= n {
				t.Fatalf("entries out of order: %q then %q", hs[i-1].Name, h.Name)
			}
		}
		for _, e := range entries {
			if !names[e.Path] {
				t.Fatalf("path %q missing from layer", e.Path)
			}
		}
	})
}

func TestDataLayerFromFile(t *testing.T) {
	content := strings.Repeat("ACGT", 50000)
	host := filepath.Join(t.TempDir(), "genome.fa")
	if err := os.WriteFile(host, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	o := LayerOptions{Epoch: time.Unix(1700000000, 0), UID: 1}
	streamed, err := DataLayerFromFile("data/genome.fa", host, o)
	if err != nil {
		t.Fatal(err)
	}
	inMemory, err := DataLayer("data/genome.fa", strings.NewReader(content), o)
	if err != nil {
		t.Fatal(err)
	}
	// Same bytes either way, whatever the host file's own mode.
	for _, f := range []func(v1.Layer) (v1.Hash, error){v1.Layer.Digest, v1.Layer.DiffID} {
		a, _ := f(streamed)
		b, _ := f(inMemory)
		if a != b {
			t.Errorf("streamed %s, in memory %s", a, b)
		}
	}
	checkLayerDigests(t, streamed)
	img, err := Assemble(nil, []v1.Layer{streamed}, testConfig(amd64))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("image with a streamed layer: %v", err)
	}

	// A file changed after the layer was planned is caught on read.
	if err := os.WriteFile(host, []byte(strings.Repeat("TTTT", 50000)), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, _ := streamed.Compressed()
	if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("changed file: err = %v, want a digest mismatch", err)
	}
	if err := os.WriteFile(host, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, _ = streamed.Uncompressed()
	if _, err := io.ReadAll(rc); err == nil {
		t.Error("truncated file read without error")
	}
	// Stopping early must not leak the writer: Close ends it.
	rc, _ = streamed.Compressed()
	rc.Close()

	if _, err := DataLayerFromFile("data/x", t.TempDir(), o); err == nil {
		t.Error("a directory accepted as a data file")
	}
	if _, err := DataLayerFromFile("/abs", host, o); err == nil {
		t.Error("absolute in-image path accepted")
	}
}
