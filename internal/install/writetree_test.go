package install_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/install"
)

// diskEntry is what WriteTree left on disk for one path.
type diskEntry struct {
	Type     install.EntryType
	Mode     fs.FileMode
	Data     string
	Linkname string
}

func readDisk(t *testing.T, dir string) map[string]diskEntry {
	t.Helper()
	out := map[string]diskEntry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		var e diskEntry
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.Type, e.Mode = install.TypeSymlink, 0o777
			e.Linkname, err = os.Readlink(p)
		case info.IsDir():
			e.Type, e.Mode = install.TypeDir, info.Mode().Perm()
		default:
			e.Type, e.Mode = install.TypeFile, info.Mode().Perm()
			var b []byte
			b, err = os.ReadFile(p)
			e.Data = string(b)
		}
		out[filepath.ToSlash(rel)] = e
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteTreeReal(t *testing.T) {
	var ps []install.Package
	for _, m := range readManifest(t) {
		switch m.Path {
		case "real-world/mock-2.0.0-py37_1000.tar.bz2", "real-world/zlib-1.2.11-h7b6447c_3.tar.bz2",
			"synthetic-conda-tests/cph_test_data-0.0.1-0.tar.bz2", "edge-cases/symlink-test-1.0.0-0.conda",
			"synthetic-conda-tests/conda-index-pkg-a-1.0-pyhed9eced_1.tar.bz2", "synthetic-rattler/clobber-with-symlink-a-0.1.0-h4616a5c_0.conda":
			ps = append(ps, pkgOf(m))
		}
	}
	if len(ps) != 6 {
		t.Fatalf("found %d of the 6 packages", len(ps))
	}
	trees, _, err := install.LinkAll(context.Background(), ps, install.Options{PythonVersion: "3.11"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]diskEntry{}
	for _, tr := range trees {
		for _, e := range tr.Entries {
			de := diskEntry{Type: e.Type, Mode: e.Mode, Data: string(e.Data), Linkname: e.Linkname}
			if e.Type == install.TypeSymlink {
				de.Mode = 0o777
			}
			want[e.Path] = de
		}
	}
	// A restrictive umask must not change the modes written.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "root")
	for round := range 2 { // the second round writes over the first
		if err := install.WriteTree(dir, trees); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if d := cmp.Diff(want, readDisk(t, dir)); d != "" {
			t.Errorf("round %d: disk differs from the trees (-want +got):\n%s", round, d)
		}
	}
}

func TestWriteTreeHardlink(t *testing.T) {
	dir := t.TempDir()
	tree := &install.PackageTree{Entries: []install.Entry{
		{Path: "a", Type: install.TypeFile, Mode: 0o755, Data: []byte("data")},
		{Path: "b", Type: install.TypeHardlink, Linkname: "a"},
	}}
	if err := install.WriteTree(dir, []*install.PackageTree{tree}); err != nil {
		t.Fatal(err)
	}
	a, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.Stat(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(a, b) {
		t.Error("b is not a hardlink of a")
	}
}

func TestWriteTreeHostile(t *testing.T) {
	file := func(p string) install.Entry {
		return install.Entry{Path: p, Type: install.TypeFile, Mode: 0o644, Data: []byte("x")}
	}
	link := func(p, target string) install.Entry {
		return install.Entry{Path: p, Type: install.TypeSymlink, Mode: 0o777, Linkname: target}
	}
	var (
		pathEscape *install.PathEscapeError
		unsafe     *install.UnsafeEntryError
		conflict   *install.ConflictError
		anyErr     error
	)
	tests := []struct {
		name  string
		trees [][]install.Entry
		plant func(root, outside string) error
		want  any
	}{
		{"traversal", [][]install.Entry{{file("../outside/evil")}}, nil, &pathEscape},
		{"absolute", [][]install.Entry{{file("/tmp/evil")}}, nil, &pathEscape},
		{"unclean", [][]install.Entry{{file("a/./../../outside/evil")}}, nil, &pathEscape},
		{"symlink escape then write through it", [][]install.Entry{{link("a", "../outside"), file("a/evil")}}, nil, &pathEscape},
		{"symlink escape via another symlink", [][]install.Entry{{link("a", "."), link("b", "a/.."), file("b/outside/evil")}}, nil, &pathEscape},
		{"write through an inside symlink", [][]install.Entry{{link("lib", "sub"), {Path: "sub", Type: install.TypeDir, Mode: 0o755}, file("lib/x")}}, nil, &unsafe},
		{"hardlink to outside", [][]install.Entry{{{Path: "h", Type: install.TypeHardlink, Linkname: "../outside/x"}}}, nil, &unsafe},
		{"directory versus file across trees", [][]install.Entry{{{Path: "a", Type: install.TypeDir, Mode: 0o755}}, {file("a")}}, nil, &conflict},
		{"planted symlink in the target dir", [][]install.Entry{{file("opt/env/evil")}},
			func(root, outside string) error { return os.Symlink(outside, filepath.Join(root, "opt")) }, &anyErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
			for _, d := range []string{root, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tt.plant != nil {
				if err := tt.plant(root, outside); err != nil {
					t.Fatal(err)
				}
			}
			var trees []*install.PackageTree
			for _, es := range tt.trees {
				trees = append(trees, &install.PackageTree{Entries: es})
			}
			err := install.WriteTree(root, trees)
			if err == nil {
				t.Fatal("hostile tree written")
			}
			if _, isAny := tt.want.(*error); !isAny && !errors.As(err, tt.want) {
				t.Fatalf("err = %T %v, want %T", err, err, tt.want)
			}
			t.Logf("refused: %v", err)
			left, err := os.ReadDir(outside)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 0 {
				t.Errorf("WriteTree wrote outside its directory: %v", left)
			}
			if _, err := os.Lstat(filepath.Join(base, "evil")); err == nil {
				t.Error("WriteTree wrote beside its directory")
			}
		})
	}
}
