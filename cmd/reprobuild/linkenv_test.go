package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// TestLinkCommandEnvCheck runs the BuildKit link step of the last layer group with the
// trees of the earlier groups (--env), as the LLB graph does, and checks that its verdict
// on a chain of symlinks that escapes only across groups is the embedded engine's one,
// word for word, while a safe chain links.
func TestLinkCommandEnvCheck(t *testing.T) {
	mk := func(name string, files ...pkgmaker.File) pkgmaker.Package {
		return pkgmaker.Package{Record: conda.PackageRecord{Name: name, Version: "1", Build: "0", Subdir: "linux-64"}, Files: files}
	}
	ln := func(p, target string) pkgmaker.File { return pkgmaker.File{Path: p, Symlink: target} }
	for _, tt := range []struct {
		name   string
		first  pkgmaker.Package
		second pkgmaker.Package
		bad    bool
	}{
		{"escape across groups", mk("a", ln("lib/py", ".")), mk("b", ln("lib/esc", "py/py/py/../../../..")), true},
		{"safe chain across groups", mk("a", ln("lib/py", ".")), mk("b", ln("lib/ok", "py/py/../lib")), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pkgs := t.TempDir()
			var recs []conda.PackageRecord
			var ps []install.Package
			for _, p := range []pkgmaker.Package{tt.first, tt.second} {
				rec, err := pkgmaker.Write(pkgs, p, pkgmaker.Conda)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rec)
				ps = append(ps, install.Package{Record: rec, Archive: filepath.Join(pkgs, rec.Fn)})
			}
			records := func(r conda.PackageRecord) string {
				b, _ := json.Marshal([]conda.PackageRecord{r})
				p := filepath.Join(t.TempDir(), "records.json")
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			out0 := filepath.Join(t.TempDir(), "0")
			if _, _, err := run(t, "link", "--records", records(recs[0]), "--pkgs", pkgs, "--out", out0); err != nil {
				t.Fatal(err)
			}
			out1 := filepath.Join(t.TempDir(), "1")
			_, _, stepErr := run(t, "link", "--records", records(recs[1]), "--pkgs", pkgs, "--out", out1, "--env", out0)

			// The embedded engine's verdict on the same groups.
			var shapes [][]install.Entry
			for _, p := range ps {
				trees, _, err := install.LinkAll(context.Background(), []install.Package{p}, install.Options{})
				if err != nil {
					t.Fatal(err)
				}
				shapes = append(shapes, install.ShapeOfTrees(trees))
			}
			embErr := install.CheckEnvironment("/opt/env", shapes...)
			if !tt.bad {
				if stepErr != nil || embErr != nil {
					t.Fatalf("safe environment refused: step %v, embedded %v", stepErr, embErr)
				}
				return
			}
			if embErr == nil || stepErr == nil {
				t.Fatalf("escape accepted: step %v, embedded %v", stepErr, embErr)
			}
			if stepErr.Error() != "link: "+embErr.Error() {
				t.Errorf("engines disagree:\n step:     %v\n embedded: %v", stepErr, embErr)
			}
			if !strings.Contains(stepErr.Error(), recs[1].Fn) {
				t.Errorf("verdict does not name %s: %v", recs[1].Fn, stepErr)
			}
		})
	}
}
