package record

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// filesCase reads a real recipe file with the recipe decoder and its lock with the lock
// parser. The lock is golden: -update regenerates it from the real conda-forge records
// of the full fixture, solved for this recipe's hash.
func filesCase(t testing.TB) (*recipes.Recipe, *lock.Lock, string) {
	t.Helper()
	dir := filepath.Join("testdata", "files")
	r, diags := recipes.ParseFile(filepath.Join(dir, "reprobuild.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	lockPath := filepath.Join(dir, lock.Filename)
	if tt, ok := t.(*testing.T); ok && *update {
		_, full := fullCase(tt)
		l := &lock.Lock{
			Version:    lock.FormatVersion,
			RecipeHash: r.Hash(),
			Channels:   []lock.Channel{{Name: "conda-forge", URL: condaForge}},
			Solver:     lock.Solver{ChannelPriority: r.Solver.ChannelPriority, ExcludeNewer: r.Solver.ExcludeNewer},
			Base:       lock.Base{Ref: "debian:bookworm-slim", Digest: strings.TrimPrefix(r.Image.Base, "debian:bookworm-slim@")},
			Targets:    full.Targets,
		}
		for _, d := range r.Data {
			l.Data = append(l.Data, lock.Data{Name: d.Name, URL: d.URL, SHA256: d.SHA256, Path: d.Path, Mode: d.Mode})
		}
		b, err := lock.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lockPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	l, err := lock.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if l.RecipeHash != r.Hash() {
		t.Fatalf("%s is stale for its recipe (run go test -update)", lockPath)
	}
	sum := sha256.Sum256(b)
	return r, l, hex.EncodeToString(sum[:])
}

func TestFilesGolden(t *testing.T) {
	r, l, lockHash := filesCase(t)
	b := buildInfo()
	b.LockHash = lockHash
	rr, err := Runtime(r, l, b)
	if err != nil {
		t.Fatal(err)
	}
	js, err := rr.JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "files/runtime.json.golden", js)
	o := sbomOpts
	o.LockHash = lockHash
	arts, err := SBOMs(r, l, "linux-64", o)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, spdxSchema(t), arts[0].Data)
	validate(t, cdxSchema(t), arts[1].Data)
	golden(t, "files/sbom.spdx.json.golden", arts[0].Data)
	golden(t, "files/sbom.cdx.json.golden", arts[1].Data)
	rep := Audit(AuditInput{Recipe: r, Lock: l})
	golden(t, "files/audit.txt.golden", []byte(rep.Text()))
	if !rep.LevelMet() {
		t.Errorf("the representative recipe does not meet its level:\n%s", rep.Text())
	}
	golden(t, "files/REPRODUCE.md.golden", Reproduce([]*RuntimeRecord{rr}, ReproduceOptions{SourceDateEpoch: "1715817600"}))
	if rr.Interpreter == nil || rr.Interpreter.Version != "3.9.19" || rr.Runtime.Workdir != "/work" {
		t.Errorf("record misses what the recipe file says: %+v %+v", rr.Interpreter, rr.Runtime)
	}
}
