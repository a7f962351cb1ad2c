package solver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
			checkIndexed(t, task, sol, err)
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
			if featuredRoot(t, task, c.Solution) {
				// conda-classic picked a build that tracks features (PyPy) for a newer
				// version; the default solver's rule, which we follow, does not.
				checkFeaturesFirst(t, task, sol, c.Solution)
				roots++
				return
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

// featuredRoot reports whether conda-classic's solution gives a requested name a
// record that tracks features.
func featuredRoot(t *testing.T, task Task, solution []string) bool {
	for _, s := range solution {
		f := strings.Fields(s)
		for _, sp := range task.Specs {
			if n, _ := sp.MatchSpec.ExactName(); n != f[0] {
				continue
			}
			for _, r := range task.Channels[0].Records {
				if r.Name == f[0] && r.Version == f[1] && r.Build == f[2] && len(r.TrackFeatures) > 0 {
					return true
				}
			}
		}
	}
	return false
}

// checkFeaturesFirst checks a solution against the rule of conda's default solver where
// it differs from classic: each requested name gets a record without track_features
// when one can be installed, of a version no newer than classic's choice, and no
// featureless build of a newer version matching the request can be installed with the
// other specs.
func checkFeaturesFirst(t *testing.T, task Task, sol *Solution, classic []string) {
	t.Helper()
	classicVer := map[string]string{}
	for _, s := range classic {
		f := strings.Fields(s)
		classicVer[f[0]] = f[1]
	}
	got := map[string]conda.PackageRecord{}
	for _, r := range sol.Records {
		got[r.Name] = r
	}
	for i, sp := range task.Specs {
		n, _ := sp.MatchSpec.ExactName()
		r := got[n]
		if len(r.TrackFeatures) > 0 {
			t.Errorf("%s: got %s %s %s, which tracks %v; want a featureless build", n, r.Name, r.Version, r.Build, r.TrackFeatures)
			continue
		}
		gv, cv := conda.MustParseVersion(r.Version), conda.MustParseVersion(classicVer[n])
		if gv.Compare(cv) > 0 {
			t.Errorf("%s: got %s, newer than conda-classic's %s", n, r.Version, classicVer[n])
		}
		tried := 0
		for _, c := range task.Channels[0].Records {
			v, err := conda.ParseVersion(c.Version)
			if c.Name != n || len(c.TrackFeatures) > 0 || err != nil || v.Compare(gv) <= 0 || !sp.MatchSpec.MatchVersion(&c, v) {
				continue
			}
			tried++
			alt := task
			alt.Specs = slices.Clone(task.Specs)
			text := n + " ==" + c.Version + " " + c.Build
			alt.Specs[i] = Spec{MatchSpec: conda.MustParseMatchSpec(text), Text: text}
			if _, err := Solve(context.Background(), alt); err == nil {
				t.Errorf("%s: got %s, but the featureless %s %s can be installed", n, r.Version, c.Version, c.Build)
			}
		}
		t.Logf("%s: %s %s (conda-classic: %s); %d newer featureless builds checked uninstallable", n, r.Version, r.Build, classicVer[n], tried)
	}
}
