package examples

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

var update = flag.Bool("update", false, "regenerate the committed example channel")

// realPackages are copied verbatim from testdata/conda/packages (sources and licences in
// testdata/conda/README.txt and examples/channel/SOURCES.md).
var realPackages = []string{
	"real-world/_r-mutex-1.0.1-anacondar_1.tar.bz2",
	"synthetic-conda-tests/small-executable-1.0-0.conda",
	"synthetic-conda-tests/sample_noarch_python-1.0-py_0.conda",
	"synthetic-conda-tests/conda-index-pkg-a-1.0-pyhed9eced_1.tar.bz2",
	"synthetic-rattler/test-package-0.1-0.tar.bz2",
}

// platforms get a (possibly empty) repodata.json so recipes can target them.
var platforms = []string{"linux-64", "linux-aarch64"}

// generated are packages made by our own pkgmaker, so the examples exercise prefix
// replacement, noarch python entry points and executables we can run in an image.
func generated() []pkgmaker.Package {
	const ph = "/opt/anaconda1anaconda2anaconda3"
	return []pkgmaker.Package{
		{
			Record: conda.PackageRecord{
				Name: "hello-reprobuild", Version: "1.0.0", Build: "h0_0", Noarch: "generic",
				License: "MIT", Timestamp: 1767225600000, // 2026-01-01
			},
			Files: []pkgmaker.File{
				{
					Path:        "bin/hello-reprobuild",
					Mode:        0o755,
					Data:        []byte("#!/bin/sh\n# Prints the prefix it was installed into (a text placeholder).\necho \"hello from reprobuild, installed in " + ph + "\"\n"),
					Placeholder: ph,
				},
				{
					Path:        "share/hello-reprobuild/prefix.txt",
					Data:        []byte(ph + "\n"),
					Placeholder: ph,
				},
			},
		},
		{
			Record: conda.PackageRecord{
				Name: "hello-py", Version: "0.2.0", Build: "pyh0_0", Noarch: "python",
				Depends: []string{"python >=3.8"}, License: "MIT", Timestamp: 1767225600000,
			},
			Files: []pkgmaker.File{
				{
					Path: "site-packages/hello_py/__init__.py",
					Data: []byte("import sys\n\n\ndef main():\n    print(\"hello-py 0.2.0 on python %d.%d\" % sys.version_info[:2])\n    return 0\n"),
				},
			},
			EntryPoints: []string{"hello-py = hello_py:main"},
		},
	}
}

// buildChannel writes the example channel into dir.
func buildChannel(t *testing.T, dir string) {
	t.Helper()
	subdirs := map[string]map[string]map[string]any{} // subdir -> key -> fn -> entry
	add := func(rec conda.PackageRecord) {
		if subdirs[rec.Subdir] == nil {
			subdirs[rec.Subdir] = map[string]map[string]any{"packages": {}, "packages.conda": {}}
		}
		key := "packages"
		if strings.HasSuffix(rec.Fn, ".conda") {
			key = "packages.conda"
		}
		subdirs[rec.Subdir][key][rec.Fn] = pkgmaker.RepodataEntry(rec)
	}
	for _, p := range generated() {
		rec, err := pkgmaker.Write(filepath.Join(dir, "noarch"), p, pkgmaker.Conda)
		if err != nil {
			t.Fatal(err)
		}
		add(rec)
	}
	var manifest []struct {
		Path  string         `json:"path"`
		Index map[string]any `json:"index"`
	}
	raw, err := os.ReadFile("../testdata/conda/packages/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	for _, rel := range realPackages {
		i := slices.IndexFunc(manifest, func(m struct {
			Path  string         `json:"path"`
			Index map[string]any `json:"index"`
		}) bool {
			return m.Path == rel
		})
		if i < 0 {
			t.Fatalf("%s is not in the manifest", rel)
		}
		data, err := os.ReadFile(filepath.Join("../testdata/conda/packages", rel))
		if err != nil {
			t.Fatal(err)
		}
		idx := manifest[i].Index
		rec := conda.PackageRecord{
			Name: idx["name"].(string), Version: idx["version"].(string), Build: idx["build"].(string),
			BuildNumber: int64(idx["build_number"].(float64)), Subdir: idx["subdir"].(string),
			Fn: filepath.Base(rel), Size: int64(len(data)),
		}
		if s, ok := idx["noarch"].(string); ok {
			rec.Noarch = s
		}
		if s, ok := idx["license"].(string); ok {
			rec.License = s
		}
		if s, ok := idx["license_family"].(string); ok {
			rec.LicenseFamily = s
		}
		for _, d := range idx["depends"].([]any) {
			rec.Depends = append(rec.Depends, d.(string))
		}
		s := sha256.Sum256(data)
		m := md5.Sum(data)
		rec.SHA256, rec.MD5 = hex.EncodeToString(s[:]), hex.EncodeToString(m[:])
		if err := os.MkdirAll(filepath.Join(dir, rec.Subdir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rec.Subdir, rec.Fn), data, 0o644); err != nil {
			t.Fatal(err)
		}
		add(rec)
	}
	for _, p := range platforms {
		if subdirs[p] == nil {
			subdirs[p] = map[string]map[string]any{"packages": {}, "packages.conda": {}}
		}
	}
	for sd, keys := range subdirs {
		doc := map[string]any{
			"info":             map[string]any{"subdir": sd},
			"packages":         keys["packages"],
			"packages.conda":   keys["packages.conda"],
			"removed":          []string{},
			"repodata_version": 1,
		}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, sd), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, sd, "repodata.json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExampleChannel proves the committed channel is exactly what the generator makes
// (so its bytes are reproducible), or rewrites it with -update.
func TestExampleChannel(t *testing.T) {
	committed := "channel"
	fresh := t.TempDir()
	buildChannel(t, fresh)
	if *update {
		for _, sd := range []string{"noarch", "linux-64", "linux-aarch64"} {
			if err := os.RemoveAll(filepath.Join(committed, sd)); err != nil {
				t.Fatal(err)
			}
		}
		buildChannel(t, committed)
		return
	}
	want := listFiles(t, fresh)
	got := listFiles(t, committed)
	if !slices.Equal(want, got) {
		t.Fatalf("examples/channel files differ from the generator's:\n got  %v\n want %v\nrun: go test ./examples -run TestExampleChannel -update", got, want)
	}
	for _, f := range want {
		a, _ := os.ReadFile(filepath.Join(fresh, f))
		b, _ := os.ReadFile(filepath.Join(committed, f))
		if !bytes.Equal(a, b) {
			t.Errorf("examples/channel/%s differs from the generator's output; run: go test ./examples -run TestExampleChannel -update", f)
		}
	}
}

func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if filepath.ToSlash(rel) == "SOURCES.md" {
			return nil
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
