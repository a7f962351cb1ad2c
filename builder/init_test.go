package builder

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

// packageSet is the (platform, URL, md5, sha256) set of a lock, as sorted strings.
func packageSet(l *lock.Lock) []string {
	var out []string
	for _, t := range l.Targets {
		for _, p := range t.Packages {
			out = append(out, t.Platform+" "+p.URL+" "+p.MD5+" "+p.SHA256)
		}
	}
	sort.Strings(out)
	return out
}

func TestInitFromLocks(t *testing.T) {
	tests := []struct {
		from   string
		format string
		export string
		reread func([]byte) (*lock.Lock, error)
	}{
		{"rattler/python/explicit-env-linux-64.txt", InitFromExplicit, FormatExplicit, lock.ImportExplicit},
		{"conda-lock/zlib/conda-linux-64.lock", InitFromExplicit, FormatExplicit, lock.ImportExplicit},
		{"conda-lock/test-explicit-toposorted/conda-lock.yml", InitFromCondaLock, FormatCondaLock, lock.ImportCondaLock},
		{"conda-lock/test-environment-blas-mkl/conda-lock.yml", InitFromCondaLock, FormatCondaLock, lock.ImportCondaLock},
		// manager: pip entries: kept in the lock, pinned in dependencies.pip, not stale.
		{"conda-lock/test-install-with-pip-deps/conda-lock.yml", InitFromCondaLock, FormatCondaLock, lock.ImportCondaLock},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(lockfiles, tt.from)
			res, err := Init(InitOptions{From: src, OutDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tt.format || res.LockPath == "" {
				t.Fatalf("result %+v: want format %s and a lock", res, tt.format)
			}
			r, err := LoadRecipe(res.RecipePath, nil)
			if err != nil {
				t.Fatalf("the written recipe does not load: %v", err)
			}
			l, err := LoadLock(r)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tt.from, "pip") {
				if len(r.Dependencies.Pip) == 0 || len(r.PyPI) != 1 || len(l.Targets[0].Pip) == 0 {
					t.Fatalf("pip packages not carried over: recipe %+v, lock %d", r.Dependencies.Pip, len(l.Targets[0].Pip))
				}
				if err := CheckLock(r, l); err != nil {
					t.Errorf("a lock with pip packages is stale after init: %v", err)
				}
			}
			if err := CheckLock(r, l); err != nil {
				// Only problems of the input itself may remain (e.g. md5-only packages).
				for _, reason := range err.(*lock.StaleError).Reasons {
					if strings.Contains(reason, "recipe changed") || strings.Contains(reason, "is not locked") || strings.Contains(reason, "the lock's") {
						t.Errorf("fresh init lock is stale: %s", reason)
					}
				}
			}
			orig, err := tt.reread(testutil.ReadFile(t, src))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(packageSet(orig), packageSet(l)); diff != "" {
				t.Errorf("lock packages differ from the input (-input +lock):\n%s", diff)
			}
			out, err := Export(r, l, ExportOptions{Format: tt.export})
			if err != nil {
				t.Fatal(err)
			}
			back, err := tt.reread(out)
			if err != nil {
				t.Fatalf("export does not read back: %v", err)
			}
			if diff := cmp.Diff(packageSet(orig), packageSet(back)); diff != "" {
				t.Errorf("exported packages differ from the input (-input +export):\n%s", diff)
			}
			// The recipe changes: the lock is now stale and export says so.
			f, _ := os.OpenFile(res.RecipePath, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("solver {\n  channel_priority = \"flexible\"\n}\n")
			f.Close()
			r2, err := LoadRecipe(res.RecipePath, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Export(r2, l, ExportOptions{Format: tt.export}); err == nil || !strings.Contains(err.Error(), "reprobuild lock") {
				t.Errorf("export of a stale lock: %v", err)
			}
			// A second init does not overwrite without Force.
			if _, err := Init(InitOptions{From: src, OutDir: dir}); err == nil || !strings.Contains(err.Error(), "--force") {
				t.Errorf("second init: %v, want a refusal naming --force", err)
			}
			if _, err := Init(InitOptions{From: src, OutDir: dir, Force: true}); err != nil {
				t.Errorf("init with Force: %v", err)
			}
		})
	}
}

func TestInitFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "environment.yml")
	testutil.WriteFile(t, env, `name: analysis
channels:
  - conda-forge
  - https://example.org/conda/lab/
  - nodefaults
dependencies:
  - python=3.11
  - numpy=1.26
  - scipy>=1.11
  - pandas=2.2.1=py311_0
  - conda-forge::xarray
  - pip
  - pip:
      - requests==2.31.0
      - git+https://example.org/x.git
`)
	out := filepath.Join(dir, "out")
	res, err := Init(InitOptions{From: env, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.LockPath != "" {
		t.Errorf("init from environment.yml wrote a lock %s", res.LockPath)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "git+https://example.org/x.git") {
		t.Errorf("warnings %q: want one about the direct URL pip entry", res.Warnings)
	}
	r, err := LoadRecipe(res.RecipePath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Dependencies.Pip) != 1 || r.Dependencies.Pip[0].Text != "requests==2.31.0" || len(r.PyPI) != 1 {
		t.Errorf("pip %+v, indexes %+v: want requests==2.31.0 from pypi", r.Dependencies.Pip, r.PyPI)
	}
	var specs []string
	for _, s := range r.RootSpecs() {
		specs = append(specs, s.Text)
	}
	want := []string{"python 3.11.*", "numpy 1.26.*", "scipy >=1.11", "pandas 2.2.1 py311_0", "conda-forge::xarray", "pip"}
	if diff := cmp.Diff(want, specs); diff != "" {
		t.Errorf("root specs (-want +got):\n%s", diff)
	}
	var chans []string
	for _, c := range r.Channels {
		chans = append(chans, c.Name+"="+c.URL)
	}
	if diff := cmp.Diff([]string{"conda-forge=https://conda.anaconda.org/conda-forge", "lab=https://example.org/conda/lab"}, chans); diff != "" {
		t.Errorf("channels (-want +got):\n%s", diff)
	}
	if r.Image.Name != "analysis" {
		t.Errorf("image name %q, want analysis", r.Image.Name)
	}
}

func TestConvertSpec(t *testing.T) {
	tests := []struct{ in, want string }{
		{"numpy", "numpy"},
		{"numpy=1.26", "numpy 1.26.*"},
		{"numpy=1.26.*", "numpy 1.26.*"},
		{"numpy=1.26.4=py311_0", "numpy 1.26.4 py311_0"},
		{"numpy==1.26.4", "numpy ==1.26.4"},
		{"numpy>=1.26,<2", "numpy >=1.26,<2"},
		{"numpy >=1.26", "numpy >=1.26"},
		{"conda-forge::numpy=1.26", "conda-forge::numpy 1.26.*"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := convertSpec(tt.in); got != tt.want {
				t.Errorf("convertSpec(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestInitPythonPatch(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "environment.yml")
	testutil.WriteFile(t, env, "channels: [conda-forge]\ndependencies:\n  - python=3.8.5\n  - numpy\n")
	res, err := Init(InitOptions{From: env, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRecipe(res.RecipePath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Python == nil || r.Python.Version != "3.8.5" || r.PythonSpec() != "python 3.8.5.*" {
		t.Errorf("python block %+v, want version 3.8.5", r.Python)
	}
}

func TestInitFromRealEnvironments(t *testing.T) {
	for _, p := range []string{"repo2docker/buildpacks/environment.py-3.10.yml", "rattler/environments/conda_lock_dev.environment.yaml", "conda-lock/zlib/environment.yml"} {
		t.Run(p, func(t *testing.T) {
			res, err := Init(InitOptions{From: filepath.Join(lockfiles, p), OutDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := LoadRecipe(res.RecipePath, nil); err != nil {
				t.Errorf("written recipe does not load: %v", err)
			}
		})
	}
}

func TestInitFromPixi(t *testing.T) {
	res, err := Init(InitOptions{From: filepath.Join(lockfiles, "pixi/simple-calculator/pixi.lock"), OutDir: t.TempDir()})
	if err != nil || res.Format != InitFromPixi || res.LockPath == "" {
		t.Fatalf("init from a pixi.lock (format 6): %+v, %v", res, err)
	}
	// Format 5 is refused, naming the file kind and its version.
	_, err = Init(InitOptions{From: filepath.Join(lockfiles, "pixi/conda_mapping/pixi.lock"), OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "pixi.lock") || !strings.Contains(err.Error(), "version 5") {
		t.Errorf("init from a format 5 pixi.lock: %v, want an error naming pixi.lock and version 5", err)
	}
}
