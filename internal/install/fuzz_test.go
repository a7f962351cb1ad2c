package install_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
