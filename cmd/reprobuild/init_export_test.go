package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

func urls(l *lock.Lock) []string {
	var out []string
	for _, t := range l.Targets {
		for _, p := range t.Packages {
			out = append(out, t.Platform+" "+p.URL+" "+p.SHA256+" "+p.MD5)
		}
	}
	sort.Strings(out)
	return out
}

// TestInitThenExport drives the two commands as a user would: init from a real
// conda-lock.yml, then export the lock back in each format.
func TestInitThenExport(t *testing.T) {
	src := "../../testdata/conda/lockfiles/conda-lock/test-environment-blas-mkl/conda-lock.yml"
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := lock.ImportCondaLock(data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stdout, stderr, err := run(t, "init", "--from", src, "-o", dir)
	if err != nil {
		t.Fatalf("init: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "reprobuild.lock") {
		t.Errorf("init output %q does not name the lock", stdout)
	}
	recipe := filepath.Join(dir, "reprobuild.hcl")
	stdout, _, err = run(t, "export", "-f", recipe, "--format", "conda-lock")
	if err != nil {
		t.Fatalf("export conda-lock: %v", err)
	}
	back, err := lock.ImportCondaLock([]byte(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(urls(orig), urls(back)); diff != "" {
		t.Errorf("conda-lock export (-input +export):\n%s", diff)
	}
	outFile := filepath.Join(dir, "explicit.txt")
	if _, _, err := run(t, "export", "-f", dir, "--format", "explicit", "--platform", "linux-64", "-o", outFile); err != nil {
		t.Fatalf("export explicit: %v", err)
	}
	ex, err := lock.ImportExplicit(testutil.ReadFile(t, outFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ex.Targets[0].Packages), len(orig.Target("linux-64").Packages); got != want {
		t.Errorf("explicit export has %d packages, want %d", got, want)
	}
	if _, _, err := run(t, "export", "-f", recipe, "--format", "environment"); err != nil {
		t.Errorf("export environment: %v", err)
	}
	for _, bad := range [][]string{
		{"export", "-f", recipe},
		{"export", "-f", recipe, "--format", "yaml"},
		{"export", "-f", recipe, "--format", "explicit", "--platform", "linux-ppc64le"},
		{"export", "-f", recipe, "--format", "explicit", "--var", "novalue"},
		{"init"},
		{"init", "--from", src, "-o", dir},
	} {
		if _, _, err := run(t, bad...); err == nil || strings.Contains(err.Error(), "not implemented") {
			t.Errorf("%v: error %v, want a specific failure", bad, err)
		}
	}
}
