package builder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

const lockfiles = "../testdata/conda/lockfiles"

func TestLoadRecipeErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reprobuild.hcl")
	testutil.WriteFile(t, path, "python { version = \"3.11\" }\nchannel \"cf\" { url = \"https://conda.anaconda.org/conda-forge\" }\ndependencies { conda = [\"numpy >=\"] }\nplatform { targets = [\"linux-128\"] }\n")
	_, err := LoadRecipe(path, nil)
	var re *RecipeError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *RecipeError", err)
	}
	msg := err.Error()
	first, rest, _ := strings.Cut(msg, "\n")
	if want := "recipe " + path + " has 2 errors; fix them and run again:"; first != want {
		t.Errorf("first line %q, want %q", first, want)
	}
	for _, s := range []string{"reprobuild.hcl:3:32:", `"numpy >="`, "reprobuild.hcl:4:23:", "linux-128"} { // file:line:col
		if !strings.Contains(rest, s) {
			t.Errorf("rendered diagnostics lack %q:\n%s", s, rest)
		}
	}
	if _, err := LoadRecipe(filepath.Join(dir, "missing.hcl"), nil); err == nil || !strings.Contains(err.Error(), "missing.hcl") {
		t.Errorf("missing recipe: %v", err)
	}
}

func TestLoadRecipeVarsAndWarnings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reprobuild.hcl")
	testutil.WriteFile(t, path, "variable \"cuda\" { default = \"12.4\" }\nhardware { cuda = var.cuda }\nimage \"x\" { base = \"debian:bookworm\" }\n")
	r, err := LoadRecipe(path, map[string]string{"cuda": "12.2"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Hardware.Cuda != "12.2" {
		t.Errorf("cuda = %q, want the --var value 12.2", r.Hardware.Cuda)
	}
	if w := RenderWarnings(r); !strings.Contains(w, "Base image not pinned") {
		t.Errorf("warnings %q lack the unpinned base", w)
	}
}

func TestLockReadWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reprobuild.hcl")
	testutil.WriteFile(t, path, "channel \"cf\" { url = \"https://conda.anaconda.org/conda-forge\" }\n")
	r, err := LoadRecipe(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if byDir, err := LoadRecipe(dir, nil); err != nil || byDir.Hash() != r.Hash() {
		t.Errorf("LoadRecipe(dir) = %v, want the recipe in it", err)
	}
	if got, want := LockPath(r), filepath.Join(dir, "reprobuild.lock"); got != want {
		t.Errorf("LockPath = %q, want %q", got, want)
	}
	var missing *MissingLockError
	if _, err := LoadLock(r); !errors.As(err, &missing) {
		t.Fatalf("LoadLock without a lock: %v, want *MissingLockError", err)
	}
	l, err := lock.ImportExplicit(testutil.ReadFile(t, filepath.Join(lockfiles, "rattler/python/explicit-env-linux-64.txt")))
	if err != nil {
		t.Fatal(err)
	}
	l.RecipeHash = r.Hash()
	if err := WriteLock(r, l); err != nil {
		t.Fatal(err)
	}
	got, err := LoadLock(r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(l, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("lock changed through WriteLock/LoadLock (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d files, want recipe and lock only (no temporary left)", len(entries))
	}
	testutil.WriteFile(t, LockPath(r), "version 1\nbogus line\n")
	if _, err := LoadLock(r); err == nil || !strings.Contains(err.Error(), "reprobuild.lock: line 2") {
		t.Errorf("malformed lock error %v should name the file and line", err)
	}
}

func TestNewLockAndCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reprobuild.hcl")
	digest := "sha256:" + strings.Repeat("ab", 32)
	testutil.WriteFile(t, path, `image "a" { base = "registry.example/debian@`+digest+`" }
channel "cf" {
  url     = "https://conda.anaconda.org/conda-forge"
  mirrors = ["https://mirror.example/conda-forge"]
}
solver { exclude_newer = "2024-05-16T00:00:00Z" }
data "w" {
  url    = "https://example.org/w"
  sha256 = "`+strings.Repeat("0f", 32)+`"
  path   = "/data/w"
}
`)
	r, err := LoadRecipe(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLock(r)
	want := &lock.Lock{
		Version:    lock.FormatVersion,
		RecipeHash: r.Hash(),
		Channels:   []lock.Channel{{Name: "cf", URL: "https://conda.anaconda.org/conda-forge"}},
		Solver:     lock.Solver{ChannelPriority: "strict", ExcludeNewer: "2024-05-16T00:00:00Z"},
		Base:       lock.Base{Ref: "registry.example/debian", Digest: digest},
		Data:       []lock.Data{{Name: "w", URL: "https://example.org/w", SHA256: strings.Repeat("0f", 32), Path: "/data/w", Mode: "bake"}},
	}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("NewLock (-want +got):\n%s", diff)
	}
	// No target yet: CheckLock says linux-64 is missing.
	err = CheckLock(r, l)
	var se *lock.StaleError
	if !errors.As(err, &se) || len(se.Reasons) != 1 || !strings.Contains(se.Reasons[0], "target linux-64 is not locked") {
		t.Errorf("CheckLock = %v, want only the missing target", err)
	}
	l.Targets = []lock.Target{{Platform: "linux-64"}}
	if err := CheckLock(r, l); err != nil {
		t.Errorf("CheckLock of a complete lock: %v", err)
	}
	// Hand edits that leave the recipe hash alone are still caught.
	edits := []struct {
		name   string
		edit   func(l *lock.Lock)
		reason string
	}{
		{"channel url", func(l *lock.Lock) { l.Channels[0].URL = "https://evil.example/cf" }, "channels"},
		{"exclude_newer", func(l *lock.Lock) { l.Solver.ExcludeNewer = "" }, "solver settings"},
		{"base digest", func(l *lock.Lock) { l.Base.Digest = "sha256:" + strings.Repeat("cd", 32) }, "base"},
		{"data sha256", func(l *lock.Lock) { l.Data[0].SHA256 = strings.Repeat("1f", 32) }, "data sources"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			l := NewLock(r)
			l.Targets = []lock.Target{{Platform: "linux-64"}}
			e.edit(l)
			err := CheckLock(r, l)
			var se *lock.StaleError
			if !errors.As(err, &se) || len(se.Reasons) != 1 || !strings.Contains(se.Reasons[0], e.reason) {
				t.Errorf("CheckLock = %v, want one reason about %s", err, e.reason)
			}
		})
	}
}

func TestVirtualPackages(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reprobuild.hcl")
	testutil.WriteFile(t, path, `platform {
  targets = ["linux-64", "linux-aarch64"]
  glibc   = "2.17"
}
hardware {
  cuda = "12.4"
  cpu  = "x86_64_v3"
}
`)
	r, err := LoadRecipe(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		platform string
		want     []lock.VirtualPackage
	}{
		{"linux-64", []lock.VirtualPackage{
			{Name: "__archspec", Version: "1", Build: "x86_64_v3"}, {Name: "__cuda", Version: "12.4", Build: "0"},
			{Name: "__glibc", Version: "2.17", Build: "0"}, {Name: "__linux", Version: "4.18", Build: "0"}, {Name: "__unix", Version: "0", Build: "0"},
		}},
		{"linux-aarch64", []lock.VirtualPackage{
			{Name: "__archspec", Version: "1", Build: "aarch64"}, {Name: "__cuda", Version: "12.4", Build: "0"},
			{Name: "__glibc", Version: "2.17", Build: "0"}, {Name: "__linux", Version: "4.18", Build: "0"}, {Name: "__unix", Version: "0", Build: "0"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.platform, func(t *testing.T) {
			recs, err := VirtualPackages(r, tt.platform)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, LockVirtual(recs)); diff != "" {
				t.Errorf("virtual packages (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := VirtualPackages(r, "linux-128"); err == nil {
		t.Error("unknown platform accepted")
	}
}

// hardware.cpu reaches the solver for the targets of its family, whatever archspec name
// it is (not only the generic x86_64_vN levels), and no other target.
func TestVirtualPackagesCPUFamilies(t *testing.T) {
	tests := []struct {
		cpu     string
		targets string
		want    map[string]string // platform -> __archspec build
	}{
		{"zen3", `["linux-64", "linux-aarch64"]`, map[string]string{"linux-64": "zen3", "linux-aarch64": "aarch64"}},
		{"haswell", `["linux-64", "osx-64"]`, map[string]string{"linux-64": "haswell", "osx-64": "haswell"}},
		{"neoverse_v1", `["linux-64", "linux-aarch64"]`, map[string]string{"linux-64": "x86_64", "linux-aarch64": "neoverse_v1"}},
		{"m2", `["osx-arm64", "linux-aarch64"]`, map[string]string{"osx-arm64": "m2", "linux-aarch64": "m2"}},
		{"armv8.2a", `["linux-aarch64"]`, map[string]string{"linux-aarch64": "armv8.2a"}},
		{"power9le", `["linux-ppc64le", "linux-64"]`, map[string]string{"linux-ppc64le": "power9le", "linux-64": "x86_64"}},
		{"x86_64_v5", `["linux-64"]`, map[string]string{"linux-64": "x86_64_v5"}}, // not in the table: warned, applied
	}
	for _, tt := range tests {
		t.Run(tt.cpu, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "reprobuild.hcl")
			testutil.WriteFile(t, path, "platform { targets = "+tt.targets+" }\nhardware { cpu = \""+tt.cpu+"\" }\n")
			r, err := LoadRecipe(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for platform, want := range tt.want {
				recs, err := VirtualPackages(r, platform)
				if err != nil {
					t.Fatal(err)
				}
				got := ""
				for _, v := range recs {
					if v.Name == "__archspec" {
						got = v.Build
					}
				}
				if got != want {
					t.Errorf("%s: __archspec %q, want %q", platform, got, want)
				}
			}
		})
	}
}
