package install_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// FuzzLink feeds arbitrary bytes to the archive reader and linker: they must never panic
// and anything they accept must stay inside the prefix.
func FuzzLink(f *testing.F) {
	for _, name := range []string{
		"edge-cases/symlink-test-1.0.0-0.conda", "edge-cases/dotslash-test-1.0.0-0.conda",
		"synthetic-rattler/clobber-1-0.1.0-h4616a5c_0.tar.bz2", "synthetic-conda-tests/cph_test_data-0.0.1-0.tar.bz2",
	} {
		b, err := os.ReadFile(filepath.Join(pkgDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, fm := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		_, b, err := pkgmaker.Build(demoPackage(), fm)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "fuzz.pkg")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tr, err := install.Link(context.Background(), install.Package{Archive: file}, install.Options{PythonVersion: "3.11", MaxUnpackedSize: 64 << 20})
		if err != nil {
			return
		}
		for _, e := range tr.Entries {
			if e.Path != "opt" && e.Path != "opt/env" && !strings.HasPrefix(e.Path, "opt/env/") {
				t.Fatalf("accepted entry outside the prefix: %q", e.Path)
			}
			if e.Type == install.TypeSymlink && strings.HasPrefix(e.Linkname, "/") {
				t.Fatalf("accepted absolute symlink %q -> %q", e.Path, e.Linkname)
			}
		}
	})
}

// FuzzRoundTrip makes a package with pkgmaker from fuzzed names and contents, links it,
// and checks every file comes back byte for byte at its path, in both formats.
func FuzzRoundTrip(f *testing.F) {
	f.Add("bin/tool", []byte("#!/bin/sh\n"), "share/doc/readme.txt", []byte("hello"), true)
	f.Add("a", []byte{}, "b/c/d", []byte{0, 1, 2}, false)
	f.Fuzz(func(t *testing.T, p1 string, d1 []byte, p2 string, d2 []byte, exec bool) {
		mode := fs.FileMode(0o644)
		if exec {
			mode = 0o755
		}
		pkg := pkgmaker.Package{
			Record: conda.PackageRecord{Name: "fz", Version: "1", Build: "0", Subdir: "linux-64"},
			Files:  []pkgmaker.File{{Path: p1, Data: d1, Mode: mode}, {Path: p2, Data: d2}},
		}
		for _, fm := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
			dir := t.TempDir()
			rec, err := pkgmaker.Write(dir, pkg, fm)
			if err != nil {
				return // pkgmaker refused the description: nothing to round-trip
			}
			tr, err := install.Link(context.Background(), install.Package{Record: rec, Archive: filepath.Join(dir, rec.Fn)}, install.Options{})
			if err != nil {
				// Paths pkgmaker accepts but a tree cannot hold (one file under another).
				var ue *install.UnsafeEntryError
				if errors.As(err, &ue) && (strings.HasPrefix(p2, p1+"/") || strings.HasPrefix(p1, p2+"/")) {
					return
				}
				t.Fatalf("%s: linking a pkgmaker package: %v", fm.Ext(), err)
			}
			es := map[string]install.Entry{}
			for _, e := range tr.Entries {
				es[e.Path] = e
			}
			for _, fl := range pkg.Files {
				e, ok := es["opt/env/"+fl.Path]
				if !ok || e.Type != install.TypeFile || !bytes.Equal(e.Data, fl.Data) {
					t.Fatalf("%s: %q did not come back intact: %+v", fm.Ext(), fl.Path, e)
				}
			}
			if e := es["opt/env/"+p1]; e.Mode != mode {
				t.Fatalf("%s: mode %o, want %o", fm.Ext(), e.Mode, mode)
			}
		}
	})
}
