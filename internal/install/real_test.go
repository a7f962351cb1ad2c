package install_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
)

const pkgDir = "../../testdata/conda/packages"

// manifestEntry is the part of testdata/conda/packages/manifest.json the tests use.
type manifestEntry struct {
	Path         string `json:"path"`
	File         string `json:"file"`
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	PayloadCount int    `json:"payload_count"`
	Index        struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Build   string `json:"build"`
		Noarch  any    `json:"noarch"`
		Subdir  string `json:"subdir"`
	} `json:"index"`
	Placeholders []struct {
		Path        string `json:"_path"`
		FileMode    string `json:"file_mode"`
		Placeholder string `json:"prefix_placeholder"`
	} `json:"paths_with_placeholder"`
	LinkJSON *struct {
		Noarch struct {
			EntryPoints []string `json:"entry_points"`
			Type        string   `json:"type"`
		} `json:"noarch"`
	} `json:"link_json"`
	PayloadSample []struct {
		Path string `json:"path"`
		Type string `json:"type"`
		Link string `json:"link"`
	} `json:"payload_sample"`
}

func readManifest(t testing.TB) []manifestEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pkgDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m []manifestEntry
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func pkgOf(m manifestEntry) install.Package {
	return install.Package{
		Record:  conda.PackageRecord{Name: m.Index.Name, Version: m.Index.Version, Build: m.Index.Build, Subdir: m.Index.Subdir, Fn: m.File, SHA256: m.SHA256, Size: m.Size},
		Archive: filepath.Join(pkgDir, m.Path),
	}
}

func entryMap(tr *install.PackageTree) map[string]install.Entry {
	out := map[string]install.Entry{}
	for _, e := range tr.Entries {
		out[e.Path] = e
	}
	return out
}

// refused lists the real packages Link must refuse, and why.
var refused = map[string]func(error) bool{
	// Zip members nested under Users/jcorreia/Downloads/...: not a valid .conda.
	"edge-cases/ca-certificates-2024.7.4-hbcca054_0.conda": func(err error) bool {
		var e *install.MalformedPackageError
		return errors.As(err, &e) && strings.Contains(err.Error(), "not at the top level")
	},
	// conda's test copy of zlib stores lib/libz.so and lib/libz.so.1 as symlinks with an
	// empty target, which no filesystem can hold.
	"real-world/zlib-1.2.11-h7b6447c_3.conda": func(err error) bool {
		var e *install.UnsafeEntryError
		return errors.As(err, &e) && strings.Contains(err.Error(), "empty target")
	},
}

// TestRealPackages links every real package of the test data and checks the result
// against the manifest that describes them.
func TestRealPackages(t *testing.T) {
	for _, m := range readManifest(t) {
		t.Run(m.Path, func(t *testing.T) {
			tr, err := install.Link(context.Background(), pkgOf(m), install.Options{PythonVersion: "3.11"})
			if check, ok := refused[m.Path]; ok {
				if err == nil || !check(err) {
					t.Fatalf("err = %v, want the documented refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			es := entryMap(tr)
			var files []string
			for _, e := range tr.Entries {
				if !strings.HasPrefix(e.Path, "opt/env/") && e.Path != "opt/env" && e.Path != "opt" {
					t.Errorf("entry %s outside the prefix", e.Path)
				}
				if e.Type == install.TypeDir && e.Mode != 0o755 {
					t.Errorf("dir %s mode %o", e.Path, e.Mode)
				}
				if e.Type == install.TypeFile && e.Mode != 0o644 && e.Mode != 0o755 {
					t.Errorf("file %s mode %o", e.Path, e.Mode)
				}
				if e.Type == install.TypeFile && !strings.HasPrefix(e.Path, "opt/env/conda-meta/") {
					files = append(files, e.Path)
				}
				if e.Type == install.TypeSymlink {
					files = append(files, e.Path)
				}
			}
			if !slices.IsSortedFunc(tr.Entries, func(a, b install.Entry) int { return strings.Compare(a.Path, b.Path) }) {
				t.Error("entries are not sorted by path")
			}
			eps := 0
			if m.LinkJSON != nil {
				eps = len(m.LinkJSON.Noarch.EntryPoints)
			}
			if len(files) != m.PayloadCount+eps {
				t.Errorf("%d files and symlinks, want payload %d + entry points %d", len(files), m.PayloadCount, eps)
			}
			noarchPy := m.Index.Noarch == "python"
			for _, s := range m.PayloadSample {
				p := s.Path
				if noarchPy {
					p = strings.Replace(p, "site-packages/", "lib/python3.11/site-packages/", 1)
					p = strings.Replace(p, "python-scripts/", "bin/", 1)
				}
				e, ok := es["opt/env/"+strings.TrimPrefix(p, "./")]
				if !ok {
					t.Errorf("payload %s not installed", s.Path)
					continue
				}
				if s.Type == "symlink" && (e.Type != install.TypeSymlink || e.Linkname != s.Link) {
					t.Errorf("%s: got type %d link %q, want symlink to %q", s.Path, e.Type, e.Linkname, s.Link)
				}
			}
			for _, ph := range m.Placeholders {
				e := es["opt/env/"+ph.Path]
				if bytes.Contains(e.Data, []byte(ph.Placeholder)) {
					t.Errorf("%s still holds placeholder %s", ph.Path, ph.Placeholder)
				}
				want := "/opt/env"
				if !bytes.Contains(e.Data, []byte(want)) {
					t.Errorf("%s does not mention the new prefix", ph.Path)
				}
			}
			if m.Index.Name != "" && (tr.Record.Name != m.Index.Name || tr.Record.Version != m.Index.Version || tr.Record.Build != m.Index.Build) {
				t.Errorf("record %s-%s-%s, manifest says %s-%s-%s", tr.Record.Name, tr.Record.Version, tr.Record.Build, m.Index.Name, m.Index.Version, m.Index.Build)
			}
			metaPath := "opt/env/conda-meta/" + tr.Record.Name + "-" + tr.Record.Version + "-" + tr.Record.Build + ".json"
			meta, ok := es[metaPath]
			if !ok {
				t.Fatalf("no %s", metaPath)
			}
			var rec map[string]any
			if err := json.Unmarshal(meta.Data, &rec); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"extracted_package_dir", "package_tarball_full_path"} {
				if _, ok := rec[k]; ok {
					t.Errorf("conda-meta has host field %s", k)
				}
			}
			if strings.Contains(string(meta.Data), "testdata") {
				t.Error("conda-meta mentions a host path")
			}
			if rec["name"] != tr.Record.Name || rec["sha256"] != m.SHA256 || rec["fn"] != m.File {
				t.Errorf("conda-meta name/sha256/fn = %v/%v/%v", rec["name"], rec["sha256"], rec["fn"])
			}
			if got := len(rec["files"].([]any)); got != len(files) {
				t.Errorf("conda-meta lists %d files, tree has %d", got, len(files))
			}
		})
	}
}

// TestFormatsAgree links the same build from its .conda and .tar.bz2 archives: the trees
// must be identical apart from the record of the archive itself.
func TestFormatsAgree(t *testing.T) {
	for _, tt := range []struct {
		stem string
		opts []cmp.Option
	}{
		{"real-world/mock-2.0.0-py37_1000", nil},
		// This .conda was repacked with every member 0666, so bin/ scripts lost their
		// exec bit (the .tar.bz2 has 0775): modes honestly differ, the rest must not.
		{"synthetic-conda-tests/conda-index-pkg-a-1.0-py27h5e241af_0", []cmp.Option{cmpopts.IgnoreFields(install.Entry{}, "Mode")}},
	} {
		stem := tt.stem
		t.Run(stem, func(t *testing.T) {
			var trees []*install.PackageTree
			for _, ext := range []string{".conda", ".tar.bz2"} {
				tr, err := install.Link(context.Background(), install.Package{Archive: filepath.Join(pkgDir, stem+ext)}, install.Options{})
				if err != nil {
					t.Fatal(err)
				}
				trees = append(trees, tr)
			}
			if d := cmp.Diff(trees[0].Entries, trees[1].Entries, tt.opts...); d != "" {
				t.Errorf(".conda and .tar.bz2 differ (-conda +tar.bz2):\n%s", d)
			}
		})
	}
}

func TestNoarchPython(t *testing.T) {
	pkg := install.Package{Archive: filepath.Join(pkgDir, "synthetic-conda-tests/conda-index-pkg-a-1.0-pyhed9eced_1.tar.bz2")}
	python := install.Package{
		Record:  conda.PackageRecord{Name: "python", Version: "3.99.99", Build: "0", Fn: "python-3.99.99-0.conda"},
		Archive: filepath.Join(pkgDir, "synthetic-conda-tests/python-3.99.99-0.conda"),
	}
	t.Run("no python known", func(t *testing.T) {
		_, err := install.Link(context.Background(), pkg, install.Options{})
		var pe *install.PythonVersionError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want *PythonVersionError", err)
		}
		_, _, err = install.LinkAll(context.Background(), []install.Package{pkg}, install.Options{})
		if !errors.As(err, &pe) {
			t.Fatalf("LinkAll err = %v, want *PythonVersionError", err)
		}
	})
	t.Run("python from the packages", func(t *testing.T) {
		trees, _, err := install.LinkAll(context.Background(), []install.Package{python, pkg}, install.Options{})
		if err != nil {
			t.Fatal(err)
		}
		es := entryMap(trees[1])
		if _, ok := es["opt/env/lib/python3.99/site-packages/conda_index_pkg_a/__init__.py"]; !ok {
			t.Error("site-packages not placed under lib/python3.99")
		}
		ep, ok := es["opt/env/bin/conda-index-pkg-a-helper"]
		if !ok {
			t.Fatal("entry point script missing")
		}
		if ep.Mode != 0o755 || !strings.HasPrefix(string(ep.Data), "#!/opt/env/bin/python\n") ||
			!strings.Contains(string(ep.Data), "from conda_index_pkg_a import helper\n") || !strings.Contains(string(ep.Data), "sys.exit(helper())") {
			t.Errorf("entry point script:\n%s", ep.Data)
		}
		if _, ok := es["opt/env/bin/.conda-index-pkg-a-post-link.sh"]; !ok {
			t.Error("python-scripts/ not placed under bin/")
		}
		if d := cmp.Diff([]string{"post-link"}, trees[1].LinkScripts); d != "" {
			t.Errorf("LinkScripts (-want +got):\n%s", d)
		}
	})
	t.Run("long prefix uses env", func(t *testing.T) {
		long := "/" + strings.Repeat("x", 130)
		tr, err := install.Link(context.Background(), pkg, install.Options{Prefix: long, PythonVersion: "3.12.1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := entryMap(tr)[long[1:]+"/lib/python3.12/site-packages/conda_index_pkg_a/__init__.py"]; !ok {
			t.Error("PythonVersion 3.12.1 did not place files under lib/python3.12")
		}
		ep := entryMap(tr)[long[1:]+"/bin/conda-index-pkg-a"]
		if !strings.HasPrefix(string(ep.Data), "#!/usr/bin/env python\n") {
			t.Errorf("entry point shebang: %q", strings.SplitN(string(ep.Data), "\n", 2)[0])
		}
	})
}

func TestShebangRewrite(t *testing.T) {
	pkg := install.Package{Archive: filepath.Join(pkgDir, "synthetic-conda-tests/conda-index-pkg-a-1.0-py27h5e241af_0.tar.bz2")}
	for _, tt := range []struct{ prefix, want string }{
		{"/opt/env", "#!/opt/env/bin/python"},
		{"/opt/my env", "#!/usr/bin/env python"},
	} {
		t.Run(tt.prefix, func(t *testing.T) {
			tr, err := install.Link(context.Background(), pkg, install.Options{Prefix: tt.prefix})
			if err != nil {
				t.Fatal(err)
			}
			e := entryMap(tr)[tt.prefix[1:]+"/bin/conda-index-pkg-a"]
			if first := strings.SplitN(string(e.Data), "\n", 2)[0]; first != tt.want {
				t.Errorf("shebang %q, want %q", first, tt.want)
			}
		})
	}
}

func TestEdgeCases(t *testing.T) {
	link := func(t *testing.T, name string) map[string]install.Entry {
		t.Helper()
		tr, err := install.Link(context.Background(), install.Package{Archive: filepath.Join(pkgDir, "edge-cases", name)}, install.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return entryMap(tr)
	}
	t.Run("dotslash", func(t *testing.T) {
		es := link(t, "dotslash-test-1.0.0-0.conda")
		if string(es["opt/env/lib/data.txt"].Data) == "" {
			t.Errorf("./lib/data.txt not installed as lib/data.txt: %v", keys(es))
		}
	})
	t.Run("info only", func(t *testing.T) {
		es := link(t, "info-only-1.0.0-0.conda")
		want := []string{"opt", "opt/env", "opt/env/conda-meta", "opt/env/conda-meta/info-only-1.0.0-0.json"}
		if d := cmp.Diff(want, keys(es)); d != "" {
			t.Errorf("entries (-want +got):\n%s", d)
		}
	})
	t.Run("zip64", func(t *testing.T) {
		es := link(t, "zip64-test-1.0.0-0.conda")
		if _, ok := es["opt/env/bin/hello.txt"]; !ok {
			t.Errorf("bin/hello.txt missing: %v", keys(es))
		}
	})
	t.Run("symlink and hardlink", func(t *testing.T) {
		es := link(t, "symlink-test-1.0.0-0.conda")
		if e := es["opt/env/lib/liblink.so"]; e.Type != install.TypeSymlink || e.Linkname != "libreal.so.1" {
			t.Errorf("symlink = %+v", e)
		}
		real, hard := es["opt/env/lib/libreal.so.1"], es["opt/env/lib/libhard.so"]
		if hard.Type != install.TypeFile || !bytes.Equal(hard.Data, real.Data) || len(real.Data) == 0 {
			t.Errorf("hardlink not installed as a copy of its target: %+v", hard)
		}
	})
	t.Run("sparse", func(t *testing.T) {
		es := link(t, "sparse-test-1.0.0-0.conda")
		if n := len(es["opt/env/lib/blob.bin"].Data); n != 150000 {
			t.Errorf("lib/blob.bin has %d bytes, want 150000", n)
		}
	})
}

func keys(es map[string]install.Entry) []string {
	var out []string
	for k := range es {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestClobberReal(t *testing.T) {
	a := install.Package{Record: conda.PackageRecord{Fn: "clobber-a-1.0-0.conda"}, Archive: filepath.Join(pkgDir, "synthetic-conda-tests/clobber-a-1.0-0.conda")}
	b := install.Package{Record: conda.PackageRecord{Fn: "clobber-b-1.0-0.conda"}, Archive: filepath.Join(pkgDir, "synthetic-conda-tests/clobber-b-1.0-0.conda")}
	for _, order := range [][]install.Package{{a, b}, {b, a}} {
		t.Run(order[0].Record.Fn+"-first", func(t *testing.T) {
			trees, clobbers, err := install.LinkAll(context.Background(), order, install.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(clobbers) != 1 || clobbers[0].Winner != order[1].Record.Fn || clobbers[0].Loser != order[0].Record.Fn {
				t.Fatalf("clobbers = %+v", clobbers)
			}
			p := clobbers[0].Path
			if _, ok := entryMap(trees[0])[p]; ok {
				t.Errorf("loser still has %s", p)
			}
			if _, ok := entryMap(trees[1])[p]; !ok {
				t.Errorf("winner lost %s", p)
			}
		})
	}
}

func TestLinkAllDeterministic(t *testing.T) {
	var ps []install.Package
	for _, m := range readManifest(t) {
		if _, bad := refused[m.Path]; bad || !strings.HasPrefix(m.Path, "synthetic") {
			continue
		}
		ps = append(ps, pkgOf(m))
	}
	o := install.Options{PythonVersion: "3.11"}
	t1, c1, err := install.LinkAll(context.Background(), ps, o)
	if err != nil {
		t.Fatal(err)
	}
	t2, c2, err := install.LinkAll(context.Background(), ps, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(t1, t2); d != "" {
		t.Errorf("two runs differ:\n%s", d)
	}
	if d := cmp.Diff(c1, c2); d != "" {
		t.Errorf("clobbers differ:\n%s", d)
	}
	if len(c1) == 0 {
		t.Error("the synthetic packages include clobbering pairs, but none was reported")
	}
	for _, c := range c1 {
		t.Logf("clobber %s: %s wins over %s", c.Path, c.Winner, c.Loser)
	}
}
