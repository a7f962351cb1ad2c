package solver

import (
	"context"
	"slices"
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
