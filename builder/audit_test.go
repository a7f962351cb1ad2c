package builder

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/record"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// lockedPackages are real conda-forge linux-64 records (from the shared test repodata)
// forming a closed dependency set: libgomp needs _libgcc_mutex.
func lockedPackages(t *testing.T) []conda.PackageRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repodataDir, "linux-64", "repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	type raw struct {
		Name, Version, Build, Subdir, License, MD5, SHA256 string
		BuildNumber                                        int64 `json:"build_number"`
		Depends                                            []string
		Timestamp, Size                                    int64
	}
	var rd struct {
		Packages      map[string]raw `json:"packages"`
		PackagesConda map[string]raw `json:"packages.conda"`
	}
	if err := json.Unmarshal(b, &rd); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"_libgcc_mutex":   "_libgcc_mutex-0.1-conda_forge.tar.bz2",
		"ca-certificates": "ca-certificates-2024.2.2-hbcca054_0.conda",
		"libgomp":         "libgomp-12.3.0-h77fa898_7.conda",
	}
	var out []conda.PackageRecord
	for _, fn := range want {
		q, ok := rd.PackagesConda[fn]
		if !ok {
			q, ok = rd.Packages[fn]
		}
		if !ok {
			t.Fatalf("%s is not in the test repodata", fn)
		}
		const ch = "https://conda.anaconda.org/conda-forge"
		out = append(out, conda.PackageRecord{
			Name: q.Name, Version: q.Version, Build: q.Build, BuildNumber: q.BuildNumber, Depends: q.Depends,
			Subdir: q.Subdir, License: q.License, MD5: q.MD5, SHA256: q.SHA256, Size: q.Size, Timestamp: q.Timestamp,
			Fn: fn, Channel: ch, URL: ch + "/linux-64/" + fn,
		})
	}
	slices.SortFunc(out, func(a, b conda.PackageRecord) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// auditDir copies testdata/audit/NAME into a temporary directory, makes it the working
// directory (so reports name "reprobuild.hcl", not a temporary path) and, when edit is not
// nil, writes a lock solved from the real records, changed by edit.
func auditDir(t *testing.T, name string, edit func(*lock.Lock)) {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "audit", name, "reprobuild.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "reprobuild.hcl"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if edit == nil {
		return
	}
	r, err := LoadRecipe("reprobuild.hcl", nil)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLock(r)
	l.Targets = []lock.Target{{Platform: "linux-64", Packages: lockedPackages(t)}}
	edit(l)
	if err := WriteLock(r, l); err != nil {
		t.Fatal(err)
	}
}

func auditGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenRoot, "audit", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// Absolute paths, resolved before the tests change directory.
var (
	goldenRoot  = abs("testdata")
	repodataDir = abs("../testdata/conda/repodata/conda-forge-py39-subchannel-20240516")
)

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

func TestAuditClean(t *testing.T) {
	auditDir(t, "clean", func(*lock.Lock) {})
	rep, err := Audit("reprobuild.hcl", AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Threats) != 0 || !rep.LevelMet() {
		t.Fatalf("clean recipe: met=%v threats=%+v", rep.LevelMet(), rep.Threats)
	}
	auditGolden(t, "clean.golden", []byte(rep.Text()))
	// The lock is committed too, so the CLI tests audit real files.
	lb, err := os.ReadFile("reprobuild.lock")
	if err != nil {
		t.Fatal(err)
	}
	auditGolden(t, "clean/reprobuild.lock", lb)
}

func TestAuditRisky(t *testing.T) {
	auditDir(t, "risky", func(l *lock.Lock) {
		l.Targets[0].Packages[1].SHA256 = ""
	})
	rep, err := Audit("reprobuild.hcl", AuditOptions{LinkScripts: map[string][]string{"ca-certificates": {"post-link"}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, th := range rep.Threats {
		ids = append(ids, th.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	want := []string{
		record.ThreatBaseUnpinned, record.ThreatChannelInsecure, record.ThreatChannelNoMirror,
		record.ThreatChannelPriority, record.ThreatDataMounted, record.ThreatDataNoSHA256,
		record.ThreatGPUWithoutCUDA, record.ThreatLicenceDenied, record.ThreatLicenceUnknown,
		record.ThreatLinkScripts, record.ThreatNoExcludeNewer, record.ThreatPackageNoSHA256,
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("threat ids (-want +got):\n%s", diff)
	}
	if rep.LevelMet() || rep.Achieved != record.LevelNone {
		t.Errorf("risky recipe: met=%v achieved=%s", rep.LevelMet(), rep.Achieved)
	}
	auditGolden(t, "risky.golden", []byte(rep.Text()))
}

func TestAuditLockStates(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*lock.Lock)
		want string
	}{
		{"missing", nil, record.ThreatLockMissing},
		{"stale", func(l *lock.Lock) { l.RecipeHash = strings.Repeat("0", 64) }, record.ThreatLockStale},
		{"inconsistent", func(l *lock.Lock) {
			l.Targets[0].Packages = slices.DeleteFunc(l.Targets[0].Packages, func(p conda.PackageRecord) bool { return p.Name == "_libgcc_mutex" })
		}, record.ThreatLockProblem},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auditDir(t, "clean", tc.edit)
			rep, err := Audit("reprobuild.hcl", AuditOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Threats) != 1 || rep.Threats[0].ID != tc.want || rep.LevelMet() {
				t.Errorf("threats = %+v, met = %v; want only %s and the level not met", rep.Threats, rep.LevelMet(), tc.want)
			}
		})
	}
}

func TestAuditErrors(t *testing.T) {
	auditDir(t, "clean", func(*lock.Lock) {})
	if _, err := Audit("reprobuild.hcl", AuditOptions{VendorDir: "no-such-dir"}); err == nil || !strings.Contains(err.Error(), "no-such-dir") {
		t.Errorf("missing vendor dir: err = %v", err)
	}
	var re *RecipeError
	if _, err := Audit("nope.hcl", AuditOptions{}); err == nil || errors.As(err, &re) && re == nil {
		t.Errorf("missing recipe: err = %v", err)
	}
	if err := os.WriteFile("reprobuild.lock", []byte("version 1\nbogus line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Audit("reprobuild.hcl", AuditOptions{}); err == nil || !strings.Contains(err.Error(), "reprobuild.lock") {
		t.Errorf("malformed lock: err = %v", err)
	}
}
