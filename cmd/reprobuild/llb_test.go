package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/client/llb"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// writeProject writes a file:// channel with one package, a recipe and its lock.
func writeProject(t *testing.T) (recipe string, rec conda.PackageRecord, chDir string) {
	t.Helper()
	dir := t.TempDir()
	chDir = filepath.Join(dir, "channel")
	rec, err := pkgmaker.Write(filepath.Join(chDir, "linux-64"), pkgmaker.Package{
		Record: conda.PackageRecord{Name: "hello", Version: "1.0", Build: "0", Subdir: "linux-64"},
		Files:  []pkgmaker.File{{Path: "bin/hello", Data: []byte("#!/bin/sh\necho hi\n"), Mode: 0o755}},
	}, pkgmaker.Conda)
	if err != nil {
		t.Fatal(err)
	}
	rec.URL = "file://" + filepath.Join(chDir, "linux-64", rec.Fn)
	rec.Channel = "file://" + chDir
	recipe = filepath.Join(dir, "reprobuild.hcl")
	src := "channel \"local\" { url = \"./channel\" }\ndependencies {\n  conda = [\"hello\"]\n}\nplatform { targets = [\"linux-64\"] }\n"
	if err := os.WriteFile(recipe, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := builder.LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := builder.NewLock(r)
	l.Targets = []lock.Target{{Platform: "linux-64", Packages: []conda.PackageRecord{rec}}}
	data, err := lock.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, lock.Filename), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return recipe, rec, chDir
}

func TestLLBCommand(t *testing.T) {
	recipe, _, chDir := writeProject(t)
	first, stderr, err := run(t, "llb", "-f", recipe)
	if err != nil {
		t.Fatal(err)
	}
	def, err := llb.ReadFrom(strings.NewReader(first))
	if err != nil {
		t.Fatalf("stdout is not an LLB definition: %v", err)
	}
	if len(def.Def) < 4 {
		t.Errorf("definition has only %d ops", len(def.Def))
	}
	for _, want := range []string{"--local channel-local=" + chDir, "--local reprobuild-bin="} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not list %q", stderr, want)
		}
	}
	for _, p := range []string{"linux-64", "linux/amd64"} {
		t.Run(p, func(t *testing.T) {
			again, _, err := run(t, "llb", "-f", recipe, "--platform", p)
			if err != nil {
				t.Fatal(err)
			}
			if again != first {
				t.Error("the same recipe and lock gave different definition bytes")
			}
		})
	}
	cfgPath := filepath.Join(t.TempDir(), "cfg.json")
	if _, _, err := run(t, "llb", "-f", recipe, "--config-out", cfgPath); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Architecture string
		Config       struct{ Env []string }
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Architecture != "amd64" || len(cfg.Config.Env) == 0 {
		t.Errorf("config %s: %v", b, err)
	}
}

func TestLLBCommandErrors(t *testing.T) {
	recipe, _, _ := writeProject(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing recipe", []string{"llb", "-f", filepath.Join(t.TempDir(), "none.hcl")}, "none.hcl"},
		{"platform not locked", []string{"llb", "-f", recipe, "--platform", "linux-aarch64"}, "no target for platform linux-aarch64"},
		{"bad platform", []string{"llb", "-f", recipe, "--platform", "windows/amd64"}, "no conda subdir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	t.Run("stale lock", func(t *testing.T) {
		dir := filepath.Dir(recipe)
		src, err := os.ReadFile(recipe)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(recipe, src, 0o644)
		changed := strings.Replace(string(src), `["hello"]`, `["hello", "zlib"]`, 1)
		if err := os.WriteFile(recipe, []byte(changed), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err = run(t, "llb", "-f", recipe)
		var se *lock.StaleError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), filepath.Join(dir, lock.Filename)) {
			t.Errorf("error = %v, want a stale lock error naming the lock", err)
		}
	})
	t.Run("no lock", func(t *testing.T) {
		if err := os.Remove(filepath.Join(filepath.Dir(recipe), lock.Filename)); err != nil {
			t.Fatal(err)
		}
		_, _, err := run(t, "llb", "-f", recipe)
		if err == nil || !strings.Contains(err.Error(), "reprobuild lock") {
			t.Errorf("error = %v, want a hint to run reprobuild lock", err)
		}
	})
}

func TestLinkCommand(t *testing.T) {
	_, rec, chDir := writeProject(t)
	meta := t.TempDir()
	records, err := json.Marshal([]conda.PackageRecord{rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(meta, "records.json"), records, 0o644); err != nil {
		t.Fatal(err)
	}
	pkgs := filepath.Join(chDir, "linux-64")
	out := filepath.Join(t.TempDir(), "out")
	if _, _, err := run(t, "link", "--records", filepath.Join(meta, "records.json"), "--pkgs", pkgs, "--out", out); err != nil {
		t.Fatal(err)
	}
	got, err := testutil.TreeFromDir(out)
	if err != nil {
		t.Fatal(err)
	}
	trees, _, err := install.LinkAll(context.Background(), []install.Package{{Record: rec, Archive: filepath.Join(pkgs, rec.Fn)}}, install.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantDir := t.TempDir()
	if err := install.WriteTree(wantDir, trees); err != nil {
		t.Fatal(err)
	}
	want, err := testutil.TreeFromDir(wantDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("nothing linked")
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("link command tree (-install +command):\n%s", d)
	}

	t.Run("checksum mismatch", func(t *testing.T) {
		bad := rec
		bad.SHA256 = strings.Repeat("a", 64)
		b, _ := json.Marshal([]conda.PackageRecord{bad})
		p := filepath.Join(t.TempDir(), "records.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := run(t, "link", "--records", p, "--pkgs", pkgs, "--out", t.TempDir())
		var ce *install.ArchiveChangedError
		if !errors.As(err, &ce) || ce.Package == "" {
			t.Errorf("error = %v, want install's checksum error", err)
		}
	})
	t.Run("bad records", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "records.json")
		if err := os.WriteFile(p, []byte("{not json"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := run(t, "link", "--records", p, "--pkgs", pkgs, "--out", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "not a JSON list") {
			t.Errorf("error = %v", err)
		}
	})
}
