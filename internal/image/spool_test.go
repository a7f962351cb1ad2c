package image

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// TestSpooledLinkSameLayer links packages with large members both in memory and
// spooled to disk (install.Options.SpoolDir), in both archive formats and with the
// archive verified in place or not: the spooled entries must stream into exactly the
// same layer and the same tree on disk, and only files needing prefix replacement may
// come back into memory.
func TestSpooledLinkSameLayer(t *testing.T) {
	const buildPrefix = "/home/conda/feedstock_root/build_artifacts/big_1700000000000/_h_env_placehold_placehold_placehold"
	rnd := rand.New(rand.NewSource(15))
	big := make([]byte, 3*install.SpoolThreshold+123) // incompressible
	rnd.Read(big)
	text := bytes.Repeat([]byte("path = "+buildPrefix+"/lib/python3.11\n"), 2*install.SpoolThreshold/100)
	pkg := pkgmaker.Package{
		Record: conda.PackageRecord{Name: "big", Version: "1.0", Build: "h0_0", Subdir: "linux-64"},
		Files: []pkgmaker.File{
			{Path: "lib/libbig.so", Data: big, Mode: 0o755},
			{Path: "lib/libbig-hard.so", Hardlink: "lib/libbig.so"},
			{Path: "etc/big.conf", Data: text, Placeholder: buildPrefix},
			{Path: "share/big/small.txt", Data: []byte("small\n")},
		},
	}
	for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		dir := t.TempDir()
		rec, err := pkgmaker.Write(dir, pkg, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, verify := range []bool{false, true} {
			p := []install.Package{{Record: rec, Archive: filepath.Join(dir, rec.Fn), VerifySHA256: verify}}
			memTrees, _, err := install.LinkAll(context.Background(), p, install.Options{})
			if err != nil {
				t.Fatal(err)
			}
			spool := t.TempDir()
			spTrees, _, err := install.LinkAll(context.Background(), p, install.Options{SpoolDir: spool})
			if err != nil {
				t.Fatal(err)
			}
			mem, sp := memTrees[0].Entries, spTrees[0].Entries
			spooled := map[string]bool{}
			for _, e := range sp {
				if e.Spool != nil {
					spooled[e.Path] = true
				}
			}
			if !spooled["opt/env/lib/libbig.so"] || !spooled["opt/env/lib/libbig-hard.so"] || spooled["opt/env/etc/big.conf"] || len(spooled) != 2 {
				t.Fatalf("%s verify=%v: spooled %v, want the large file and its hardlink copy only (the placeholder file is loaded back)", rec.Fn, verify, spooled)
			}
			var mw, sw bytes.Buffer
			mi, err := WriteLayer(&mw, mem, LayerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			si, err := WriteLayer(&sw, sp, LayerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if mi != si || !bytes.Equal(mw.Bytes(), sw.Bytes()) {
				t.Fatalf("%s verify=%v: spooled layer %v differs from the in-memory one %v", rec.Fn, verify, si.Digest, mi.Digest)
			}
			l, err := LayerFromEntries(sp, LayerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := l.Digest(); d != mi.Digest {
				t.Fatalf("%s: LayerFromEntries of spooled entries gives %v, want %v", rec.Fn, d, mi.Digest)
			}
			memDir, spDir := filepath.Join(t.TempDir(), "m"), filepath.Join(t.TempDir(), "s")
			if err := install.WriteTree(memDir, memTrees); err != nil {
				t.Fatal(err)
			}
			if err := install.WriteTree(spDir, spTrees); err != nil {
				t.Fatal(err)
			}
			for _, e := range mem {
				if e.Type != install.TypeFile {
					continue
				}
				a, err1 := os.ReadFile(filepath.Join(memDir, e.Path))
				b, err2 := os.ReadFile(filepath.Join(spDir, e.Path))
				if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
					t.Fatalf("%s: WriteTree differs at %s (%v, %v)", rec.Fn, e.Path, err1, err2)
				}
			}
		}
	}
}
