package pkgmaker_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// tarMember is what an independent reader (stdlib tar/zip/bzip2) sees in an archive.
type tarMember struct {
	Name     string
	Type     byte
	Mode     int64
	Linkname string
	Data     string
	UID, GID int
}

// readArchive reads a package with the standard library only (plus zstd), independent
// of the code under test, and returns its tar members sorted by name.
func readArchive(t *testing.T, name string, data []byte) (members []tarMember, zipNames []string) {
	t.Helper()
	readTar := func(r io.Reader) {
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("%s: tar: %v", name, err)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("%s: tar data: %v", name, err)
			}
			members = append(members, tarMember{strings.TrimPrefix(h.Name, "./"), h.Typeflag, h.Mode, h.Linkname, string(b), h.Uid, h.Gid})
		}
	}
	switch {
	case strings.HasSuffix(name, ".tar.bz2"):
		readTar(bzip2.NewReader(bytes.NewReader(data)))
	case strings.HasSuffix(name, ".conda"):
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: zip: %v", name, err)
		}
		dec, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		for _, f := range zr.File {
			zipNames = append(zipNames, f.Name)
			rc, err := f.Open()
			if err != nil {
				t.Fatalf("%s: %s: %v", name, f.Name, err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("%s: %s: %v", name, f.Name, err)
			}
			if strings.HasSuffix(f.Name, ".tar.zst") {
				raw, err := dec.DecodeAll(b, nil)
				if err != nil {
					t.Fatalf("%s: %s: zstd: %v", name, f.Name, err)
				}
				readTar(bytes.NewReader(raw))
			}
		}
	default:
		t.Fatalf("unknown archive %s", name)
	}
	slices.SortFunc(members, func(a, b tarMember) int { return strings.Compare(a.Name, b.Name) })
	return members, zipNames
}

func member(t *testing.T, ms []tarMember, name string) tarMember {
	t.Helper()
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("member %s not found", name)
	return tarMember{}
}

func samplePackage() pkgmaker.Package {
	return pkgmaker.Package{
		Record: conda.PackageRecord{
			Name: "demo", Version: "1.2.3", Build: "h0_0", BuildNumber: 0,
			Depends: []string{"libzzz >=1.0"}, Subdir: "linux-64", License: "MIT",
			Timestamp: 1700000000000,
		},
		Files: []pkgmaker.File{
			{Path: "lib/libdemo.so.1", Data: []byte("\x7fELF\x00/build/placeholder_placeholder_placeholder/lib\x00"), Mode: 0o755,
				Placeholder: "/build/placeholder_placeholder_placeholder", PlaceholderMode: "binary"},
			{Path: "lib/libdemo.so", Symlink: "libdemo.so.1"},
			{Path: "lib/libdemo-hard.so", Hardlink: "lib/libdemo.so.1"},
			{Path: "share/demo/prefix.txt", Data: []byte("prefix=/build/placeholder_placeholder_placeholder\n"),
				Placeholder: "/build/placeholder_placeholder_placeholder"},
			{Path: "share/demo/empty", Mode: fs.ModeDir | 0o755},
			{Path: "bin/demo", Data: []byte("#!/bin/sh\necho demo\n"), Mode: 0o755},
		},
		LinkScripts: map[string]string{"post-link": "echo linked\n"},
	}
}

func noarchPython() pkgmaker.Package {
	return pkgmaker.Package{
		Record: conda.PackageRecord{Name: "pydemo", Version: "0.1", Build: "py_0", Noarch: "python", Depends: []string{"python"}},
		Files: []pkgmaker.File{
			{Path: "site-packages/pydemo/__init__.py", Data: []byte("def main():\n    print('hi')\n")},
		},
		EntryPoints: []string{"pydemo = pydemo:main"},
	}
}

func TestBuildContents(t *testing.T) {
	for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		t.Run(f.Ext(), func(t *testing.T) {
			rec, data, err := pkgmaker.Build(samplePackage(), f)
			if err != nil {
				t.Fatal(err)
			}
			if want := "demo-1.2.3-h0_0" + f.Ext(); rec.Fn != want {
				t.Errorf("Fn = %q, want %q", rec.Fn, want)
			}
			s, m := sha256.Sum256(data), md5.Sum(data)
			if rec.SHA256 != hex.EncodeToString(s[:]) || rec.MD5 != hex.EncodeToString(m[:]) || rec.Size != int64(len(data)) {
				t.Errorf("record digests/size do not describe the archive: %+v", rec)
			}
			ms, zipNames := readArchive(t, rec.Fn, data)
			if f == pkgmaker.Conda {
				want := []string{"metadata.json", "pkg-demo-1.2.3-h0_0.tar.zst", "info-demo-1.2.3-h0_0.tar.zst"}
				if d := cmp.Diff(want, zipNames); d != "" {
					t.Errorf("zip members (-want +got):\n%s", d)
				}
			}
			var names []string
			for _, m := range ms {
				names = append(names, m.Name)
				if m.UID != 0 || m.GID != 0 {
					t.Errorf("%s: owner %d:%d, want 0:0", m.Name, m.UID, m.GID)
				}
			}
			wantNames := []string{"bin/.demo-post-link.sh", "bin/demo", "info/files", "info/has_prefix", "info/index.json", "info/paths.json",
				"lib/libdemo-hard.so", "lib/libdemo.so", "lib/libdemo.so.1", "share/demo/empty/", "share/demo/prefix.txt"}
			if d := cmp.Diff(wantNames, names); d != "" {
				t.Errorf("members (-want +got):\n%s", d)
			}
			if m := member(t, ms, "lib/libdemo.so"); m.Type != tar.TypeSymlink || m.Linkname != "libdemo.so.1" {
				t.Errorf("symlink member = %+v", m)
			}
			if m := member(t, ms, "lib/libdemo-hard.so"); m.Type != tar.TypeLink || m.Linkname != "lib/libdemo.so.1" {
				t.Errorf("hardlink member = %+v", m)
			}
			if m := member(t, ms, "bin/demo"); m.Mode != 0o755 {
				t.Errorf("bin/demo mode %o, want 755", m.Mode)
			}
			if m := member(t, ms, "share/demo/prefix.txt"); m.Mode != 0o644 {
				t.Errorf("prefix.txt mode %o, want 644", m.Mode)
			}
			var idx map[string]any
			if err := json.Unmarshal([]byte(member(t, ms, "info/index.json").Data), &idx); err != nil {
				t.Fatal(err)
			}
			wantIdx := map[string]any{"name": "demo", "version": "1.2.3", "build": "h0_0", "build_number": 0.0,
				"depends": []any{"libzzz >=1.0"}, "subdir": "linux-64", "license": "MIT", "timestamp": 1.7e12}
			if d := cmp.Diff(wantIdx, idx); d != "" {
				t.Errorf("index.json (-want +got):\n%s", d)
			}
			// The hardlink holds the same bytes as its target, so it is listed too.
			wantHasPrefix := "/build/placeholder_placeholder_placeholder binary lib/libdemo-hard.so\n" +
				"/build/placeholder_placeholder_placeholder binary lib/libdemo.so.1\n" +
				"/build/placeholder_placeholder_placeholder text share/demo/prefix.txt\n"
			if got := member(t, ms, "info/has_prefix").Data; got != wantHasPrefix {
				t.Errorf("has_prefix = %q, want %q", got, wantHasPrefix)
			}
			wantFiles := "bin/.demo-post-link.sh\nbin/demo\nlib/libdemo-hard.so\nlib/libdemo.so\nlib/libdemo.so.1\nshare/demo/prefix.txt\n"
			if got := member(t, ms, "info/files").Data; got != wantFiles {
				t.Errorf("files = %q, want %q", got, wantFiles)
			}
			checkPathsJSON(t, ms)
		})
	}
}

// pathsJSON is paths.json as conda reads it; unknown fields are rejected.
type pathsJSON struct {
	Paths []struct {
		Path        string `json:"_path"`
		PathType    string `json:"path_type"`
		SHA256      string `json:"sha256"`
		Size        *int64 `json:"size_in_bytes"`
		Placeholder string `json:"prefix_placeholder"`
		FileMode    string `json:"file_mode"`
		NoLink      bool   `json:"no_link"`
	} `json:"paths"`
	Version int `json:"paths_version"`
}

func decodePaths(t *testing.T, data string) pathsJSON {
	t.Helper()
	var pj pathsJSON
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pj); err != nil {
		t.Fatalf("paths.json: %v", err)
	}
	return pj
}

// checkPathsJSON verifies every paths.json entry against the payload it describes.
func checkPathsJSON(t *testing.T, ms []tarMember) {
	t.Helper()
	pj := decodePaths(t, member(t, ms, "info/paths.json").Data)
	if pj.Version != 1 {
		t.Errorf("paths_version = %d", pj.Version)
	}
	for _, p := range pj.Paths {
		switch p.PathType {
		case "directory":
			member(t, ms, p.Path+"/")
			continue
		case "softlink":
			if m := member(t, ms, p.Path); m.Type != tar.TypeSymlink {
				t.Errorf("%s: softlink in paths.json but tar type %c", p.Path, m.Type)
			}
			continue
		case "hardlink":
		default:
			t.Errorf("%s: path_type %q", p.Path, p.PathType)
		}
		m := member(t, ms, p.Path)
		if m.Type == tar.TypeLink {
			m = member(t, ms, m.Linkname)
		}
		s := sha256.Sum256([]byte(m.Data))
		if p.SHA256 != hex.EncodeToString(s[:]) || p.Size == nil || *p.Size != int64(len(m.Data)) {
			t.Errorf("%s: paths.json sha256/size do not match the payload", p.Path)
		}
		if p.Placeholder != "" && !strings.Contains(m.Data, p.Placeholder) {
			t.Errorf("%s: placeholder not in data", p.Path)
		}
	}
}

func TestNoarchPythonLinkJSON(t *testing.T) {
	rec, data, err := pkgmaker.Build(noarchPython(), pkgmaker.TarBz2)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Subdir != "noarch" {
		t.Errorf("subdir = %q, want noarch", rec.Subdir)
	}
	ms, _ := readArchive(t, rec.Fn, data)
	var lj map[string]any
	if err := json.Unmarshal([]byte(member(t, ms, "info/link.json").Data), &lj); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"noarch": map[string]any{"type": "python", "entry_points": []any{"pydemo = pydemo:main"}}, "package_metadata_version": 1.0}
	if d := cmp.Diff(want, lj); d != "" {
		t.Errorf("link.json (-want +got):\n%s", d)
	}
}

// TestMatchesRealPackages checks that our archives have the shape of real ones: the
// same zip layout, metadata.json, and a paths.json that conda's own schema accepts.
func TestMatchesRealPackages(t *testing.T) {
	real := "../../testdata/conda/packages/real-world/zlib-1.2.11-h7b6447c_3"
	for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		t.Run(f.Ext(), func(t *testing.T) {
			realData, err := os.ReadFile(real + f.Ext())
			if err != nil {
				t.Fatal(err)
			}
			realMs, realZip := readArchive(t, filepath.Base(real)+f.Ext(), realData)
			decodePaths(t, member(t, realMs, "info/paths.json").Data)
			rec, data, err := pkgmaker.Build(samplePackage(), f)
			if err != nil {
				t.Fatal(err)
			}
			ms, zipNames := readArchive(t, rec.Fn, data)
			shape := func(names []string, id string) []string {
				var out []string
				for _, n := range names {
					out = append(out, strings.ReplaceAll(n, id, "ID"))
				}
				slices.Sort(out)
				return out
			}
			if d := cmp.Diff(shape(realZip, "zlib-1.2.11-h7b6447c_3"), shape(zipNames, "demo-1.2.3-h0_0")); d != "" {
				t.Errorf("zip layout differs from the real package (-real +ours):\n%s", d)
			}
			for _, name := range []string{"info/index.json", "info/paths.json", "info/files", "info/has_prefix"} {
				member(t, realMs, name)
				member(t, ms, name)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		t.Run(f.Ext(), func(t *testing.T) {
			p := samplePackage()
			_, a, err := pkgmaker.Build(p, f)
			if err != nil {
				t.Fatal(err)
			}
			slices.Reverse(p.Files)
			_, b, err := pkgmaker.Build(p, f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Error("same package in another file order gave different bytes")
			}
		})
	}
}

func TestWriteChannelDeterministic(t *testing.T) {
	pkgs := []pkgmaker.Package{samplePackage(), noarchPython()}
	a, b := t.TempDir(), t.TempDir()
	if err := pkgmaker.WriteChannel(a, pkgs, pkgmaker.Conda); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(pkgs)
	if err := pkgmaker.WriteChannel(b, pkgs, pkgmaker.Conda); err != nil {
		t.Fatal(err)
	}
	ta, tb := treeOf(t, a), treeOf(t, b)
	if d := cmp.Diff(ta, tb); d != "" {
		t.Errorf("channels differ (-a +b):\n%s", d)
	}
	var names []string
	for n := range ta {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"linux-64/demo-1.2.3-h0_0.conda", "linux-64/repodata.json", "noarch/pydemo-0.1-py_0.conda", "noarch/repodata.json"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("channel files (-want +got):\n%s", d)
	}
	var rd struct {
		Info     map[string]string         `json:"info"`
		Packages map[string]map[string]any `json:"packages.conda"`
	}
	if err := json.Unmarshal([]byte(ta["linux-64/repodata.json"]), &rd); err != nil {
		t.Fatal(err)
	}
	e := rd.Packages["demo-1.2.3-h0_0.conda"]
	s := sha256.Sum256([]byte(ta["linux-64/demo-1.2.3-h0_0.conda"]))
	if e == nil || e["sha256"] != hex.EncodeToString(s[:]) || e["size"] != float64(len(ta["linux-64/demo-1.2.3-h0_0.conda"])) || rd.Info["subdir"] != "linux-64" {
		t.Errorf("repodata entry does not describe the archive: %v", e)
	}
}

func TestEmptyChannelHasNoarch(t *testing.T) {
	dir := t.TempDir()
	if err := pkgmaker.WriteChannel(dir, nil, pkgmaker.TarBz2); err != nil {
		t.Fatal(err)
	}
	var rd map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "noarch", "repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rd); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]any{}, rd["packages"]); d != "" {
		t.Errorf("packages (-want +got):\n%s", d)
	}
}

func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInvalid(t *testing.T) {
	base := func(files ...pkgmaker.File) pkgmaker.Package {
		return pkgmaker.Package{Record: conda.PackageRecord{Name: "bad", Version: "1", Build: "0", Subdir: "linux-64"}, Files: files}
	}
	tests := []struct {
		name string
		p    pkgmaker.Package
	}{
		{"no name", pkgmaker.Package{Record: conda.PackageRecord{Version: "1", Build: "0", Subdir: "linux-64"}}},
		{"no subdir", pkgmaker.Package{Record: conda.PackageRecord{Name: "a", Version: "1", Build: "0"}}},
		{"absolute path", base(pkgmaker.File{Path: "/etc/passwd"})},
		{"dotdot", base(pkgmaker.File{Path: "../x"})},
		{"unclean", base(pkgmaker.File{Path: "a//b"})},
		{"under info", base(pkgmaker.File{Path: "info/index.json"})},
		{"duplicate", base(pkgmaker.File{Path: "a"}, pkgmaker.File{Path: "a"})},
		{"placeholder absent", base(pkgmaker.File{Path: "a", Data: []byte("x"), Placeholder: "/p"})},
		{"bad placeholder mode", base(pkgmaker.File{Path: "a", Data: []byte("/p"), Placeholder: "/p", PlaceholderMode: "hex"})},
		{"dangling hardlink", base(pkgmaker.File{Path: "a", Hardlink: "b"})},
		{"entry points not noarch python", pkgmaker.Package{Record: conda.PackageRecord{Name: "a", Version: "1", Build: "0", Subdir: "linux-64"}, EntryPoints: []string{"a = b:c"}}},
		{"bad entry point", pkgmaker.Package{Record: conda.PackageRecord{Name: "a", Version: "1", Build: "0", Noarch: "python"}, EntryPoints: []string{"nonsense"}}},
		{"bad link script", pkgmaker.Package{Record: conda.PackageRecord{Name: "a", Version: "1", Build: "0", Noarch: "generic"}, LinkScripts: map[string]string{"post-install": ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pkgmaker.Write(t.TempDir(), tt.p, pkgmaker.Conda)
			var pe *pkgmaker.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *pkgmaker.Error", err)
			}
		})
	}
}

// TestExternalTools checks our archives with the reference command-line tools when the
// machine has them (unzip, zstd, bzip2 -t), as a second independent reader.
func TestExternalTools(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		rec, err := pkgmaker.Write(dir, samplePackage(), f)
		if err != nil {
			t.Fatal(err)
		}
		var cmd []string
		if f == pkgmaker.Conda {
			cmd = []string{"unzip", "-tq", filepath.Join(dir, rec.Fn)}
		} else {
			cmd = []string{"bzip2", "-t", filepath.Join(dir, rec.Fn)}
		}
		if _, err := exec.LookPath(cmd[0]); err != nil {
			t.Logf("%s not installed: skipping this check", cmd[0])
			continue
		}
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%v: %v\n%s", cmd, err, out)
		}
	}
}
