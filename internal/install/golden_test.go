package install_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestCondaMetaGolden pins the exact bytes of a conda-meta record (key order, fields,
// entry point paths) for a real noarch python package; -update rewrites it.
func TestCondaMetaGolden(t *testing.T) {
	pkg := install.Package{
		Record: conda.PackageRecord{
			Name: "conda-index-pkg-a", Version: "1.0", Build: "pyhed9eced_1", BuildNumber: 1, Subdir: "noarch",
			Depends: []string{"python"}, Fn: "conda-index-pkg-a-1.0-pyhed9eced_1.tar.bz2",
			URL:     "https://example.invalid/noarch/conda-index-pkg-a-1.0-pyhed9eced_1.tar.bz2",
			Channel: "https://example.invalid", SHA256: "0000000000000000000000000000000000000000000000000000000000000000", Size: 7882,
		},
		Archive: filepath.Join(pkgDir, "synthetic-conda-tests/conda-index-pkg-a-1.0-pyhed9eced_1.tar.bz2"),
	}
	tr, err := install.Link(context.Background(), pkg, install.Options{PythonVersion: "3.11"})
	if err != nil {
		t.Fatal(err)
	}
	got := entryMap(tr)["opt/env/conda-meta/conda-index-pkg-a-1.0-pyhed9eced_1.json"].Data
	golden := filepath.Join("testdata", "conda-meta-conda-index-pkg-a.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestCondaMetaGolden -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("conda-meta differs from %s (-want +got):\n%s", golden, d)
	}
}
