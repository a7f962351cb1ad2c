package install_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// layerTar writes entries as an uncompressed layer tar, the way a cached layer is read
// back by the embedded engine.
func layerTar(t *testing.T, es []install.Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.Path, Mode: int64(e.Mode), Format: tar.FormatPAX}
		switch e.Type {
		case install.TypeDir:
			h.Typeflag, h.Name = tar.TypeDir, e.Path+"/"
		case install.TypeSymlink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.Linkname
		case install.TypeHardlink:
			h.Typeflag, h.Linkname = tar.TypeLink, e.Linkname
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEnvironmentCheckAcrossGroups is the corpus of packages that are safe one at a time
// (and one layer group at a time) but not together. The verdict of the embedded engine
// on freshly linked groups, on groups read back from cached layers, and of the BuildKit
// link step (earlier groups read from their written trees) must be the same, word for
// word.
func TestEnvironmentCheckAcrossGroups(t *testing.T) {
	mk := func(name string, files ...pkgmaker.File) pkgmaker.Package {
		return pkgmaker.Package{Record: conda.PackageRecord{Name: name, Version: "1", Build: "0", Subdir: "linux-64"}, Files: files}
	}
	ln := func(p, target string) pkgmaker.File { return pkgmaker.File{Path: p, Symlink: target} }
	f := func(p string) pkgmaker.File { return pkgmaker.File{Path: p, Data: []byte(p)} }
	var (
		escape   *install.PathEscapeError
		conflict *install.ConflictError
		unsafe   *install.UnsafeEntryError
	)
	tests := []struct {
		name   string
		groups [][]pkgmaker.Package
		want   any // nil: accepted
	}{
		{"chain through another group's link", [][]pkgmaker.Package{
			{mk("a", ln("lib/py", "."))},
			{mk("b", ln("lib/esc", "py/py/py/../../../.."))},
		}, &escape},
		{"chain through a later group's link", [][]pkgmaker.Package{
			{mk("b", ln("lib/esc", "py/py/py/../../../.."))},
			{mk("a", ln("lib/py", "."))},
		}, &escape},
		{"chain across three groups", [][]pkgmaker.Package{
			{mk("a", ln("share/up", ".."))},
			{mk("b", ln("share/hop", "up/share/up"))},
			{mk("c", ln("share/esc", "hop/.."))},
		}, &escape},
		{"loop across groups", [][]pkgmaker.Package{
			{mk("a", ln("share/x", "y/z"))},
			{mk("b", ln("share/y", "x/w"))},
		}, &escape},
		{"file where another group has a directory", [][]pkgmaker.Package{
			{mk("a", f("lib/thing/file"))},
			{mk("b", f("lib/thing"))},
		}, &conflict},
		{"symlink where another group has a directory", [][]pkgmaker.Package{
			{mk("a", ln("share/x", "../lib"), f("lib/keep"))},
			{mk("b", f("share/x/evil"))},
		}, &conflict},
		{"hardlink-free chain inside the prefix", [][]pkgmaker.Package{
			{mk("a", ln("lib/libz.so", "libz.so.1"))},
			{mk("b", f("lib/libz.so.1"), ln("lib/py", "."))},
			{mk("c", ln("lib/deep", "py/py/../libz.so"))},
		}, nil},
	}
	ctx := context.Background()
	const prefix = "/opt/env"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var groups [][]install.Package
			var flat []install.Package
			for _, g := range tt.groups {
				var ps []install.Package
				for _, p := range g {
					rec, err := pkgmaker.Write(dir, p, pkgmaker.Conda)
					if err != nil {
						t.Fatal(err)
					}
					ps = append(ps, install.Package{Record: rec, Archive: filepath.Join(dir, rec.Fn)})
				}
				groups = append(groups, ps)
				flat = append(flat, ps...)
			}
			// Every group is safe alone: the problem only exists in the whole tree.
			var fresh, cached [][]install.Entry
			var treesOf [][]*install.PackageTree
			for i, g := range groups {
				trees, _, err := install.LinkAll(ctx, g, install.Options{Prefix: prefix})
				if err != nil {
					t.Fatalf("group %d alone: %v", i, err)
				}
				treesOf = append(treesOf, trees)
				shape := install.ShapeOfTrees(trees)
				fresh = append(fresh, shape)
				var full []install.Entry
				for _, tr := range trees {
					full = append(full, tr.Entries...)
				}
				back, err := install.ShapeOfTar(bytes.NewReader(layerTar(t, dedupDirs(full))))
				if err != nil {
					t.Fatal(err)
				}
				cached = append(cached, back)
			}
			// The BuildKit link step of the last group: earlier groups as written trees.
			var step [][]install.Entry
			for i, trees := range treesOf[:len(treesOf)-1] {
				out := filepath.Join(t.TempDir(), strconv.Itoa(i))
				if err := install.WriteTree(out, trees); err != nil {
					t.Fatal(err)
				}
				shape, err := install.ShapeOfDir(out)
				if err != nil {
					t.Fatal(err)
				}
				step = append(step, shape)
			}
			step = append(step, fresh[len(fresh)-1])

			errFresh := install.CheckEnvironment(prefix, fresh...)
			errCached := install.CheckEnvironment(prefix, cached...)
			errStep := install.CheckEnvironment(prefix, step...)
			if tt.want == nil {
				if errFresh != nil || errCached != nil || errStep != nil {
					t.Fatalf("refused a safe environment: %v / %v / %v", errFresh, errCached, errStep)
				}
			} else {
				if !errors.As(errFresh, tt.want) {
					t.Fatalf("embedded verdict = %T %v, want %T", errFresh, errFresh, tt.want)
				}
				if errCached == nil || errStep == nil || errCached.Error() != errFresh.Error() || errStep.Error() != errFresh.Error() {
					t.Fatalf("engines disagree:\n fresh:  %v\n cached: %v\n step:   %v", errFresh, errCached, errStep)
				}
				if !bytes.Contains([]byte(errFresh.Error()), []byte("-1-0.conda")) {
					t.Errorf("verdict does not name a package: %v", errFresh)
				}
			}
			// Linking everything as one group agrees with the layered verdict.
			_, _, errOne := install.LinkAll(ctx, flat, install.Options{Prefix: prefix})
			if (errOne == nil) != (tt.want == nil) {
				t.Fatalf("one group: %v, layered: %v", errOne, errFresh)
			}
			if tt.want != nil && !errors.As(errOne, tt.want) && !errors.As(errOne, &unsafe) {
				t.Errorf("one group verdict %T %v", errOne, errOne)
			}
		})
	}
}

func dedupDirs(es []install.Entry) []install.Entry {
	seen := map[string]bool{}
	var out []install.Entry
	for _, e := range es {
		if e.Type == install.TypeDir {
			if seen[e.Path] {
				continue
			}
			seen[e.Path] = true
		}
		out = append(out, e)
	}
	return out
}
