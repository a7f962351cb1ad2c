package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dsnet/compress/bzip2"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
)

type hostileMember struct {
	name, linkname string
	typ            byte
	data           string
}

// hostileArchive writes a .tar.bz2 package holding members verbatim (however unsafe).
func hostileArchive(t *testing.T, dir, name string, info map[string]string, ms []hostileMember) conda.PackageRecord {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(m hostileMember) {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: m.name, Typeflag: typ, Mode: 0o644, Linkname: m.linkname, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(m.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(m.data))
	}
	add(hostileMember{name: "info/index.json", data: `{"name": "` + name + `", "version": "1", "build": "0", "build_number": 0, "subdir": "linux-64"}`})
	for k, v := range info {
		add(hostileMember{name: k, data: v})
	}
	for _, m := range ms {
		add(m)
	}
	tw.Close()
	var out bytes.Buffer
	bw, err := bzip2.NewWriter(&out, &bzip2.WriterConfig{Level: 1})
	if err != nil {
		t.Fatal(err)
	}
	bw.Write(buf.Bytes())
	bw.Close()
	fn := name + "-1-0.tar.bz2"
	if err := os.WriteFile(filepath.Join(dir, fn), out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out.Bytes())
	return conda.PackageRecord{Name: name, Version: "1", Build: "0", Subdir: "linux-64", Fn: fn, SHA256: hex.EncodeToString(sum[:])}
}

// TestHostileArchivesSameVerdict: for every hostile archive of the corpus, the BuildKit
// link step (the link command) refuses it with exactly the error of the embedded
// engine's linking call, and writes nothing.
func TestHostileArchivesSameVerdict(t *testing.T) {
	lying := `{"paths": [{"_path": "lib/a", "path_type": "hardlink", "sha256": "` + hex.EncodeToString(make([]byte, 32)) + `", "size_in_bytes": 1}], "paths_version": 1}`
	cases := []struct {
		name string
		info map[string]string
		ms   []hostileMember
	}{
		{"traversal", nil, []hostileMember{{name: "../evil", data: "x"}}},
		{"absolute", nil, []hostileMember{{name: "/etc/evil", data: "x"}}},
		{"symlink-escape", nil, []hostileMember{{name: "lib/e", typ: tar.TypeSymlink, linkname: "../../../etc/passwd"}}},
		{"absolute-symlink", nil, []hostileMember{{name: "lib/e", typ: tar.TypeSymlink, linkname: "/etc/passwd"}}},
		{"chain-escape", nil, []hostileMember{{name: "a", typ: tar.TypeSymlink, linkname: "."}, {name: "b", typ: tar.TypeSymlink, linkname: "a/.."}}},
		{"loop", nil, []hostileMember{{name: "a", typ: tar.TypeSymlink, linkname: "b/x"}, {name: "b", typ: tar.TypeSymlink, linkname: "a/y"}}},
		{"hardlink-escape", nil, []hostileMember{{name: "lib/h", typ: tar.TypeLink, linkname: "../../etc/passwd"}}},
		{"device", nil, []hostileMember{{name: "dev/null", typ: tar.TypeChar}}},
		{"file-through-symlink", nil, []hostileMember{{name: "lib", typ: tar.TypeSymlink, linkname: "sub"}, {name: "lib/x", data: "y"}}},
		{"lying-paths-json", map[string]string{"info/paths.json": lying}, []hostileMember{{name: "lib/a", data: "x"}}},
		{"unlisted-file", map[string]string{"info/paths.json": `{"paths": [], "paths_version": 1}`}, []hostileMember{{name: "lib/a", data: "x"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pkgs := t.TempDir()
			rec := hostileArchive(t, pkgs, tc.name, tc.info, tc.ms)
			_, _, embErr := install.LinkAll(context.Background(), []install.Package{{Record: rec, Archive: filepath.Join(pkgs, rec.Fn)}}, install.Options{})
			if embErr == nil {
				t.Fatal("the embedded engine accepted it")
			}
			b, _ := json.Marshal([]conda.PackageRecord{rec})
			records := filepath.Join(t.TempDir(), "records.json")
			if err := os.WriteFile(records, b, 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			_, _, stepErr := run(t, "link", "--records", records, "--pkgs", pkgs, "--out", out)
			if stepErr == nil || stepErr.Error() != "link: "+embErr.Error() {
				t.Fatalf("verdicts differ:\n link step: %v\n embedded:  %v", stepErr, embErr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("the link step wrote a tree")
			}
		})
	}
}
