package lock

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// completeLock is sampleLock with the dependency closure complete, so only the changes
// each case makes are reported.
func completeLock(t *testing.T) *Lock {
	l := sampleLock(t)
	l.Targets[1].Packages = append(l.Targets[1].Packages, records(t, "libgcc-ng-13.2.0-h77fa898_7.conda", "_libgcc_mutex-0.1-conda_forge.tar.bz2", "libgomp-13.2.0-h77fa898_7.conda", "_openmp_mutex-4.5-2_gnu.tar.bz2")...)
	return l
}

func TestCheck(t *testing.T) {
	want := Want{RecipeHash: recipeHash(t, sampleRecipe), Targets: []string{"linux-64", "linux-aarch64"}}
	if err := Check(completeLock(t), want); err != nil {
		t.Fatalf("fresh lock reported stale: %v", err)
	}
	tests := []struct {
		name   string
		edit   func(l *Lock, w *Want)
		reason []string
	}{
		{"recipe dependency changed", func(l *Lock, w *Want) {
			w.RecipeHash = recipeHash(t, sampleRecipe+"dependencies { conda = [\"numpy\"] }\n")
		}, []string{"the recipe changed since it was locked"}},
		{"recipe comment only", func(l *Lock, w *Want) {
			w.RecipeHash = recipeHash(t, "# a comment\n"+sampleRecipe)
		}, nil},
		{"target added to recipe", func(l *Lock, w *Want) {
			w.Targets = append(w.Targets, "osx-arm64")
		}, []string{"target osx-arm64 is not locked"}},
		{"target dropped from recipe", func(l *Lock, w *Want) {
			w.Targets = w.Targets[:1]
		}, []string{"target linux-aarch64 is locked but no longer in the recipe"}},
		{"package without sha256", func(l *Lock, w *Want) {
			l.Targets[1].Packages[0].SHA256 = ""
		}, []string{"linux-64: tzdata-2024a-h0c530f3_0 has no sha256"}},
		{"package without url", func(l *Lock, w *Want) {
			l.Targets[1].Packages[1].URL = ""
		}, []string{"linux-64: libzlib-1.2.13-h166bdaf_4 has no url"}},
		{"malformed sha256", func(l *Lock, w *Want) {
			l.Targets[0].Packages[0].SHA256 = "abc"
		}, []string{`linux-aarch64: tzdata-2024a-h0c530f3_0 has a malformed sha256 "abc"`}},
		{"dependency missing", func(l *Lock, w *Want) {
			pk := l.Targets[1].Packages
			l.Targets[1].Packages = pk[:len(pk)-4] // drop libgcc-ng and its closure
		}, []string{
			`linux-64: libzlib-1.2.13-h166bdaf_4 depends on "libgcc-ng >=12" but no libgcc-ng is locked`,
			`linux-64: zlib-1.2.13-h166bdaf_4 depends on "libgcc-ng >=12" but no libgcc-ng is locked`,
		}},
		{"dependency version not satisfied", func(l *Lock, w *Want) {
			for i, p := range l.Targets[1].Packages {
				if p.Name == "libzlib" {
					l.Targets[1].Packages[i].Version = "1.2.12"
				}
			}
		}, []string{`linux-64: zlib-1.2.13-h166bdaf_4 depends on "libzlib 1.2.13 h166bdaf_4" but the lock has libzlib-1.2.12-h166bdaf_4`}},
		{"virtual package too old", func(l *Lock, w *Want) {
			l.Targets[1].Packages = append(l.Targets[1].Packages, records(t, "python-3.9.19-h0755675_0_cpython.conda")...)
			l.Targets[1].Packages = l.Targets[1].Packages[len(l.Targets[1].Packages)-1:]
			l.Targets[1].Packages[0].Depends = []string{"__glibc >=2.30"}
		}, []string{`linux-64: python-3.9.19-h0755675_0_cpython depends on "__glibc >=2.30" but the lock has __glibc-2.28-0`}},
		{"root package removed from one target", func(l *Lock, w *Want) {
			w.Specs = []Spec{{Text: "tzdata", Origin: "reprobuild.hcl:7:13"}}
			var kept []conda.PackageRecord
			for _, p := range l.Targets[1].Packages {
				if p.Name != "tzdata" {
					kept = append(kept, p)
				}
			}
			l.Targets[1].Packages = kept
		}, []string{`linux-64: recipe spec "tzdata" (reprobuild.hcl:7:13) is satisfied by no locked package`}},
		{"root spec refuses the locked version", func(l *Lock, w *Want) {
			w.Specs = []Spec{{Text: "tzdata >=2025", Origin: "reprobuild.hcl:7:13"}}
		}, []string{
			`linux-aarch64: recipe spec "tzdata >=2025" (reprobuild.hcl:7:13) is not satisfied by the locked tzdata-2024a-h0c530f3_0`,
			`linux-64: recipe spec "tzdata >=2025" (reprobuild.hcl:7:13) is not satisfied by the locked tzdata-2024a-h0c530f3_0`,
		}},
		{"root specs satisfied (channel, virtual)", func(l *Lock, w *Want) {
			w.Specs = []Spec{{Text: "conda-forge::tzdata 2024a"}, {Text: "__glibc >=2.17"}, {Text: "tzdata"}}
		}, nil},
		{"pip package", func(l *Lock, w *Want) {
			l.Targets[0].Pip = []PipPackage{{Name: "requests", Version: "2.31.0", URL: "https://files.example/requests.whl"}}
		}, []string{"linux-aarch64: pip package requests 2.31.0 has no sha256"}},
		{"pip sdist", func(l *Lock, w *Want) {
			l.Targets[0].Pip = []PipPackage{{Name: "x", Version: "1", URL: "https://files.example/x-1.tar.gz", SHA256: strings.Repeat("a", 64)}}
		}, []string{"linux-aarch64: pip package x 1 is not a wheel (https://files.example/x-1.tar.gz); reprobuild installs wheels only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := completeLock(t)
			w := want
			w.Targets = append([]string(nil), want.Targets...)
			tt.edit(l, &w)
			err := Check(l, w)
			var se *StaleError
			if tt.reason == nil {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *StaleError", err)
			}
			var got []string
			for _, r := range se.Reasons {
				got = append(got, cut(r))
			}
			if diff := cmp.Diff(tt.reason, got); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "reprobuild lock") {
				t.Errorf("error %q should be one line saying what to run", err)
			}
		})
	}
}

func TestStaleErrorMessage(t *testing.T) {
	var reasons []string
	for i := range 8 {
		reasons = append(reasons, fmt.Sprintf("reason %d", i))
	}
	got := (&StaleError{Reasons: reasons}).Error()
	want := "lock is stale (8 problems: reason 0; reason 1; reason 2; reason 3; reason 4; and 3 more); run `reprobuild lock`"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// cut drops the hash details in parentheses, which are checked by the message prefix.
func cut(s string) string {
	if i := strings.Index(s, " (lock has"); i >= 0 {
		return s[:i]
	}
	return s
}

func BenchmarkCheck(b *testing.B) {
	l, err := ImportCondaLock(testutil.ReadFile(b, "../../testdata/conda/lockfiles/conda-lock/test-lockfile/conda-lock.yml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Check(l, Want{RecipeHash: "x"})
	}
}
