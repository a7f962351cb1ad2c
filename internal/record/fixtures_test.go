package record

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	repodataDir = "../../testdata/conda/repodata/conda-forge-py39-subchannel-20240516"
	condaForge  = "https://conda.anaconda.org/conda-forge"
)

// repodataCache keeps each decoded subdir: the fixtures are built in many subtests.
var repodataCache sync.Map

// repodata reads the real conda-forge subset into records sorted by file name. Callers
// get their own copy.
func repodata(t testing.TB, subdir string) []conda.PackageRecord {
	t.Helper()
	if v, ok := repodataCache.Load(subdir); ok {
		return slices.Clone(v.([]conda.PackageRecord))
	}
	out := readRepodata(t, subdir)
	repodataCache.Store(subdir, out)
	return slices.Clone(out)
}

func readRepodata(t testing.TB, subdir string) []conda.PackageRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repodataDir, subdir, "repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Only the fields a record needs: real repodata has legacy shapes (track_features as
	// a string, noarch as a bool) that the conda package, not this test, decodes.
	type raw struct {
		Name          string   `json:"name"`
		Version       string   `json:"version"`
		Build         string   `json:"build"`
		BuildNumber   int64    `json:"build_number"`
		Depends       []string `json:"depends"`
		Subdir        string   `json:"subdir"`
		License       string   `json:"license"`
		LicenseFamily string   `json:"license_family"`
		MD5           string   `json:"md5"`
		SHA256        string   `json:"sha256"`
		Size          int64    `json:"size"`
		Timestamp     int64    `json:"timestamp"`
	}
	var rd struct {
		Packages      map[string]raw `json:"packages"`
		PackagesConda map[string]raw `json:"packages.conda"`
	}
	if err := json.Unmarshal(b, &rd); err != nil {
		t.Fatal(err)
	}
	var out []conda.PackageRecord
	for _, m := range []map[string]raw{rd.Packages, rd.PackagesConda} {
		for fn, q := range m {
			p := conda.PackageRecord{
				Name: q.Name, Version: q.Version, Build: q.Build, BuildNumber: q.BuildNumber,
				Depends: q.Depends, Subdir: q.Subdir, License: q.License, LicenseFamily: q.LicenseFamily,
				MD5: q.MD5, SHA256: q.SHA256, Size: q.Size, Timestamp: q.Timestamp,
			}
			if subdir == "noarch" {
				p.Noarch = "python"
			}
			p.Fn = fn
			p.Channel = condaForge
			p.URL = condaForge + "/" + subdir + "/" + fn
			out = append(out, p)
		}
	}
	// Map order is random: sort so every pick below is deterministic.
	slices.SortFunc(out, func(a, b conda.PackageRecord) int { return strings.Compare(a.Fn, b.Fn) })
	return out
}

// pick returns, for each name, the newest real record whose version starts with the
// given prefix ("name" or "name=prefix").
func pick(t testing.TB, recs []conda.PackageRecord, specs ...string) []conda.PackageRecord {
	t.Helper()
	var out []conda.PackageRecord
	for _, s := range specs {
		name, prefix, _ := strings.Cut(s, "=")
		var best *conda.PackageRecord
		for i := range recs {
			p := &recs[i]
			if p.Name != name || !strings.HasPrefix(p.Version, prefix) {
				continue
			}
			if best == nil || p.Timestamp > best.Timestamp || p.Timestamp == best.Timestamp && p.Fn > best.Fn {
				best = p
			}
		}
		if best == nil {
			t.Fatalf("no record for %s in the test repodata", s)
		}
		out = append(out, *best)
	}
	slices.SortFunc(out, func(a, b conda.PackageRecord) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// fullCase is a representative GPU-less scientific runtime: python 3.9 from conda-forge
// with its real dependency closure, a pinned base, a mirror, data and hardware.
func fullCase(t testing.TB) (*recipes.Recipe, *lock.Lock) {
	t.Helper()
	recs := append(repodata(t, "linux-64"), repodata(t, "noarch")...)
	pkgs := pick(t, recs,
		"_libgcc_mutex", "_openmp_mutex", "bzip2", "ca-certificates", "ld_impl_linux-64",
		"libffi", "libgcc-ng", "libgomp", "libnsl", "libsqlite", "libuuid", "libxcrypt",
		"libzlib", "ncurses", "openssl", "pip", "python=3.9", "python_abi=3.9", "readline",
		"setuptools", "six", "tk", "wheel", "xz", "pyparsing", "certifi")
	r := &recipes.Recipe{
		Filename:        "reprobuild.hcl",
		Reproducibility: recipes.Reproducibility{Level: "bitwise"},
		Image: recipes.Image{
			Name:   "analysis",
			Base:   "debian:bookworm-slim@sha256:" + strings.Repeat("ab", 32),
			Tags:   []string{"registry.example/lab/analysis:1.0"},
			Prefix: "/opt/env",
		},
		Python: &recipes.Python{Version: "3.9", Implementation: "cpython", Source: "channel"},
		Channels: []recipes.Channel{{
			Name: "conda-forge", URL: condaForge,
			Mirrors: []string{"https://mirror-user:s3cret@mirror.example/conda-forge"},
		}},
		Solver:       recipes.Solver{ChannelPriority: "strict", ExcludeNewer: "2024-05-16T00:00:00Z"},
		Dependencies: recipes.Dependencies{Conda: []recipes.Spec{{Text: "six"}, {Text: "pyparsing"}, {Text: "certifi"}}},
		Platform:     recipes.Platform{Targets: []string{"linux-64"}, Glibc: "2.28"},
		Hardware:     recipes.Hardware{CPU: "x86_64_v2", Memory: "8GiB"},
		Data: []recipes.Data{{
			Name: "weights", URL: "https://data.example/w.bin", Path: "/data/w.bin", Mode: "bake",
			SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		}},
		Runtime:  recipes.Runtime{Entrypoint: []string{"python"}, Env: map[string]string{"OMP_NUM_THREADS": "4", "LANG": "C.UTF-8"}, Workdir: "/work", User: "1000:1000"},
		Licenses: recipes.LicensePolicy{Deny: []string{"AGPL-3.0-only"}},
	}
	l := &lock.Lock{
		Version:    lock.FormatVersion,
		RecipeHash: r.Hash(),
		Channels:   []lock.Channel{{Name: "conda-forge", URL: condaForge}},
		Solver:     lock.Solver{ChannelPriority: "strict", ExcludeNewer: "2024-05-16T00:00:00Z"},
		Base:       lock.Base{Ref: "debian:bookworm-slim", Digest: "sha256:" + strings.Repeat("ab", 32)},
		Data: []lock.Data{{
			Name: "weights", URL: "https://data.example/w.bin", Path: "/data/w.bin", Mode: "bake",
			SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		}},
		Targets: []lock.Target{{
			Platform: "linux-64",
			Virtual:  []lock.VirtualPackage{{Name: "__unix", Version: "0"}, {Name: "__glibc", Version: "2.28"}, {Name: "__linux", Version: "5.10"}},
			Packages: pkgs,
		}},
	}
	return r, l
}

// smallCase is a scratch image from a private channel reached with credentials, with a
// noarch package whose licence is free text, and data mounted at run time.
func smallCase(t testing.TB) (*recipes.Recipe, *lock.Lock) {
	t.Helper()
	const private = "https://user:tok3n@conda.private.example/t/abc123/lab"
	recs := repodata(t, "noarch")
	pkgs := pick(t, recs, "six", "pyparsing")
	for i := range pkgs {
		pkgs[i].Channel = private
		pkgs[i].URL = private + "/noarch/" + pkgs[i].Fn
	}
	pkgs[1].License = "Free software (MIT-like)"
	r := &recipes.Recipe{
		Reproducibility: recipes.Reproducibility{Level: "pinned"},
		Image:           recipes.Image{Base: "scratch", Prefix: "/opt/env"},
		Channels:        []recipes.Channel{{Name: "lab", URL: private}},
		Solver:          recipes.Solver{ChannelPriority: "strict"},
		Dependencies:    recipes.Dependencies{Conda: []recipes.Spec{{Text: "six"}}},
		Platform:        recipes.Platform{Targets: []string{"linux-aarch64"}},
		Data:            []recipes.Data{{Name: "corpus", URL: "s3://bucket/corpus", Path: "/mnt/corpus", Mode: "mount"}},
	}
	l := &lock.Lock{
		Version:    lock.FormatVersion,
		RecipeHash: r.Hash(),
		Channels:   []lock.Channel{{Name: "lab", URL: private}},
		Solver:     lock.Solver{ChannelPriority: "strict"},
		Base:       lock.Base{Ref: "scratch"},
		Data:       []lock.Data{{Name: "corpus", URL: "s3://bucket/corpus", Path: "/mnt/corpus", Mode: "mount"}},
		Targets:    []lock.Target{{Platform: "linux-aarch64", Packages: pkgs}},
	}
	return r, l
}

type fixture struct {
	name string
	make func(testing.TB) (*recipes.Recipe, *lock.Lock)
}

var fixtures = []fixture{{"full", fullCase}, {"small", smallCase}}

// golden compares got with testdata/NAME, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (run go test -update and review the diff):\n%s", name, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first differing lines, enough to see what moved.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + b
		}
	}
	return ""
}
