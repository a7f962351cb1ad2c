package pypilock

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/pypi/index"
	"github.com/reprobuild/reprobuild/internal/pypi/pep440"
	"github.com/reprobuild/reprobuild/internal/pypi/pep508"
	"github.com/reprobuild/reprobuild/internal/pypi/pypitest"
	"github.com/reprobuild/reprobuild/internal/pypi/resolve"
	"github.com/reprobuild/reprobuild/internal/pypi/wheel"
)

var (
	t0     = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	target = wheel.Target{Python: [2]int{3, 11}, Arch: "x86_64", Glibc: [2]int{2, 28}}
	py     = pep440.MustParse("3.11.2")
)

func roots(t testing.TB, reqs ...string) []resolve.Root {
	var out []resolve.Root
	for i, s := range reqs {
		r, err := pep508.ParseRequirement(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resolve.Root{Req: r, Where: fmt.Sprintf("reprobuild.hcl:%d", 20+i)})
	}
	return out
}

func show(ps []resolve.Pin) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name+"=="+p.Version.String()+"@"+p.File.Index+":"+p.File.Filename)
	}
	return strings.Join(s, " ")
}

// populate serves a small realistic mix: platform wheels, abi3, a yanked newest
// version, an sdist-only project, extras, markers and exclude_newer fodder.
func populate(ix *pypitest.Index) {
	ix.AddWheel(pypitest.Wheel{Name: "app", Version: "1.0", Requires: []string{"fastlib>=1", "tool[cli]", "oldpy; python_version < '3.8'"}, Scripts: map[string]string{"app": "app:main"}}, t0)
	ix.AddWheel(pypitest.Wheel{Name: "fastlib", Version: "1.0", Tag: "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"}, t0)
	ix.AddWheel(pypitest.Wheel{Name: "fastlib", Version: "1.0", Tag: "cp38-abi3-manylinux_2_17_x86_64"}, t0)
	ix.AddWheel(pypitest.Wheel{Name: "fastlib", Version: "1.1", Tag: "cp312-cp312-manylinux_2_17_x86_64"}, t0) // not for 3.11
	ix.AddWheel(pypitest.Wheel{Name: "fastlib", Version: "1.2", Tag: "cp311-cp311-manylinux_2_34_x86_64"}, t0) // glibc too new
	ix.AddWheel(pypitest.Wheel{Name: "tool", Version: "2.0", Extras: []string{"cli"}, Requires: []string{"clickish; extra == 'cli'"}}, t0)
	ix.AddWheel(pypitest.Wheel{Name: "tool", Version: "3.0"}, t0).Yanked = "bad"
	ix.AddWheel(pypitest.Wheel{Name: "tool", Version: "2.5", RequiresPy: ">=3.12"}, t0)
	ix.AddWheel(pypitest.Wheel{Name: "clickish", Version: "8.0"}, t0)
	// Requires-Python only in the metadata (the index does not publish it).
	ix.Add("clickish", &pypitest.File{Filename: "clickish-8.2-py3-none-any.whl",
		Body:     pypitest.Wheel{Name: "clickish", Version: "8.2", RequiresPy: ">=3.13"}.Build(),
		Metadata: pypitest.Wheel{Name: "clickish", Version: "8.2", RequiresPy: ">=3.13"}.Metadata(), Uploaded: t0})
	ix.AddWheel(pypitest.Wheel{Name: "clickish", Version: "8.1"}, t0.Add(48*time.Hour))
	ix.Add("sdonly", &pypitest.File{Filename: "sdonly-1.0.tar.gz", Body: []byte("x"), Uploaded: t0})
}

func TestLockBothAPIForms(t *testing.T) {
	for _, mode := range []string{"json", "html"} {
		t.Run(mode, func(t *testing.T) {
			srv := pypitest.NewIndex()
			defer srv.Close()
			srv.Mode = mode
			populate(srv)
			c, err := index.New(t.TempDir(), index.WithRetries(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			o := Options{Indexes: []index.Index{{Name: "test", URL: srv.SimpleURL()}}, Roots: roots(t, "app"), Target: target, Python: py}
			pins, err := Lock(context.Background(), c, o)
			if err != nil {
				t.Fatal(err)
			}
			want := "app==1.0@test:app-1.0-py3-none-any.whl clickish==8.1@test:clickish-8.1-py3-none-any.whl " +
				"fastlib==1.0@test:fastlib-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl tool==2.0@test:tool-2.0-py3-none-any.whl"
			if got := show(pins); got != want {
				t.Errorf("pins\n%s\nwant\n%s", got, want)
			}
			if mode == "json" {
				o.ExcludeNewer = t0.Add(time.Hour)
				pins, err := Lock(context.Background(), c, o)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(show(pins), "clickish==8.0") {
					t.Errorf("exclude_newer ignored: %s", show(pins))
				}
			}
			_, err = Lock(context.Background(), c, Options{Indexes: o.Indexes, Roots: roots(t, "sdonly"), Target: target, Python: py})
			if err == nil || !strings.Contains(err.Error(), "only source distributions") {
				t.Errorf("sdist-only: %v", err)
			}
		})
	}
}

func TestIndexPriorityAndAllowList(t *testing.T) {
	private := pypitest.NewIndex()
	defer private.Close()
	public := pypitest.NewIndex()
	defer public.Close()
	private.AddWheel(pypitest.Wheel{Name: "internal-lib", Version: "1.0"}, t0)
	public.AddWheel(pypitest.Wheel{Name: "internal-lib", Version: "99.0"}, t0) // a shadowing attempt
	public.AddWheel(pypitest.Wheel{Name: "fastlib", Version: "1.0", Tag: "cp311-abi3-manylinux_2_17_x86_64"}, t0)
	private.AddWheel(pypitest.Wheel{Name: "fastlib", Version: "5.0"}, t0)
	c, _ := index.New(t.TempDir(), index.WithRetries(0, 0))
	ixs := []index.Index{{Name: "private", URL: private.SimpleURL()}, {Name: "public", URL: public.SimpleURL()}}
	pins, err := Lock(context.Background(), c, Options{Indexes: ixs, Roots: roots(t, "internal-lib", "fastlib"), Target: target, Python: py})
	if err != nil {
		t.Fatal(err)
	}
	if got := show(pins); !strings.Contains(got, "internal-lib==1.0@private") || !strings.Contains(got, "fastlib==5.0@private") {
		t.Errorf("first index must win: %s", got)
	}
	ixs[1].Packages = []string{"fastlib"}
	pins, err = Lock(context.Background(), c, Options{Indexes: ixs, Roots: roots(t, "internal-lib", "fastlib"), Target: target, Python: py})
	if err != nil {
		t.Fatal(err)
	}
	if got := show(pins); !strings.Contains(got, "fastlib==1.0@public") {
		t.Errorf("allow-list must pin fastlib to public: %s", got)
	}
}

func TestLockCondaMixAndGarbage(t *testing.T) {
	srv := pypitest.NewIndex()
	defer srv.Close()
	populate(srv)
	srv.Garbage("broken", "<<<>>> not a page")
	c, _ := index.New(t.TempDir(), index.WithRetries(0, 0))
	o := Options{Indexes: []index.Index{{Name: "test", URL: srv.SimpleURL()}}, Target: target, Python: py,
		Provided: map[string]resolve.Provided{"fastlib": {Version: pep440.MustParse("0.9"), By: "conda package fastlib 0.9 (conda-forge)"}}}
	o.Roots = roots(t, "app")
	_, err := Lock(context.Background(), c, o)
	if err == nil || !strings.Contains(err.Error(), "conda package fastlib 0.9") || !strings.Contains(err.Error(), "fastlib>=1 (from app==1.0)") || strings.Contains(err.Error(), "\n") {
		t.Errorf("conda+pip conflict: %v", err)
	}
	o.Roots = roots(t, "broken")
	_, err = Lock(context.Background(), c, o)
	if err == nil || !strings.Contains(err.Error(), "not a simple repository API page") || strings.Contains(err.Error(), "\n") {
		t.Errorf("garbage index: %v", err)
	}
}

// generated serves n packages, each with 5 versions and a few dependencies on later
// packages, so a resolve visits every page and several metadata files.
func generated(n int) *pypitest.Index {
	srv := pypitest.NewIndex()
	for i := 0; i < n; i++ {
		for v := 1; v <= 5; v++ {
			var reqs []string
			for _, d := range []int{i + 1, i + 3, i + 7} {
				if d < n {
					reqs = append(reqs, fmt.Sprintf("pkg%d>=1.0", d))
				}
			}
			srv.AddWheel(pypitest.Wheel{Name: fmt.Sprintf("pkg%d", i), Version: fmt.Sprintf("%d.0", v), Requires: reqs}, t0)
		}
	}
	return srv
}

// BenchmarkWarmLock30 locks a recipe of 30 PyPI packages against a warm cache (pages
// revalidated with ETags over HTTP on 127.0.0.1, metadata from the cache).
func BenchmarkWarmLock30(b *testing.B) {
	srv := generated(30)
	defer srv.Close()
	dir := b.TempDir()
	var rs []string
	for i := 0; i < 30; i++ {
		rs = append(rs, fmt.Sprintf("pkg%d", i))
	}
	o := Options{Indexes: []index.Index{{Name: "gen", URL: srv.SimpleURL()}}, Roots: roots(b, rs...), Target: target, Python: py}
	c, _ := index.New(dir)
	if pins, err := Lock(context.Background(), c, o); err != nil || len(pins) != 30 {
		b.Fatalf("cold lock: %d pins, %v", len(pins), err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, _ := index.New(dir)
		if _, err := Lock(context.Background(), c, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkColdLock30 is the same from an empty cache.
func BenchmarkColdLock30(b *testing.B) {
	srv := generated(30)
	defer srv.Close()
	var rs []string
	for i := 0; i < 30; i++ {
		rs = append(rs, fmt.Sprintf("pkg%d", i))
	}
	o := Options{Indexes: []index.Index{{Name: "gen", URL: srv.SimpleURL()}}, Roots: roots(b, rs...), Target: target, Python: py}
	for i := 0; i < b.N; i++ {
		c, _ := index.New(b.TempDir())
		if _, err := Lock(context.Background(), c, o); err != nil {
			b.Fatal(err)
		}
	}
}
