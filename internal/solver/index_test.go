package solver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// asIndexes is task with every channel's records passed as indexes by name
// (conda.IndexRepodata over each slice), which the solver reads name by name.
func asIndexes(task Task) Task {
	task.Channels = slices.Clone(task.Channels)
	for i, c := range task.Channels {
		var idx []*conda.RepodataIndex
		for _, recs := range append([][]conda.PackageRecord{c.Records}, c.Subdirs...) {
			idx = append(idx, conda.IndexRepodata(&conda.Repodata{Packages: recs}))
		}
		c.Records, c.Subdirs, c.Indexes = nil, nil, append(idx, c.Indexes...)
		task.Channels[i] = c
	}
	return task
}

// checkIndexed solves task again with its records passed as indexes and fails unless
// the answer (solution, or error text) is the one given.
func checkIndexed(t testing.TB, task Task, sol *Solution, err error) {
	t.Helper()
	sol2, err2 := Solve(context.Background(), asIndexes(task))
	if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
		t.Fatalf("records passed as indexes: error %v, passed whole: %v", err2, err)
	}
	if !reflect.DeepEqual(sol, sol2) {
		t.Fatalf("records passed as indexes: solution differs:\n%v\npassed whole:\n%v", sol2, sol)
	}
}

// TestIndexedDocumentsSameAsRecords: the real conda-forge subset indexed from its
// documents (records decoded back from the bytes only for reached names) gives every
// oracle case the solution of the decoded records.
func TestIndexedDocumentsSameAsRecords(t *testing.T) {
	doc := loadOracle(t)
	var idx []*conda.RepodataIndex
	for _, sd := range []string{"linux-64", "noarch"} {
		p := filepath.Join(subchannelDir, sd, "repodata.json")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		x, err := conda.BuildRepodataIndex(bytes.NewReader(data), bytes.NewReader(data), "https://conda.anaconda.org/conda-forge", conda.WithSource(p))
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, x)
	}
	for _, c := range doc.Cases {
		want := subchannelTask(t, doc, c.Specs)
		sol, err := Solve(context.Background(), want)
		got := want
		got.Channels = []ChannelRecords{{Name: want.Channels[0].Name, URL: want.Channels[0].URL, Indexes: idx}}
		sol2, err2 := Solve(context.Background(), got)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("specs %v: indexed error %v, decoded %v", c.Specs, err2, err)
		}
		if !reflect.DeepEqual(sol, sol2) {
			t.Fatalf("specs %v: indexed solution differs", c.Specs)
		}
		// With a cutoff that hides some records of most names.
		want.ExcludeNewer, got.ExcludeNewer = 1700000000000, 1700000000000
		sol, err = Solve(context.Background(), want)
		sol2, err2 = Solve(context.Background(), got)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) || !reflect.DeepEqual(sol, sol2) {
			t.Fatalf("specs %v with exclude-newer: indexed %v %v, decoded %v %v", c.Specs, sol2, err2, sol, err)
		}
	}
}

// TestIndexesAllowList: a channel allow-list hides names; through indexes the verdict
// and the explanation (which lists the hidden records) are those of decoded records.
func TestIndexesAllowList(t *testing.T) {
	doc := loadOracle(t)
	for _, c := range []struct {
		allow []string
		specs []string
	}{
		{[]string{"[a-o]*"}, []string{"numpy"}},            // python is hidden: unsatisfiable
		{[]string{"*"}, []string{"python 3.9.*", "numpy"}}, // everything allowed
		{[]string{"[!p]*", "python", "pip"}, []string{"python 3.9.*"}},
	} {
		task := subchannelTask(t, doc, c.specs)
		task.Channels[0].Allow = c.allow
		task.ExcludeNewer = 1710000000000
		sol, err := Solve(context.Background(), task)
		checkIndexed(t, task, sol, err)
		if c.allow[0] == "[a-o]*" && (err == nil || !strings.Contains(err.Error(), "allow-list")) {
			t.Fatalf("allow-list hiding python: got %v, want an explanation naming the allow-list", err)
		}
	}
}
