package install

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// TestVerifyInOnePass: archives verified in place are verified in the pass that parses
// them when they are large (forced here for small ones): same result as the in-memory
// check, and a changed byte anywhere (payload or the zip's central directory) refuses
// the archive and leaves no spool file behind.
func TestVerifyInOnePass(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	big := make([]byte, SpoolThreshold+4096)
	rnd.Read(big)
	pkg := pkgmaker.Package{
		Record: conda.PackageRecord{Name: "v", Version: "1.0", Build: "0", Subdir: "linux-64"},
		Files: []pkgmaker.File{
			{Path: "lib/big.bin", Data: big},
			{Path: "lib/big-hard.bin", Hardlink: "lib/big.bin"},
			{Path: "bin/tool", Data: []byte("#!/build/prefix/placehold/bin/sh\n"), Mode: 0o755, Placeholder: "/build/prefix/placehold"},
		},
	}
	for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		dir := t.TempDir()
		rec, err := pkgmaker.Write(dir, pkg, f)
		if err != nil {
			t.Fatal(err)
		}
		archive := filepath.Join(dir, rec.Fn)
		p := Package{Record: rec, Archive: archive, VerifySHA256: true}
		want, err := Link(context.Background(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		old := verifyInMemoryMax
		verifyInMemoryMax = 0
		spool := t.TempDir()
		got, err := Link(context.Background(), p, Options{SpoolDir: spool})
		if err != nil {
			verifyInMemoryMax = old
			t.Fatal(err)
		}
		for i := range got.Entries {
			if sp := got.Entries[i].Spool; sp != nil {
				data, err := sp.ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				got.Entries[i].Data, got.Entries[i].Spool = data, nil
			}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: one-pass verification links differently (-in memory +one pass):\n%s", rec.Fn, d)
		}

		orig, _ := os.ReadFile(archive)
		for _, at := range []int{len(orig) / 2, len(orig) - 30} {
			bad := append([]byte(nil), orig...)
			bad[at] ^= 1
			os.WriteFile(archive, bad, 0o644)
			spool := t.TempDir()
			_, err := Link(context.Background(), p, Options{SpoolDir: spool})
			var ce *ArchiveChangedError
			if !errors.As(err, &ce) {
				t.Errorf("%s with byte %d of %d changed: got %v, want ArchiveChangedError", rec.Fn, at, len(orig), err)
			}
			if left, _ := os.ReadDir(spool); len(left) != 0 {
				t.Errorf("%s: %d spool files left after the archive was refused", rec.Fn, len(left))
			}
		}
		os.WriteFile(archive, orig, 0o644)
		verifyInMemoryMax = old
	}
}

// TestSpooledMemberDigest: a spooled member reports the size and sha256 of its content,
// as one held in memory does.
func TestSpooledMemberDigest(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	big := make([]byte, SpoolThreshold+777)
	rnd.Read(big)
	pkg := pkgmaker.Package{
		Record: conda.PackageRecord{Name: "d", Version: "1", Build: "0", Subdir: "linux-64"},
		Files:  []pkgmaker.File{{Path: "lib/big.bin", Data: big}, {Path: "lib/small.txt", Data: []byte("x\n")}},
	}
	dir := t.TempDir()
	rec, err := pkgmaker.Write(dir, pkg, pkgmaker.Conda)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := readArchive(context.Background(), filepath.Join(dir, rec.Fn), rec.Fn, "", DefaultMaxUnpackedSize, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := readArchive(context.Background(), filepath.Join(dir, rec.Fn), rec.Fn, "", DefaultMaxUnpackedSize, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(mem.payload) != len(sp.payload) {
		t.Fatalf("%d members in memory, %d spooled", len(mem.payload), len(sp.payload))
	}
	spooled := 0
	for i := range mem.payload {
		m, s := &mem.payload[i], &sp.payload[i]
		if s.spool != nil {
			spooled++
		}
		if m.size() != s.size() || m.digest() != s.digest() {
			t.Errorf("%s: spooled size/digest %d/%x, in memory %d/%x", m.name, s.size(), s.digest(), m.size(), m.digest())
		}
	}
	if spooled != 1 {
		t.Errorf("%d members spooled, want 1 (the large one)", spooled)
	}
}
