package install_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

const buildPrefix = "/home/conda/feedstock_root/build_artifacts/demo_1700000000000/_h_env_placehold_placehold_placehold"

func demoPackage() pkgmaker.Package {
	return pkgmaker.Package{
		Record: conda.PackageRecord{Name: "demo", Version: "1.0", Build: "h0_0", Subdir: "linux-64", Depends: []string{"libc"}},
		Files: []pkgmaker.File{
			{Path: "bin/demo", Data: []byte("#!" + buildPrefix + "/bin/python3.11 -E\nprint('demo')\n"), Mode: 0o755, Placeholder: buildPrefix},
			{Path: "lib/libdemo.so.1", Data: []byte("\x7fELF\x00" + buildPrefix + "/lib:" + buildPrefix + "/lib64\x00tail\x00"), Mode: 0o755,
				Placeholder: buildPrefix, PlaceholderMode: "binary"},
			{Path: "lib/libdemo.so", Symlink: "libdemo.so.1"},
			{Path: "lib/libdemo-hard.so", Hardlink: "lib/libdemo.so.1"},
			{Path: "share/demo/data.txt", Data: []byte("plain\n"), Mode: 0o600},
			{Path: "share/demo/empty", Mode: fs.ModeDir | 0o700},
		},
		LinkScripts: map[string]string{"post-link": "echo hi\n", "pre-unlink": "echo bye\n"},
	}
}

// TestPkgmakerRoundTrip links packages made by pkgmaker, in both formats, and checks
// every entry against what the package describes.
func TestPkgmakerRoundTrip(t *testing.T) {
	bin := []byte("\x7fELF\x00/opt/env/lib:/opt/env/lib64\x00tail\x00")
	bin = append(bin[:len(bin)-len("\x00tail\x00")], make([]byte, 2*(len(buildPrefix)-len("/opt/env")))...)
	bin = append(bin, "\x00tail\x00"...)
	want := []install.Entry{
		{Path: "opt", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env/bin", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env/bin/.demo-post-link.sh", Mode: 0o755, Data: []byte("echo hi\n")},
		{Path: "opt/env/bin/.demo-pre-unlink.sh", Mode: 0o755, Data: []byte("echo bye\n")},
		{Path: "opt/env/bin/demo", Mode: 0o755, Data: []byte("#!/opt/env/bin/python3.11 -E\nprint('demo')\n")},
		{Path: "opt/env/conda-meta", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env/conda-meta/demo-1.0-h0_0.json", Mode: 0o644},
		{Path: "opt/env/lib", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env/lib/libdemo-hard.so", Mode: 0o755, Data: bin},
		{Path: "opt/env/lib/libdemo.so", Type: install.TypeSymlink, Mode: 0o777, Linkname: "libdemo.so.1"},
		{Path: "opt/env/lib/libdemo.so.1", Mode: 0o755, Data: bin},
		{Path: "opt/env/share", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env/share/demo", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env/share/demo/data.txt", Mode: 0o644, Data: []byte("plain\n")},
		{Path: "opt/env/share/demo/empty", Type: install.TypeDir, Mode: 0o755},
	}
	ignoreMeta := cmp.FilterPath(func(p cmp.Path) bool { return strings.HasSuffix(p.GoString(), ".Data") }, cmp.Ignore())
	for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		t.Run(f.Ext(), func(t *testing.T) {
			dir := t.TempDir()
			rec, err := pkgmaker.Write(dir, demoPackage(), f)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := install.Link(context.Background(), install.Package{Record: rec, Archive: filepath.Join(dir, rec.Fn)}, install.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, tr.Entries, ignoreMeta); d != "" {
				t.Errorf("entries (-want +got):\n%s", d)
			}
			for i, e := range tr.Entries {
				if e.Path != "opt/env/conda-meta/demo-1.0-h0_0.json" && !bytes.Equal(e.Data, want[i].Data) {
					t.Errorf("%s: data %q, want %q", e.Path, e.Data, want[i].Data)
				}
			}
			if d := cmp.Diff([]string{"post-link", "pre-unlink"}, tr.LinkScripts); d != "" {
				t.Errorf("LinkScripts (-want +got):\n%s", d)
			}
			meta := string(entryMap(tr)["opt/env/conda-meta/demo-1.0-h0_0.json"].Data)
			for _, s := range []string{`"sha256": "` + rec.SHA256 + `"`, `"fn": "` + rec.Fn + `"`, `"prefix_placeholder": "` + buildPrefix + `"`, `"file_mode": "binary"`} {
				if !strings.Contains(meta, s) {
					t.Errorf("conda-meta lacks %s", s)
				}
			}
		})
	}
}

func TestBinaryPrefixTooLong(t *testing.T) {
	dir := t.TempDir()
	rec, err := pkgmaker.Write(dir, demoPackage(), pkgmaker.Conda)
	if err != nil {
		t.Fatal(err)
	}
	long := "/" + strings.Repeat("p", len(buildPrefix))
	_, err = install.Link(context.Background(), install.Package{Record: rec, Archive: filepath.Join(dir, rec.Fn)}, install.Options{Prefix: long})
	var pe *install.PaddingError
	// The hardlink to the library comes first in the archive.
	if !errors.As(err, &pe) || pe.Path != "lib/libdemo-hard.so" {
		t.Fatalf("err = %v, want *PaddingError for lib/libdemo-hard.so", err)
	}
}

func TestRecordMismatch(t *testing.T) {
	dir := t.TempDir()
	rec, err := pkgmaker.Write(dir, demoPackage(), pkgmaker.TarBz2)
	if err != nil {
		t.Fatal(err)
	}
	locked := rec
	locked.Version = "2.0"
	_, err = install.Link(context.Background(), install.Package{Record: locked, Archive: filepath.Join(dir, rec.Fn)}, install.Options{})
	var me *install.MalformedPackageError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want *MalformedPackageError", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, prefix := range []string{"opt/env", "/", "/opt/../env", "/opt/env/"} {
		_, err := install.Link(context.Background(), install.Package{Archive: "unused"}, install.Options{Prefix: prefix})
		if err == nil || !strings.Contains(err.Error(), "prefix") {
			t.Errorf("prefix %q: err = %v", prefix, err)
		}
	}
}

func TestCancelled(t *testing.T) {
	dir := t.TempDir()
	rec, err := pkgmaker.Write(dir, demoPackage(), pkgmaker.Conda)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = install.LinkAll(ctx, []install.Package{{Record: rec, Archive: filepath.Join(dir, rec.Fn)}}, install.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestClobberRules covers the merge rules of LinkAll on generated packages.
func TestClobberRules(t *testing.T) {
	mk := func(name string, files ...pkgmaker.File) pkgmaker.Package {
		return pkgmaker.Package{Record: conda.PackageRecord{Name: name, Version: "1", Build: "0", Subdir: "linux-64"}, Files: files}
	}
	f := func(p, data string) pkgmaker.File { return pkgmaker.File{Path: p, Data: []byte(data)} }
	tests := []struct {
		name     string
		pkgs     []pkgmaker.Package
		clobbers []install.Clobber
		winner   map[string]string // path -> data expected in the merged result
		err      any
	}{
		{
			name: "three packages, last wins",
			pkgs: []pkgmaker.Package{mk("a", f("share/x", "a")), mk("b", f("share/x", "b")), mk("c", f("share/x", "c"), f("share/y", "c"))},
			clobbers: []install.Clobber{
				{Path: "opt/env/share/x", Winner: "b-1-0.conda", Loser: "a-1-0.conda"},
				{Path: "opt/env/share/x", Winner: "c-1-0.conda", Loser: "b-1-0.conda"},
			},
			winner: map[string]string{"opt/env/share/x": "c", "opt/env/share/y": "c"},
		},
		{
			name:   "shared directories are not clobbers",
			pkgs:   []pkgmaker.Package{mk("a", f("lib/a", "a")), mk("b", f("lib/b", "b"))},
			winner: map[string]string{"opt/env/lib/a": "a", "opt/env/lib/b": "b"},
		},
		{
			name: "file where another package has a directory",
			pkgs: []pkgmaker.Package{mk("a", f("lib/x", "a")), mk("b", f("lib", "b"))},
			err:  new(*install.ConflictError),
		},
		{
			name: "symlink where another package has a directory",
			pkgs: []pkgmaker.Package{mk("a", pkgmaker.File{Path: "lib64", Symlink: "lib"}), mk("b", f("lib64/x", "b"))},
			err:  new(*install.ConflictError),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var ps []install.Package
			for _, p := range tt.pkgs {
				rec, err := pkgmaker.Write(dir, p, pkgmaker.Conda)
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, install.Package{Record: rec, Archive: filepath.Join(dir, rec.Fn)})
			}
			trees, clobbers, err := install.LinkAll(context.Background(), ps, install.Options{})
			if tt.err != nil {
				if !errors.As(err, tt.err) {
					t.Fatalf("err = %v, want %T", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.clobbers, clobbers); d != "" {
				t.Errorf("clobbers (-want +got):\n%s", d)
			}
			got := map[string]string{}
			seen := map[string]int{}
			for _, tr := range trees {
				for _, e := range tr.Entries {
					if e.Type == install.TypeFile && !strings.Contains(e.Path, "conda-meta") {
						got[e.Path] = string(e.Data)
						seen[e.Path]++
					}
				}
			}
			if d := cmp.Diff(tt.winner, got); d != "" {
				t.Errorf("merged files (-want +got):\n%s", d)
			}
			for p, n := range seen {
				if n > 1 {
					t.Errorf("%s is in %d trees after clobber resolution", p, n)
				}
			}
		})
	}
}

// TestVerifySHA256 links an archive read in place only while its bytes still match the
// sha256 it was verified against, in both formats.
func TestVerifySHA256(t *testing.T) {
	for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		dir := t.TempDir()
		rec, err := pkgmaker.Write(dir, demoPackage(), f)
		if err != nil {
			t.Fatal(err)
		}
		p := install.Package{Record: rec, Archive: filepath.Join(dir, rec.Fn), VerifySHA256: true}
		got, err := install.Link(context.Background(), p, install.Options{})
		if err != nil {
			t.Fatalf("%s: %v", rec.Fn, err)
		}
		plain, err := install.Link(context.Background(), install.Package{Record: rec, Archive: p.Archive}, install.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(plain.Entries, got.Entries); diff != "" {
			t.Errorf("%s: verified link differs (-plain +verified):\n%s", rec.Fn, diff)
		}
		changed := p
		changed.Record.SHA256 = strings.Repeat("0", 64)
		var ce *install.ArchiveChangedError
		if _, err := install.Link(context.Background(), changed, install.Options{}); !errors.As(err, &ce) {
			t.Errorf("%s: sha256 mismatch gave %v, want *ArchiveChangedError", rec.Fn, err)
		}
	}
}
