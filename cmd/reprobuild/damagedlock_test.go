package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/lock"
)

// TestDamagedLockRefused: a lock from which the package a root spec needs was removed
// (its recipe hash still matching) is refused by `lock --check`, by a --locked image
// build, by verify and by llb, each naming the spec and its recipe line. (--frozen uses
// the lock as it is, unchecked, as pixi and uv mean it.)
func TestDamagedLockRefused(t *testing.T) {
	recipe, _, _ := writeProject(t)
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
}
