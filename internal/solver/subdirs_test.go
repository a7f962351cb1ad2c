package solver

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// TestSubdirsSameAsOneSlice: a channel's records passed as Records plus Subdirs give
// the solution of the same records appended into Records, however they are split, also
// across channels under strict priority.
func TestSubdirsSameAsOneSlice(t *testing.T) {
	doc := loadOracle(t)
	all := loadSubchannel(t)
	split := func(recs []conda.PackageRecord, cuts ...int) ChannelRecords {
		cr := ChannelRecords{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge"}
		last := 0
		for i, c := range append(cuts, len(recs)) {
			if i == 0 {
				cr.Records = recs[last:c]
			} else {
				cr.Subdirs = append(cr.Subdirs, recs[last:c])
			}
			last = c
		}
		return cr
	}
	n := 0
	for _, c := range doc.Cases {
		if c.Error != "" || n == 8 {
			continue
		}
		n++
		want := subchannelTask(t, doc, c.Specs)
		wantSol := mustSolve(t, want)
		for _, cuts := range [][]int{{len(all) / 2}, {1, len(all) / 3, len(all) / 3, len(all) - 1}, {0}} {
			got := want
			got.Channels = []ChannelRecords{split(all, cuts...)}
			gotSol := mustSolve(t, got)
			if !slices.EqualFunc(wantSol.Records, gotSol.Records, func(a, b conda.PackageRecord) bool { return a.Fn == b.Fn && a.URL == b.URL }) {
				t.Fatalf("specs %v, cuts %v: solution differs from the one-slice solve", c.Specs, cuts)
			}
		}
	}
	if n == 0 {
		t.Fatal("no oracle case solved")
	}

	// Strict priority: the higher channel's record in its second slice still hides the
	// lower channel's newer one.
	rec := func(ch, name, version string) conda.PackageRecord {
		return conda.PackageRecord{Name: name, Version: version, Build: "0", Subdir: "noarch", Channel: ch, Fn: name + "-" + version + "-0.conda"}
	}
	high := ChannelRecords{Name: "high", Records: []conda.PackageRecord{rec("high", "b", "1.0")}, Subdirs: [][]conda.PackageRecord{nil, {rec("high", "a", "1.0")}}}
	low := ChannelRecords{Name: "low", Records: []conda.PackageRecord{rec("low", "a", "2.0")}}
	sol, err := Solve(context.Background(), Task{Specs: specs(t, "a"), Channels: []ChannelRecords{high, low}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sol.Records) != 1 || sol.Records[0].Channel != "high" {
		t.Fatalf("got %v, want a-1.0 from the higher channel", sol.Records)
	}
}

// TestTrackFeaturesBeforeVersion is the case where conda's two solvers differ, on real
// conda-forge records: with ld_impl_linux-64 held below 2.36, no CPython newer than
// 3.9.9 can be installed but the PyPy builds of python 3.9.18 can. conda's classic
// solver maximises the requested version first and picks PyPy; its default solver since
// 23.10 (libmamba), mamba, rattler and pixi deprioritise track_features first and pick
// CPython. We follow the default solver.
func TestTrackFeaturesBeforeVersion(t *testing.T) {
	task := subchannelTask(t, loadOracle(t), []string{"python 3.9.*", "ld_impl_linux-64 <2.36"})
	sol := mustSolve(t, task)
	got := byName(sol)
	py := got["python"]
	if len(py.TrackFeatures) > 0 || !strings.HasSuffix(py.Build, "_cpython") || py.Version != "3.9.6" {
		t.Errorf("python: got %s %s (track_features %v), want CPython 3.9.6", py.Version, py.Build, py.TrackFeatures)
	}
	if r, ok := got["pypy3.9"]; ok {
		t.Errorf("pypy3.9 %s installed; want none", r.Version)
	}
	// The PyPy answer exists: the rule, not satisfiability, decides.
	task.Specs = append(task.Specs, specs(t, "pypy3.9")...)
	if py := byName(mustSolve(t, task))["python"]; py.Version != "3.9.18" || len(py.TrackFeatures) == 0 {
		t.Errorf("with pypy3.9 requested: got python %s %s, want the PyPy build of 3.9.18", py.Version, py.Build)
	}
}
