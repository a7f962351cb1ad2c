package lock

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/testutil"
	"github.com/reprobuild/reprobuild/recipes"
)

var update = flag.Bool("update", false, "rewrite golden files")

const repodataDir = "../../testdata/conda/repodata/conda-forge-py39-subchannel-20240516"

// records reads the named archives from the real conda-forge repodata of the test data.
func records(t testing.TB, fns ...string) []conda.PackageRecord {
	t.Helper()
	all := map[string]conda.PackageRecord{}
	for _, sub := range []string{"linux-64", "noarch"} {
		var rd struct {
			Packages      map[string]map[string]json.RawMessage `json:"packages"`
			PackagesConda map[string]map[string]json.RawMessage `json:"packages.conda"`
		}
		if err := json.Unmarshal(testutil.ReadFile(t, filepath.Join(repodataDir, sub, "repodata.json")), &rd); err != nil {
			t.Fatal(err)
		}
		for _, m := range []map[string]map[string]json.RawMessage{rd.Packages, rd.PackagesConda} {
			for fn, raw := range m {
				// repodata writes track_features as one string; the records used here have none.
				delete(raw, "track_features")
				b, _ := json.Marshal(raw)
				var r conda.PackageRecord
				if err := json.Unmarshal(b, &r); err != nil {
					t.Fatalf("%s: %v", fn, err)
				}
				all[fn] = r
			}
		}
	}
	var out []conda.PackageRecord
	for _, fn := range fns {
		r, ok := all[fn]
		if !ok {
			t.Fatalf("%s not in the test repodata", fn)
		}
		r.Fn = fn
		r.Channel = "https://conda.anaconda.org/conda-forge"
		r.URL = r.Channel + "/" + r.Subdir + "/" + fn
		out = append(out, r)
	}
	return out
}

const sampleRecipe = `python { version = "3.9" }
channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
platform {
  targets = ["linux-64", "linux-aarch64"]
  glibc   = "2.28"
}
`

func recipeHash(t testing.TB, src string) string {
	t.Helper()
	r, diags := recipes.Parse("reprobuild.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return r.Hash()
}

// sampleLock is a lock made of real conda-forge records, in a deliberately unsorted order.
func sampleLock(t testing.TB) *Lock {
	recs := records(t, "tzdata-2024a-h0c530f3_0.conda", "libzlib-1.2.13-h166bdaf_4.tar.bz2", "zlib-1.2.13-h166bdaf_4.tar.bz2")
	return &Lock{
		Version:    FormatVersion,
		RecipeHash: recipeHash(t, sampleRecipe),
		Channels:   []Channel{{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge"}, {Name: "local", URL: "channels/local"}},
		Solver:     Solver{ChannelPriority: "strict", ExcludeNewer: "2024-05-16T00:00:00Z"},
		Base:       Base{Ref: "oci:base", Digest: "sha256:" + strings.Repeat("ab", 32)},
		Data: []Data{
			{Name: "weights", URL: "https://example.org/w.bin", SHA256: strings.Repeat("0f", 32), Path: "/data/w.bin", Mode: "bake"},
			{Name: "corpus", URL: "https://example.org/corpus", Path: "/data/corpus", Mode: "mount"},
		},
		Targets: []Target{
			{Platform: "linux-aarch64", Packages: records(t, "tzdata-2024a-h0c530f3_0.conda")},
			{
				Platform: "linux-64",
				Virtual:  []VirtualPackage{{Name: "__unix", Version: "0"}, {Name: "__glibc", Version: "2.28", Build: "0"}},
				Packages: recs,
			},
		},
	}
}

func TestMarshalGolden(t *testing.T) {
	l := sampleLock(t)
	got, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	golden := "testdata/sample.lock"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := testutil.ReadFile(t, golden)
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Marshal differs from %s (-want +got):\n%s", golden, diff)
	}
	// Parse then Marshal gives back the same bytes.
	parsed, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Marshal(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, want) {
		t.Errorf("Marshal(Parse(golden)) differs from golden:\n%s", cmp.Diff(string(want), string(again)))
	}
}

func TestMarshalCanonical(t *testing.T) {
	a := sampleLock(t)
	before := sampleLock(t)
	b := sampleLock(t)
	// Reverse every set: the text must not change.
	for i, j := 0, len(b.Targets)-1; i < j; i, j = i+1, j-1 {
		b.Targets[i], b.Targets[j] = b.Targets[j], b.Targets[i]
	}
	for _, tg := range b.Targets {
		for i, j := 0, len(tg.Packages)-1; i < j; i, j = i+1, j-1 {
			tg.Packages[i], tg.Packages[j] = tg.Packages[j], tg.Packages[i]
		}
	}
	b.Data[0], b.Data[1] = b.Data[1], b.Data[0]
	ma, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ma, mb) {
		t.Errorf("order of sets changed the text:\n%s", cmp.Diff(string(ma), string(mb)))
	}
	if diff := cmp.Diff(before, a); diff != "" {
		t.Errorf("Marshal modified its input:\n%s", diff)
	}
	parsed, err := Parse(ma)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleLock(t)
	want.Targets[0], want.Targets[1] = want.Targets[1], want.Targets[0]
	for i := range want.Targets {
		want.Targets[i].Packages = SortedPackages(want.Targets[i].Packages)
		v := want.Targets[i].Virtual
		if len(v) == 2 {
			v[0], v[1] = v[1], v[0]
		}
	}
	want.Data[0], want.Data[1] = want.Data[1], want.Data[0]
	if diff := cmp.Diff(want, parsed, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Parse(Marshal(l)) (-want +got):\n%s", diff)
	}
}

func TestQuoting(t *testing.T) {
	l := &Lock{Version: 1, RecipeHash: "h", Targets: []Target{{Platform: "linux-64", Packages: []conda.PackageRecord{{
		Name: "odd", Version: "1", Build: "0", License: "BSD-3-Clause AND \"MIT\" # not a comment \\ ünï", Depends: []string{"", "python >=3.9,<3.10.0a0"},
		URL: "https://x.example/c/linux-64/odd-1-0.conda", SHA256: strings.Repeat("a", 64),
	}}}}}
	text, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if diff := cmp.Diff(l.Targets[0].Packages, back.Targets[0].Packages); diff != "" {
		t.Errorf("quoted values changed (-want +got):\n%s\n%s", diff, text)
	}
}

func TestParseErrors(t *testing.T) {
	good := string(testutil.ReadFile(t, "testdata/sample.lock"))
	tests := []struct {
		name   string
		src    string
		line   int
		errHas string
	}{
		{"empty", "", 1, "not a reprobuild.lock"},
		{"explicit file", "@EXPLICIT\nhttps://x/a-1-0.conda\n", 1, "reprobuild init"},
		{"newer version", "version 9\n", 1, "upgrade reprobuild"},
		{"bad version", "version x\n", 1, "not a positive number"},
		{"unknown top entry", "version 1\nfrobnicate 1\n", 2, "unknown entry"},
		{"unknown package field", strings.Replace(good, "    md5 ", "    mdfive ", 1), 0, "unknown package field \"mdfive\""},
		{"tab indent", "version 1\nsolver\n\tchannel-priority strict\n", 3, "indentation"},
		{"odd indent", "version 1\nsolver\n   channel-priority strict\n", 3, "indentation"},
		{"bad size", strings.Replace(good, "    size ", "    size -", 1), 0, "not a non-negative whole number"},
		{"unterminated quote", "version 1\nrecipe-hash \"abc\n", 2, "unterminated"},
		{"package arity", "version 1\ntarget linux-64\n  package zlib 1.2\n", 3, "takes [3] value(s)"},
		{"duplicate target", "version 1\ntarget linux-64\ntarget linux-64\n", 3, "appears twice"},
		{"orphan field", "version 1\n    url https://x\n", 2, "outside a package"},
		{"field under base", "version 1\nbase scratch\n  digest x\n", 3, "does not belong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			var pe *ParseError
			if !asParseError(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if tt.line != 0 && pe.Line != tt.line {
				t.Errorf("error at line %d, want %d: %v", pe.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %q does not mention %q", err, tt.errHas)
			}
		})
	}
}

func asParseError(err error, pe **ParseError) bool {
	p, ok := err.(*ParseError)
	*pe = p
	return ok
}

func BenchmarkMarshal(b *testing.B) {
	l, err := ImportCondaLock(testutil.ReadFile(b, filepath.Join(lockfiles, "conda-lock/test-lockfile/conda-lock.yml")))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(l); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	l, err := ImportCondaLock(testutil.ReadFile(b, filepath.Join(lockfiles, "conda-lock/test-lockfile/conda-lock.yml")))
	if err != nil {
		b.Fatal(err)
	}
	text, err := Marshal(l)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(testutil.ReadFile(f, "testdata/sample.lock"))
	f.Add([]byte("version 1\ntarget linux-64\n  package a 1 0\n    depends \"b >=1\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			return
		}
		text, err := Marshal(l)
		if err != nil {
			return
		}
		l2, err := Parse(text)
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, text)
		}
		text2, err := Marshal(l2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(text, text2) {
			t.Fatalf("Marshal not stable:\n%s", cmp.Diff(string(text), string(text2)))
		}
	})
}

func FuzzImport(f *testing.F) {
	for _, p := range []string{"conda-lock/test-update-filter-platform/conda-lock.yml", "conda-lock/zlib/conda-linux-64.lock", "mamba/env_lockfile/good_overlap_categories-lock.yaml"} {
		f.Add(testutil.ReadFile(f, filepath.Join(lockfiles, p)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, imp := range []func([]byte) (*Lock, error){ImportCondaLock, ImportExplicit} {
			l, err := imp(data)
			if err != nil {
				continue
			}
			if _, err := Marshal(l); err != nil {
				continue
			}
			_, _ = ExportCondaLock(l)
			for _, tg := range l.Targets {
				_, _ = ExportExplicit(l, tg.Platform)
			}
		}
		_, _ = ParseEnvironment(data)
	})
}
