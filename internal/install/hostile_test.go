package install_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/zstd"

	"github.com/reprobuild/reprobuild/internal/install"
)

// rawMember is a tar member written verbatim, however unsafe: pkgmaker refuses to make
// such archives, so the hostile corpus is written by hand.
type rawMember struct {
	name     string
	typ      byte
	mode     int64
	data     []byte
	linkname string
}

const rawIndex = `{"name": "evil", "version": "1", "build": "0", "build_number": 0, "subdir": "linux-64"}`

func rawTar(t testing.TB, ms []rawMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := m.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: m.name, Typeflag: typ, Mode: mode, Linkname: m.linkname, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(m.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeRaw writes an archive holding info/index.json (unless noIndex) and payload, in
// the format of ext, and returns its path.
func writeRaw(t testing.TB, dir, ext string, payload []rawMember, noIndex bool) string {
	t.Helper()
	var info []rawMember
	if !noIndex {
		info = append(info, rawMember{name: "info/index.json", data: []byte(rawIndex)})
	}
	return writeRawInfo(t, dir, ext, info, payload)
}

// writeRawInfo writes an archive holding the info members and payload verbatim.
func writeRawInfo(t testing.TB, dir, ext string, info, payload []rawMember) string {
	t.Helper()
	file := filepath.Join(dir, "evil-1-0"+ext)
	var out bytes.Buffer
	switch ext {
	case ".tar.bz2":
		bw, err := bzip2.NewWriter(&out, &bzip2.WriterConfig{Level: 1})
		if err != nil {
			t.Fatal(err)
		}
		bw.Write(rawTar(t, append(info, payload...)))
		if err := bw.Close(); err != nil {
			t.Fatal(err)
		}
	case ".conda":
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(&out)
		for _, part := range []struct {
			name string
			ms   []rawMember
		}{{"info-evil-1-0.tar.zst", info}, {"pkg-evil-1-0.tar.zst", payload}} {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: part.name, Method: zip.Store})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(enc.EncodeAll(rawTar(t, part.ms), nil))
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestHostileArchives(t *testing.T) {
	var (
		pathEscape *install.PathEscapeError
		unsafe     *install.UnsafeEntryError
		tooBig     *install.SizeLimitError
		malformed  *install.MalformedPackageError
	)
	var many []rawMember
	for i := range 5000 {
		many = append(many, rawMember{name: "f/" + strconv.Itoa(i)})
	}
	tests := []struct {
		name    string
		payload []rawMember
		noIndex bool
		want    any
	}{
		{"traversal", []rawMember{{name: "../evil", data: []byte("x")}}, false, &pathEscape},
		{"nested traversal", []rawMember{{name: "lib/../../evil", data: []byte("x")}}, false, &pathEscape},
		{"absolute path", []rawMember{{name: "/etc/evil", data: []byte("x")}}, false, &pathEscape},
		{"symlink escape", []rawMember{{name: "lib/evil", typ: tar.TypeSymlink, linkname: "../../../etc/passwd"}}, false, &pathEscape},
		{"absolute symlink", []rawMember{{name: "lib/evil", typ: tar.TypeSymlink, linkname: "/etc/passwd"}}, false, &pathEscape},
		{"symlink escape through another symlink", []rawMember{
			{name: "a", typ: tar.TypeSymlink, linkname: "."},
			{name: "b", typ: tar.TypeSymlink, linkname: "a/.."},
		}, false, &pathEscape},
		{"symlink loop", []rawMember{
			{name: "a", typ: tar.TypeSymlink, linkname: "b/x"},
			{name: "b", typ: tar.TypeSymlink, linkname: "a/y"},
		}, false, &pathEscape},
		{"hardlink escape", []rawMember{{name: "lib/h", typ: tar.TypeLink, linkname: "../../etc/passwd"}}, false, &pathEscape},
		{"hardlink to nothing", []rawMember{{name: "lib/h", typ: tar.TypeLink, linkname: "lib/missing"}}, false, &unsafe},
		{"char device", []rawMember{{name: "dev/null", typ: tar.TypeChar}}, false, &unsafe},
		{"block device", []rawMember{{name: "dev/sda", typ: tar.TypeBlock}}, false, &unsafe},
		{"fifo", []rawMember{{name: "run/fifo", typ: tar.TypeFifo}}, false, &unsafe},
		{"directory overwritten by file", []rawMember{{name: "lib/", typ: tar.TypeDir, mode: 0o755}, {name: "lib", data: []byte("x")}}, false, &unsafe},
		{"file under a file", []rawMember{{name: "lib", data: []byte("x")}, {name: "lib/x", data: []byte("y")}}, false, &unsafe},
		{"file through a symlink", []rawMember{{name: "lib", typ: tar.TypeSymlink, linkname: "sub"}, {name: "lib/x", data: []byte("y")}}, false, &unsafe},
		{"same path twice", []rawMember{{name: "a", data: []byte("x")}, {name: "./a", data: []byte("y")}}, false, &unsafe},
		{"bomb", []rawMember{{name: "zeros", data: make([]byte, 16<<20)}}, false, &tooBig},
		{"entry bomb", many, false, &tooBig},
		{"no index.json", []rawMember{{name: "a", data: []byte("x")}}, true, &malformed},
	}
	for _, ext := range []string{".tar.bz2", ".conda"} {
		for _, tt := range tests {
			t.Run(ext+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				file := writeRaw(t, dir, ext, tt.payload, tt.noIndex)
				before := listDir(t, dir)
				tr, err := install.Link(context.Background(), install.Package{Archive: file}, install.Options{MaxUnpackedSize: 1 << 20})
				if err == nil {
					t.Fatalf("hostile archive accepted: %d entries", len(tr.Entries))
				}
				if !errors.As(err, tt.want) {
					t.Fatalf("err = %T %v, want %T", err, err, tt.want)
				}
				if !bytes.Contains([]byte(err.Error()), []byte("evil-1-0"+ext)) {
					t.Errorf("error does not name the package: %v", err)
				}
				if after := listDir(t, dir); !equalStrings(before, after) {
					t.Errorf("Link wrote files: %v -> %v", before, after)
				}
			})
		}
	}
}

func TestGarbageArchive(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("not a package at all"), []byte("PK\x03\x04 truncated"), []byte("BZh9 truncated")} {
		file := filepath.Join(t.TempDir(), "garbage.conda")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := install.Link(context.Background(), install.Package{Archive: file}, install.Options{})
		var m *install.MalformedPackageError
		if !errors.As(err, &m) {
			t.Errorf("%q: err = %v, want *MalformedPackageError", data, err)
		}
	}
}

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(filepath.Dir(dir), func(p string, _ os.FileInfo, err error) error {
		out = append(out, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHasPrefixOnly covers packages older than paths.json, whose placeholders are listed
// in info/has_prefix: a bare path means the default placeholder in text mode, and a
// placeholder may be quoted.
func TestHasPrefixOnly(t *testing.T) {
	const quoted = "/build env/placeholder_placeholder"
	payload := []rawMember{
		{name: "info/has_prefix", data: []byte("etc/default.conf\n\"" + quoted + "\" text etc/quoted.conf\n" + install.DefaultPlaceholder + " binary lib/libx.so\n")},
		{name: "etc/default.conf", data: []byte("root=" + install.DefaultPlaceholder + "\n")},
		{name: "etc/quoted.conf", data: []byte("root=" + quoted + "\n")},
		{name: "lib/libx.so", data: []byte("\x00" + install.DefaultPlaceholder + "/lib\x00")},
	}
	file := writeRaw(t, t.TempDir(), ".tar.bz2", payload, false)
	tr, err := install.Link(context.Background(), install.Package{Archive: file}, install.Options{Prefix: "/env", PythonVersion: "3.11.5"})
	if err != nil {
		t.Fatal(err)
	}
	es := entryMap(tr)
	want := map[string]string{
		"env/etc/default.conf": "root=/env\n",
		"env/etc/quoted.conf":  "root=/env\n",
		"env/lib/libx.so":      "\x00/env/lib" + string(make([]byte, len(install.DefaultPlaceholder)-len("/env"))) + "\x00",
	}
	for p, w := range want {
		if got := string(es[p].Data); got != w {
			t.Errorf("%s = %q, want %q", p, got, w)
		}
	}
}

// TestDirectoryMembers checks that only empty stored directories are recorded as such in
// conda-meta; others are implied by their contents.
func TestDirectoryMembers(t *testing.T) {
	payload := []rawMember{
		{name: "share/", typ: tar.TypeDir, mode: 0o700},
		{name: "share/a", data: []byte("a")},
		{name: "var/empty/", typ: tar.TypeDir, mode: 0o700},
	}
	file := writeRaw(t, t.TempDir(), ".tar.bz2", payload, false)
	tr, err := install.Link(context.Background(), install.Package{Archive: file}, install.Options{})
	if err != nil {
		t.Fatal(err)
	}
	es := entryMap(tr)
	for _, p := range []string{"opt/env/share", "opt/env/var", "opt/env/var/empty"} {
		if e := es[p]; e.Type != install.TypeDir || e.Mode != 0o755 {
			t.Errorf("%s = %+v, want a 0755 directory", p, e)
		}
	}
	meta := string(es["opt/env/conda-meta/evil-1-0.json"].Data)
	if strings.Count(meta, `"path_type": "directory"`) != 1 || !strings.Contains(meta, `"_path": "var/empty"`) {
		t.Errorf("conda-meta should list exactly var/empty as a directory:\n%s", meta)
	}
}
