package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
)

// TestDamagedLockRefused: a lock from which the package a root spec needs was removed
// (its recipe hash still matching) is refused by `lock --check`, by a --locked image
// build, by verify and by llb, each naming the spec and its recipe line; --frozen (the
// lock as it is, as pixi and uv mean it) still refuses a lock broken on its own terms.
func TestDamagedLockRefused(t *testing.T) {
	recipe, rec, _ := writeProject(t)
	r, err := builder.LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := builder.NewLock(r)
	l.Targets = []lock.Target{{Platform: "linux-64"}} // "hello" removed
	data, err := lock.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(filepath.Dir(recipe), lock.Filename)
	if err := os.WriteFile(lockPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	for _, args := range [][]string{
		{"lock", "--check", "-f", recipe},
		{"image", "-f", recipe, "--locked", "--offline", "--output", "oci:" + out},
		{"verify", "-f", recipe},
		{"llb", "-f", recipe},
	} {
		_, _, err := run(t, args...)
		if err == nil {
			t.Errorf("%v accepted a lock without the root package", args)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, `recipe spec "hello"`) || !strings.Contains(msg, "reprobuild.hcl:3:") {
			t.Errorf("%v: %v: want the spec and its recipe line named", args, msg)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a --locked build from a damaged lock wrote an output")
	}

	// --frozen uses the lock unchecked against the recipe, but not a lock that cannot
	// give a working environment: a locked package whose dependency was removed.
	hello := rec
	hello.Depends = []string{"libhello >=1"}
	l.Targets = []lock.Target{{Platform: "linux-64", Packages: []conda.PackageRecord{hello}}}
	if data, err = lock.Marshal(l); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, "image", "-f", recipe, "--frozen", "--offline", "--output", "oci:"+out)
	if err == nil || !strings.Contains(err.Error(), `depends on "libhello >=1" but no libhello is locked`) {
		t.Errorf("--frozen with a dependency removed: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a --frozen build from a damaged lock wrote an output")
	}
}
