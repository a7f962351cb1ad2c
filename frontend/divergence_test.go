package frontend

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/plan"
	"github.com/reprobuild/reprobuild/internal/record"
)

// TestLinkOrderIsThePlans checks a link step links its group in the plan's link order
// (dependencies first), the embedded engine's order, not in name or lock order: when two
// packages of a group write one path, both engines must pick the same winner.
func TestLinkOrderIsThePlans(t *testing.T) {
	l := sampleLock()
	pk := l.Targets[0].Packages
	// mytool < python < zlib by name; make mytool depend on zlib and python on mytool.
	pk[2].Depends = []string{"zlib >=1"}
	pk[1].Depends = []string{"mytool"}
	p, err := plan.New(nil, l, "", plan.Info{LayerBudget: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"zlib", "mytool", "python"}
	if d := cmp.Diff(want, p.Groups[0].Names()); d != "" {
		t.Fatalf("plan link order (-want +got):\n%s", d)
	}
	b, err := Compile(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := marshalBuild(t, b)
	var got [][]string
	for _, op := range ops(t, data) {
		f := op.GetFile()
		if f == nil {
			continue
		}
		for _, a := range f.Actions {
			mk := a.GetMkfile()
			if mk == nil || mk.Path != "/records.json" {
				continue
			}
			var recs []conda.PackageRecord
			if err := json.Unmarshal(mk.Data, &recs); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range recs {
				names = append(names, r.Name)
			}
			got = append(got, names)
		}
	}
	if d := cmp.Diff([][]string{want}, got); d != "" {
		t.Errorf("records the link step reads (-want +got):\n%s", d)
	}
}

// TestOnePlatformTable checks every subdir maps to the same OCI platform in the record,
// the frontend and conda (the one table).
func TestOnePlatformTable(t *testing.T) {
	subdirs := []string{"linux-32", "linux-64", "linux-aarch64", "linux-armv6l", "linux-armv7l", "linux-ppc64le",
		"linux-riscv64", "linux-s390x", "osx-64", "osx-arm64", "win-64", "win-arm64", "noarch", "emscripten-wasm32"}
	for _, sd := range subdirs {
		os, arch, variant, ok := conda.OCIPlatform(sd)
		ros, rarch, rvariant, rok := record.OCIPlatform(sd)
		if ros != os || rarch != arch || rvariant != variant || rok != ok {
			t.Errorf("%s: conda %s/%s/%s %v, record %s/%s/%s %v", sd, os, arch, variant, ok, ros, rarch, rvariant, rok)
		}
		fp, err := OCIPlatform(sd)
		if linux := ok && os == "linux"; linux != (err == nil) {
			t.Errorf("%s: frontend error %v, conda %s %v", sd, err, os, ok)
		} else if linux && (fp.OS != os || fp.Architecture != arch || fp.Variant != variant) {
			t.Errorf("%s: frontend %v, conda %s/%s/%s", sd, fp, os, arch, variant)
		}
	}
}
