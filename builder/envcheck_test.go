package builder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// TestCheckPackageLayers: the embedded engine's whole-environment verdict is the same
// whether the groups were just linked or are read back from cached layers, and a passed
// verdict is remembered only for the exact set of cached groups.
func TestCheckPackageLayers(t *testing.T) {
	mk := func(name string, files ...pkgmaker.File) pkgmaker.Package {
		return pkgmaker.Package{Record: conda.PackageRecord{Name: name, Version: "1", Build: "0", Subdir: "linux-64"}, Files: files}
	}
	ln := func(p, target string) pkgmaker.File { return pkgmaker.File{Path: p, Symlink: target} }
	build := func(t *testing.T, pkgs ...pkgmaker.Package) ([]v1.Layer, [][]install.Entry) {
		dir := t.TempDir()
		var layers []v1.Layer
		var shapes [][]install.Entry
		for _, p := range pkgs {
			rec, err := pkgmaker.Write(dir, p, pkgmaker.Conda)
			if err != nil {
				t.Fatal(err)
			}
			trees, _, err := install.LinkAll(context.Background(), []install.Package{{Record: rec, Archive: filepath.Join(dir, rec.Fn)}}, install.Options{})
			if err != nil {
				t.Fatal(err)
			}
			shape := install.ShapeOfTrees(trees)
			var entries []install.Entry
			for _, tr := range trees {
				entries = append(entries, tr.Entries...)
			}
			l, err := image.LayerFromEntries(entries, image.LayerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			layers = append(layers, l)
			shapes = append(shapes, shape)
		}
		return layers, shapes
	}
	cache := layerCache{dir: t.TempDir()}

	layers, shapes := build(t, mk("a", ln("lib/py", ".")), mk("b", ln("lib/esc", "py/py/py/../../../..")))
	fresh := checkPackageLayers(cache, []string{"k1", "k2"}, "/opt/env", layers, shapes)
	cached := checkPackageLayers(cache, []string{"k1", "k2"}, "/opt/env", layers, nil)
	if fresh == nil || cached == nil || fresh.Error() != cached.Error() {
		t.Fatalf("verdicts differ or accept an escape:\n fresh:  %v\n cached: %v", fresh, cached)
	}
	if _, err := os.Stat(envCheckMarker(cache, []string{"k1", "k2"}, "/opt/env")); err == nil {
		t.Error("a refused environment was remembered as checked")
	}

	layers, _ = build(t, mk("a", ln("lib/py", ".")), mk("b", ln("lib/ok", "py/lib")))
	if err := checkPackageLayers(cache, []string{"k3", "k4"}, "/opt/env", layers, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(envCheckMarker(cache, []string{"k3", "k4"}, "/opt/env")); err != nil {
		t.Errorf("passed verdict not remembered: %v", err)
	}
}

// TestEmbeddedRefusesEscapeTogether builds, with the embedded engine end to end, a lock
// whose packages are safe alone but escape the prefix together: the build is refused
// with install.CheckEnvironment's verdict (the one the BuildKit link step gives, see
// TestBuildKitEngine) and no output is written.
func TestEmbeddedRefusesEscapeTogether(t *testing.T) {
	dir := t.TempDir()
	ch := filepath.Join(dir, "channel")
	var recs []conda.PackageRecord
	var shapes [][]install.Entry
	for _, p := range []pkgmaker.Package{
		{Record: conda.PackageRecord{Name: "aa", Version: "1", Build: "0", Subdir: "linux-64"}, Files: []pkgmaker.File{{Path: "lib/py", Symlink: "."}}},
		{Record: conda.PackageRecord{Name: "bb", Version: "1", Build: "0", Subdir: "linux-64"}, Files: []pkgmaker.File{{Path: "lib/esc", Symlink: "py/py/py/../../../.."}}},
	} {
		rec, err := pkgmaker.Write(filepath.Join(ch, "linux-64"), p, pkgmaker.Conda)
		if err != nil {
			t.Fatal(err)
		}
		trees, _, err := install.LinkAll(context.Background(), []install.Package{{Record: rec, Archive: filepath.Join(ch, "linux-64", rec.Fn)}}, install.Options{})
		if err != nil {
			t.Fatal(err)
		}
		shapes = append(shapes, install.ShapeOfTrees(trees))
		rec.URL = "file://" + filepath.Join(ch, "linux-64", rec.Fn)
		rec.Channel = "file://" + ch
		recs = append(recs, rec)
	}
	want := install.CheckEnvironment("/opt/env", shapes...)
	recipe := filepath.Join(dir, "reprobuild.hcl")
	src := "channel \"c\" { url = \"./channel\" }\ndependencies {\n  conda = [\"aa\", \"bb\"]\n}\nplatform { targets = [\"linux-64\"] }\n"
	if err := os.WriteFile(recipe, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLock(r)
	for i := range recs {
		recs[i].URL = "channel/linux-64/" + recs[i].Fn
		recs[i].Channel = "channel"
	}
	l.Targets = []lock.Target{{Platform: "linux-64", Packages: recs}}
	if err := WriteLock(r, l); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, budget := range []int{1, 16} { // one group, and a group per package
		_, err := Image(context.Background(), ImageOptions{Recipe: recipe, Locked: true, Output: "oci:" + out, LayerBudget: budget,
			Channel: ChannelOptions{CacheDir: filepath.Join(dir, "cache"), Offline: true}})
		if err == nil || want == nil || !strings.Contains(err.Error(), want.Error()) {
			t.Fatalf("layers %d: err = %v, want %v", budget, err, want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatal("an output was written")
		}
	}
}
