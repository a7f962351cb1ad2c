package solver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/reprobuild/reprobuild/internal/conda"
)

const subchannelDir = "../../testdata/conda/repodata/conda-forge-py39-subchannel-20240516"

var (
	subOnce sync.Once
	subRecs []conda.PackageRecord
	subErr  error
)

// loadSubchannel reads the real conda-forge subset (linux-64 and noarch).
func loadSubchannel(t testing.TB) []conda.PackageRecord {
	t.Helper()
	subOnce.Do(func() {
		for _, sd := range []string{"linux-64", "noarch"} {
			p := filepath.Join(subchannelDir, sd, "repodata.json")
			data, err := os.ReadFile(p)
			if err != nil {
				subErr = err
				return
			}
			rd, err := conda.ParseRepodata(data, "https://conda.anaconda.org/conda-forge", conda.WithSource(p))
			if err != nil {
				subErr = err
				return
			}
			subRecs = append(subRecs, rd.Packages...)
		}
	})
	if subErr != nil {
		t.Fatal(subErr)
	}
	return subRecs
}

type oracleDoc struct {
	Virtual []struct {
		Name, Version, Build string
	} `json:"virtual_packages"`
	Cases []struct {
		Specs              []string `json:"specs"`
		Solution           []string `json:"solution"`
		Error              string   `json:"error"`
		HeuristicSensitive bool     `json:"heuristic_sensitive"`
	} `json:"cases"`
}

func subchannelTask(t testing.TB, doc *oracleDoc, specs []string) Task {
	t.Helper()
	task := Task{Channels: []ChannelRecords{{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge", Records: loadSubchannel(t)}}}
	for _, v := range doc.Virtual {
		task.Virtual = append(task.Virtual, conda.PackageRecord{Name: v.Name, Version: v.Version, Build: v.Build, Subdir: "linux-64", Channel: "@"})
	}
	for i, s := range specs {
		ms, err := conda.ParseMatchSpec(s)
		if err != nil {
			t.Fatalf("spec %q: %v", s, err)
		}
		task.Specs = append(task.Specs, Spec{MatchSpec: ms, Text: s, Origin: fmt.Sprintf("oracle spec %d", i+1)})
	}
	return task
}

func loadOracle(t testing.TB) *oracleDoc {
	t.Helper()
	data, err := os.ReadFile("../../testdata/conda/solver-cases/conda-forge-subchannel-oracle.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc oracleDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

// TestCondaForgeOracle solves the spec sets conda-classic solved over the real
// conda-forge subset: every solution must be consistent, root versions must equal
// conda's, and package sets must be exact except where the oracle marks the case
// heuristic-sensitive.
func TestCondaForgeOracle(t *testing.T) {
	doc := loadOracle(t)
	var exact, roots, errs, total int
	for _, c := range doc.Cases {
		total++
		t.Run(strings.Join(c.Specs, "+"), func(t *testing.T) {
			task := subchannelTask(t, doc, c.Specs)
			sol, err := Solve(context.Background(), task)
			if c.Error != "" {
				var ue *UnsatisfiableError
				if !errors.As(err, &ue) {
					t.Fatalf("conda: %s; got %v", c.Error, err)
				}
				if strings.HasPrefix(c.Error, "ResolvePackageNotFound") && len(ue.NotFound) == 0 {
					t.Errorf("conda says no package matches; explanation has no NotFound spec:\n%v", ue)
				}
				errs++
				t.Logf("explanation:\n%v", err)
				return
			}
			if err != nil {
				t.Fatalf("conda found a solution; got %v", err)
			}
			if msg := checkConsistent(task, sol); msg != "" {
				t.Fatalf("inconsistent: %s", msg)
			}
			got := map[string]string{}
			var gotList []string
			for _, r := range sol.Records {
				got[r.Name] = r.Version
				gotList = append(gotList, fmt.Sprintf("%s %s %s", r.Name, r.Version, r.Build))
			}
			want := map[string]string{}
			for _, s := range c.Solution {
				f := strings.Fields(s)
				want[f[0]] = f[1]
			}
			rootOK := true
			for _, s := range task.Specs {
				n, _ := s.MatchSpec.ExactName()
				if got[n] != want[n] {
					rootOK = false
					t.Errorf("root %s: got version %q, conda chose %q", n, got[n], want[n])
				}
			}
			if rootOK {
				roots++
			}
			d := cmp.Diff(c.Solution, gotList)
			switch {
			case d == "":
				exact++
			case c.HeuristicSensitive:
				t.Logf("heuristic-sensitive case differs from conda-classic (allowed):\n%s", d)
			default:
				t.Errorf("package set differs from conda (-conda +ours):\n%s", d)
			}
		})
	}
	t.Logf("conda-forge oracle: %d cases; %d exact package sets, %d root-version matches, %d expected errors", total, exact, roots, errs)
}
