package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/lock"
)

// examplesCopy copies the examples a recipe refers to into a temporary directory, so a
// test may relock or edit them, and returns that copy's examples directory.
func examplesCopy(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "examples")
	for _, d := range []string{"channel", "bases", "quickstart", "multiarch"} {
		if err := os.CopyFS(filepath.Join(dst, d), os.DirFS(filepath.Join("..", "..", "examples", d))); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("REPROBUILD_CACHE", filepath.Join(t.TempDir(), "cache"))
	return dst
}

// editQuickstart adds a dependency to the quickstart recipe, which makes its lock stale.
func editQuickstart(t *testing.T, recipe string) {
	t.Helper()
	src, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), `"test-package",`, `"test-package", "_r-mutex",`, 1)
	if edited == string(src) {
		t.Fatal("could not edit the quickstart recipe")
	}
	if err := os.WriteFile(recipe, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
}

func codeOf(err error) int {
	if err == nil {
		return 0
	}
	return exitCode(err)
}

// TestExitCodes checks the documented exit codes: usage 2, stale lock 3 (audit 4 and
// verify 5 are checked by their own tests).
func TestExitCodes(t *testing.T) {
	ex := examplesCopy(t)
	recipe := filepath.Join(ex, "quickstart", "reprobuild.hcl")
	editQuickstart(t, recipe)
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"unknown command", []string{"nosuchcommand"}, exitUsage},
		{"unknown flag", []string{"image", "--nosuchflag"}, exitUsage},
		{"missing argument", []string{"inspect"}, exitUsage},
		{"extra argument", []string{"lock", "-f", recipe, "extra"}, exitUsage},
		{"exclusive flags", []string{"image", "-f", recipe, "--locked", "--frozen", "--output", "oci:" + out}, exitUsage},
		{"lock --check stale", []string{"lock", "-f", recipe, "--check"}, exitStaleLock},
		{"image --locked stale", []string{"image", "-f", recipe, "--offline", "--locked", "--output", "oci:" + out}, exitStaleLock},
		{"broken recipe", []string{"lock", "-f", filepath.Join(ex, "nosuch.hcl"), "--check"}, exitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, tc.args...)
			if got := codeOf(err); got != tc.want {
				t.Errorf("%v: exit %d (%v), want %d", tc.args, got, err, tc.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused build left %s behind", out)
	}
}

// TestLockedAndFrozen: --locked refuses a stale lock, --frozen builds from it unchecked,
// as pixi, uv and cargo mean the two flags.
func TestLockedAndFrozen(t *testing.T) {
	ex := examplesCopy(t)
	recipe := filepath.Join(ex, "quickstart", "reprobuild.hcl")
	lockFile := filepath.Join(ex, "quickstart", "reprobuild.lock")
	fresh, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--output", "oci:"+filepath.Join(t.TempDir(), "a"))
	if err != nil {
		t.Fatalf("--locked with an up-to-date lock: %v", err)
	}
	before, _ := os.ReadFile(lockFile)
	editQuickstart(t, recipe)
	if _, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--output", "oci:"+filepath.Join(t.TempDir(), "b")); codeOf(err) != exitStaleLock || !strings.Contains(err.Error(), "--locked") {
		t.Errorf("--locked with a stale lock: %v, want exit 3 naming --locked", err)
	}
	frozen, _, err := run(t, "image", "-f", recipe, "--offline", "--frozen", "--output", "oci:"+filepath.Join(t.TempDir(), "c"))
	if err != nil {
		t.Fatalf("--frozen with a stale lock: %v", err)
	}
	if frozen != fresh {
		t.Errorf("--frozen built %s from the unchanged lock, want %s", frozen, fresh)
	}
	if after, _ := os.ReadFile(lockFile); string(after) != string(before) {
		t.Error("--frozen rewrote the lock")
	}
}

func TestLockCheckJSONAndShow(t *testing.T) {
	ex := examplesCopy(t)
	recipe := filepath.Join(ex, "quickstart", "reprobuild.hcl")
	var res struct {
		Path     string   `json:"path"`
		UpToDate bool     `json:"up_to_date"`
		Reasons  []string `json:"reasons"`
	}
	out, _, err := run(t, "lock", "-f", recipe, "--check", "--json")
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || !res.UpToDate || len(res.Reasons) != 0 {
		t.Fatalf("lock --check --json on a fresh lock: %v\n%s", err, out)
	}

	out, _, err = run(t, "show", "-f", recipe, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var l lock.Lock
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Targets) != 1 || len(l.Targets[0].Packages) != 3 {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	if p := l.Targets[0].Packages[0]; p.Name != "hello-reprobuild" || len(p.SHA256) != 64 {
		t.Errorf("show --json first package = %+v", p)
	}
	if out, _, err := run(t, "show", "-f", recipe); err != nil || !strings.Contains(out, "linux-64 (3 packages)") || !strings.Contains(out, "small-executable") {
		t.Errorf("show: %v\n%s", err, out)
	}
	if _, _, err := run(t, "show", "-f", recipe, "--platform", "osx-64"); err == nil || !strings.Contains(err.Error(), "linux-64") {
		t.Errorf("show --platform osx-64: %v, want the targets listed", err)
	}

	editQuickstart(t, recipe)
	out, _, err = run(t, "lock", "-f", recipe, "--check", "--json")
	if codeOf(err) != exitStaleLock {
		t.Errorf("lock --check --json on a stale lock: exit %d (%v), want 3", codeOf(err), err)
	}
	res = struct {
		Path     string   `json:"path"`
		UpToDate bool     `json:"up_to_date"`
		Reasons  []string `json:"reasons"`
	}{}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.UpToDate || len(res.Reasons) == 0 {
		t.Errorf("lock --check --json on a stale lock printed %q (%v), want JSON with reasons", out, err)
	}
}

func TestLockUpdateUnknownName(t *testing.T) {
	ex := examplesCopy(t)
	recipe := filepath.Join(ex, "quickstart", "reprobuild.hcl")
	_, _, err := run(t, "lock", "-f", recipe, "--offline", "--update", "nosuchname")
	if err == nil || !strings.Contains(err.Error(), "nosuchname") {
		t.Errorf("lock --update nosuchname: %v, want an error naming it", err)
	}
	if _, _, err := run(t, "lock", "-f", recipe, "--offline", "--update", "test-package"); err != nil {
		t.Errorf("lock --update test-package: %v", err)
	}
}
