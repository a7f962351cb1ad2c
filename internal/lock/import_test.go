package lock

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/testutil"
	"go.yaml.in/yaml/v3"
)

const lockfiles = "../../testdata/conda/lockfiles"

func glob(t testing.TB, patterns ...string) []string {
	t.Helper()
	var out []string
	for _, p := range patterns {
		m, err := filepath.Glob(filepath.Join(lockfiles, p))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatalf("no files match %v", patterns)
	}
	sort.Strings(out)
	return out
}

func rel(p string) string { r, _ := filepath.Rel(lockfiles, p); return r }

// explicitFiles are all the real @EXPLICIT files of the test data.
func explicitFiles(t testing.TB) []string {
	var out []string
	for _, p := range glob(t, "*/*", "*/*/*", "*/*/*/*") {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			continue
		}
		if strings.Contains(string(testutil.ReadFile(t, p)), "@EXPLICIT") {
			out = append(out, p)
		}
	}
	return out
}

// condaLockFiles are the real conda-lock (format 1 and rattler's conda-lock-compatible
// 0 and 3) files of the test data.
func condaLockFiles(t testing.TB) []string {
	return glob(t, "conda-lock/*/conda-lock*.yml", "rattler/conda-lock/v0/*.yml", "rattler/conda-lock/v3/*.yml",
		"mamba/env_lockfile/good_*-lock.yaml", "mamba/micromamba-tests/env_lockfiles/*.yaml")
}

type hashedURL struct{ URL, MD5, SHA256 string }

// explicitEntries reads the package lines of an explicit file directly (not through
// ImportExplicit), as the independent reference for round trips.
func explicitEntries(t *testing.T, data []byte) []hashedURL {
	var out []hashedURL
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line == "@EXPLICIT" {
			continue
		}
		u, frag, _ := strings.Cut(line, "#")
		e := hashedURL{URL: u}
		frag = strings.TrimPrefix(strings.TrimPrefix(frag, "sha256="), "sha256:")
		switch len(frag) {
		case 32:
			e.MD5 = frag
		case 64:
			e.SHA256 = frag
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}

func TestExplicitRoundTrip(t *testing.T) {
	for _, path := range explicitFiles(t) {
		t.Run(rel(path), func(t *testing.T) {
			data := testutil.ReadFile(t, path)
			l, err := ImportExplicit(data)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			want := explicitEntries(t, data)
			if len(l.Targets) != 1 || len(l.Targets[0].Packages) != len(want) {
				t.Fatalf("imported %d targets, want 1 with %d packages", len(l.Targets), len(want))
			}
			out, err := ExportExplicit(l, l.Targets[0].Platform)
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			if diff := cmp.Diff(want, explicitEntries(t, out)); diff != "" {
				t.Errorf("exported packages differ from the original (-orig +export):\n%s", diff)
			}
			// And through the canonical lock text.
			checkTextRoundTrip(t, l)
		})
	}
}

// checkTextRoundTrip checks that l comes back unchanged through the canonical lock text.
func checkTextRoundTrip(t *testing.T, l *Lock) {
	t.Helper()
	text, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(text)
	if err != nil {
		t.Fatalf("parse of marshalled lock: %v", err)
	}
	if diff := cmp.Diff(l, back, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("lock changed through Marshal/Parse (-want +got):\n%s", diff)
	}
}

type condaLockEntry struct {
	Platform, Manager, URL, MD5, SHA256 string
}

// condaLockEntries reads the package set of a conda-lock file with plain YAML decoding,
// independent of ImportCondaLock.
func condaLockEntries(t *testing.T, data []byte) []condaLockEntry {
	var f struct {
		Package []struct {
			Platform, Manager, URL string
			Hash                   map[string]string
		}
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	seen := map[condaLockEntry]bool{}
	var out []condaLockEntry
	for _, p := range f.Package {
		m := p.Manager
		if m == "" {
			m = "conda"
		}
		e := condaLockEntry{p.Platform, m, p.URL, p.Hash["md5"], p.Hash["sha256"]}
		if m == "pip" {
			e.MD5 = ""
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Platform != b.Platform {
			return a.Platform < b.Platform
		}
		return a.URL < b.URL
	})
	return out
}

func TestCondaLockRoundTrip(t *testing.T) {
	for _, path := range condaLockFiles(t) {
		t.Run(rel(path), func(t *testing.T) {
			data := testutil.ReadFile(t, path)
			l, err := ImportCondaLock(data)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			out, err := ExportCondaLock(l)
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			if diff := cmp.Diff(condaLockEntries(t, data), condaLockEntries(t, out)); diff != "" {
				t.Errorf("exported packages differ from the original (-orig +export):\n%s", diff)
			}
			again, err := ImportCondaLock(out)
			if err != nil {
				t.Fatalf("re-import of the export: %v", err)
			}
			if diff := cmp.Diff(l, again, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("lock changed through export/import (-want +got):\n%s", diff)
			}
			checkTextRoundTrip(t, l)
			for _, tg := range l.Targets {
				out, err := ExportExplicit(l, tg.Platform)
				if len(tg.Pip) > 0 {
					if err == nil {
						t.Errorf("explicit export of %s with pip packages succeeded", tg.Platform)
					}
					continue
				}
				if err != nil {
					t.Fatalf("explicit export: %v", err)
				}
				ex, err := ImportExplicit(out)
				if err != nil {
					t.Fatalf("import of explicit export: %v", err)
				}
				var got, want []string
				for _, p := range ex.Targets[0].Packages {
					got = append(got, p.URL+"#"+p.SHA256)
				}
				for _, p := range tg.Packages {
					want = append(want, p.URL+"#"+p.SHA256)
				}
				sort.Strings(got)
				sort.Strings(want)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("explicit export of %s (-want +got):\n%s", tg.Platform, diff)
				}
			}
		})
	}
}

func TestImportRefusesOtherFormats(t *testing.T) {
	tests := []struct {
		files  []string
		read   func([]byte) (*Lock, error)
		errHas string
	}{
		{glob(t, "rattler/lock_parse_fails/v7/*.yml", "rattler/conda-lock/v[4-7]/*.yml", "pixi/*/pixi.lock", "rattler/test.lock"), ImportCondaLock, "pixi.lock"},
		{glob(t, "mamba/env_lockfile/bad_version-lock.yaml"), ImportCondaLock, "not a conda-lock format version"},
		{glob(t, "rattler/conda-lock/forward-compatible-lock.yml"), ImportCondaLock, "lock format version 1000 is not one reprobuild reads"},
		{glob(t, "conda-lock/test-lockfile/*.lock", "pixi/simple-calculator/pixi.lock"), ImportExplicit, "not an explicit file"},
		{glob(t, "rattler/environments/*.yaml", "conda-lock/zlib/environment.yml", "mamba/env_lockfile/good_*-lock.json"), ImportCondaLock, "not a conda-lock.yml"},
	}
	for _, tt := range tests {
		for _, path := range tt.files {
			t.Run(rel(path), func(t *testing.T) {
				_, err := tt.read(testutil.ReadFile(t, path))
				if err == nil {
					t.Fatal("imported without error")
				}
				if !strings.Contains(err.Error(), tt.errHas) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q should be one line mentioning %q", err, tt.errHas)
				}
			})
		}
	}
}

func TestExplicitImportDetails(t *testing.T) {
	l, err := ImportExplicit([]byte(`# platform: linux-64
@EXPLICIT
https://user:secret@conda.anaconda.org/conda-forge/linux-64/libzlib-1.2.13-h166bdaf_4.tar.bz2#sha256:dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1
https://conda.anaconda.org/conda-forge/noarch/tzdata-2022g-h191b570_0.conda#51fc4fcfb19f5d95ffc8c339db5068e8
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Lock{
		Version:  FormatVersion,
		Channels: []Channel{{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge"}},
		Targets: []Target{{Platform: "linux-64", Packages: []conda.PackageRecord{
			{Name: "libzlib", Version: "1.2.13", Build: "h166bdaf_4", BuildNumber: 4, Subdir: "linux-64", Fn: "libzlib-1.2.13-h166bdaf_4.tar.bz2",
				URL: "https://conda.anaconda.org/conda-forge/linux-64/libzlib-1.2.13-h166bdaf_4.tar.bz2", Channel: "https://conda.anaconda.org/conda-forge",
				SHA256: "dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1"},
			{Name: "tzdata", Version: "2022g", Build: "h191b570_0", Subdir: "noarch", Fn: "tzdata-2022g-h191b570_0.conda",
				URL: "https://conda.anaconda.org/conda-forge/noarch/tzdata-2022g-h191b570_0.conda", Channel: "https://conda.anaconda.org/conda-forge",
				MD5: "51fc4fcfb19f5d95ffc8c339db5068e8"},
		}}},
	}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("import (-want +got):\n%s", diff)
	}
	bad := []struct{ name, src, errHas string }{
		{"bad fragment", "@EXPLICIT\nhttps://x.example/c/linux-64/a-1-0.conda#abc\n", "line 2: hash fragment"},
		{"not an archive", "@EXPLICIT\nhttps://x.example/c/linux-64/a-1-0.zip\n", "line 2:"},
		{"no platform", "@EXPLICIT\nhttps://x.example/c/noarch/a-1-0.conda\n", "platform"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			_, err := ImportExplicit([]byte(b.src))
			if err == nil || !strings.Contains(err.Error(), b.errHas) {
				t.Errorf("error %v, want one containing %q", err, b.errHas)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	env, err := ParseEnvironment(testutil.ReadFile(t, filepath.Join(lockfiles, "conda/example/environment_with_pip.yml")))
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Pip) == 0 || len(env.Conda) == 0 {
		t.Errorf("parsed %+v: want conda and pip dependencies", env)
	}
	for _, path := range glob(t, "rattler/environments/*.yaml", "repo2docker/buildpacks/*.yml", "conda-lock/*/environment.y*ml") {
		t.Run(rel(path), func(t *testing.T) {
			if _, err := ParseEnvironment(testutil.ReadFile(t, path)); err != nil {
				t.Errorf("parse: %v", err)
			}
		})
	}
	l, err := ImportCondaLock(testutil.ReadFile(t, filepath.Join(lockfiles, "conda-lock/test-install-with-pip-deps/conda-lock.yml")))
	if err != nil {
		t.Fatal(err)
	}
	out, err := ExportEnvironment(l, "linux-64", "env")
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseEnvironment(out)
	if err != nil {
		t.Fatalf("export does not parse back: %v\n%s", err, out)
	}
	tg := l.Target("linux-64")
	if len(back.Conda) != len(tg.Packages) || len(back.Pip) != len(tg.Pip) {
		t.Errorf("environment has %d conda and %d pip entries, lock has %d and %d", len(back.Conda), len(back.Pip), len(tg.Packages), len(tg.Pip))
	}
	for i, p := range SortedPackages(tg.Packages) {
		if want := p.Name + "=" + p.Version + "=" + p.Build; back.Conda[i] != want {
			t.Errorf("entry %d = %q, want %q", i, back.Conda[i], want)
		}
	}
	if _, err := ExportEnvironment(l, "win-64", "env"); err == nil {
		t.Error("export of a missing platform succeeded")
	}
}

func BenchmarkImportCondaLock(b *testing.B) {
	data := testutil.ReadFile(b, filepath.Join(lockfiles, "conda-lock/test-lockfile/conda-lock.yml"))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ImportCondaLock(data); err != nil {
			b.Fatal(err)
		}
	}
}
