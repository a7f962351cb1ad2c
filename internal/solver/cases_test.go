package solver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/reprobuild/reprobuild/internal/conda"
)

const testIndexDir = "../../testdata/conda/repodata/conda-test-index-channels"

var (
	testIndexOnce sync.Once
	testIndex     map[string][]conda.PackageRecord
	testIndexErr  error
)

// loadTestChannel reads conda's classic test index channel (both subdir halves).
func loadTestChannel(t testing.TB, name string) []conda.PackageRecord {
	t.Helper()
	testIndexOnce.Do(func() {
		testIndex = map[string][]conda.PackageRecord{}
		for _, ch := range []string{"channel-1", "channel-2", "channel-4", "channel-5"} {
			for _, half := range []struct{ file, subdir string }{{"_non-noarch.json", "linux-64"}, {"_noarch.json", "noarch"}} {
				p := filepath.Join(testIndexDir, ch+half.file)
				data, err := os.ReadFile(p)
				if err != nil {
					testIndexErr = err
					return
				}
				rd, err := conda.ParseRepodata(data, "https://conda.anaconda.org/"+ch, conda.WithSubdir(half.subdir), conda.WithSource(p))
				if err != nil {
					testIndexErr = err
					return
				}
				testIndex[ch] = append(testIndex[ch], rd.Packages...)
			}
		}
	})
	if testIndexErr != nil {
		t.Fatal(testIndexErr)
	}
	recs, ok := testIndex[name]
	if !ok {
		t.Fatalf("unknown test channel %q", name)
	}
	return recs
}

// strOrList decodes a JSON string or list of strings.
type strOrList []string

func (s *strOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = strOrList{one}
		return nil
	}
	var many []string
	err := json.Unmarshal(b, &many)
	*s = many
	return err
}

type pytestCase struct {
	Name  string `json:"name"`
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Input struct {
		Channels        strOrList       `json:"channels"`
		SpecsToAdd      strOrList       `json:"specs_to_add"`
		Prefix          strOrList       `json:"prefix"`
		HistorySpecs    strOrList       `json:"history_specs"`
		OverrideCuda    *string         `json:"override_cuda"`
		Pinned          strOrList       `json:"pinned_packages"`
		IgnorePinned    bool            `json:"ignore_pinned"`
		OverrideGlibc   *string         `json:"override_glibc"`
		ChannelPriority string          `json:"channel_priority"`
		Other           json.RawMessage `json:"-"`
	} `json:"input"`
	RawInput map[string]json.RawMessage `json:"-"`
	Output   struct {
		FinalState  []string `json:"final_state"`
		LinkPrecs   []string `json:"link_precs"`
		UnlinkPrecs []string `json:"unlink_precs"`
	} `json:"output"`
	Error *struct {
		Exception string            `json:"exception"`
		Entries   []json.RawMessage `json:"entries"`
	} `json:"error"`
}

// knownDifferences lists the pytest-conda-solvers cases this solver does not match,
// with the reason. They still run: the solution must be consistent, or the verdict
// must be the one written here.
var knownDifferences = map[string]string{
	"B003": "add_pip: conda adds pip as a python dependency by configuration; a Task has no such switch",
	"B009": "aggressive_update_packages: conda CLI policy that always updates listed names; not mapped to Task.Update here",
	"B011": "aggressive_update_packages: conda CLI policy that always updates listed names; not mapped to Task.Update here",
	"B012": "aggressive_update_packages: conda CLI policy that always updates listed names; not mapped to Task.Update here",
	"B014": "aggressive_update_packages: conda CLI policy that always updates listed names; not mapped to Task.Update here",
	"B017": "auto_update_conda + set_sys_prefix: conda updating itself in its base environment",
	"B021": "set_sys_prefix: conda protects its own package from downgrades in the base environment",
	"B022": "set_sys_prefix: conda protects its own package from downgrades in the base environment",
	"B024": "update_modifier: conda CLI update policy (update_specs) beyond Locked/Update",
	"B027": "update_modifier update_all: conda drops history constraints (keeps system-5.8-1 against history build *0)",
	"B031": "update_modifier update_deps: conda re-solves the requested package's dependencies freely",
	"B032": "update_modifier/deps_modifier: conda CLI update policy",
	"B035": "update_modifier update_deps: conda re-solves the requested package's dependencies freely",
	"I005": "Locked keeps the prefix's numpy 1.7.0 and nose; conda's install let numba's dependencies move (its freeze-installed fallback)",
	"I006": "update_modifier: conda CLI update policy beyond Locked/Update",
	"I007": "update_modifier: conda CLI update policy beyond Locked/Update",
	"I008": "update_modifier: conda CLI update policy beyond Locked/Update",
}

// unsupportedInputs are conda-CLI features outside the solver's Task (they belong to
// conda's install command, not to a lock solve).
var unsupportedInputs = []string{"aggressive_update_packages", "update_modifier", "auto_update_conda", "deps_modifier", "solution_records", "add_pip", "set_sys_prefix", "ignore_pinned"}

func recordKey(ch string, r *conda.PackageRecord) string {
	return fmt.Sprintf("%s::%s-%s-%s", ch, r.Name, r.Version, r.Build)
}

// parseDist parses "channel-1/${{ arch }}::numpy-1.7.1-py33_0" into channel and dist.
func parseDist(s string) (ch, dist string) {
	head, dist, _ := strings.Cut(s, "::")
	ch, _, _ = strings.Cut(head, "/")
	return ch, dist
}

func TestPytestCondaSolvers(t *testing.T) {
	files := []string{"basic", "integration", "cuda", "constricting_specs"}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("../../testdata/conda/solver-cases/pytest-conda-solvers", f+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Tests []json.RawMessage `json:"tests"`
			}
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			var passed, total int
			var table []string
			for _, raw := range doc.Tests {
				var c pytestCase
				if err := json.Unmarshal(raw, &c); err != nil {
					t.Fatal(err)
				}
				var in struct {
					Input map[string]json.RawMessage `json:"input"`
				}
				_ = json.Unmarshal(raw, &in)
				total++
				ok, why := runPytestCase(t, c, in.Input)
				known, isKnown := knownDifferences[c.ID]
				status := "pass"
				switch {
				case ok:
					passed++
					if isKnown {
						t.Errorf("%s %s now matches conda; remove it from knownDifferences", c.ID, c.Name)
					}
				case c.Kind == "determine_constricting_specs":
					status = "n/a "
				case isKnown:
					status = "DIFF"
					why = known + " | " + why
				default:
					status = "FAIL"
					t.Errorf("%s %s differs from conda: %s", c.ID, c.Name, why)
				}
				table = append(table, fmt.Sprintf("%s %-40s %-24s %s %s", c.ID, c.Name, c.Kind, status, why))
			}
			t.Logf("%s: %d/%d match conda\n%s", f, passed, total, strings.Join(table, "\n"))
		})
	}
}

// runPytestCase runs one case; it fails the test only for cases expected to match.
func runPytestCase(t *testing.T, c pytestCase, input map[string]json.RawMessage) (bool, string) {
	t.Helper()
	var unsupported []string
	for _, k := range unsupportedInputs {
		if _, ok := input[k]; ok {
			unsupported = append(unsupported, k)
		}
	}
	if c.Kind == "determine_constricting_specs" {
		return false, "conda CLI diagnostics (which history specs hold an update back) are not a solver output here"
	}
	var task Task
	byKey := map[string]*conda.PackageRecord{}
	for _, ch := range c.Input.Channels {
		recs := loadTestChannel(t, ch)
		task.Channels = append(task.Channels, ChannelRecords{Name: ch, URL: "https://conda.anaconda.org/" + ch, Records: recs})
		for i := range recs {
			r := &recs[i]
			byKey[fmt.Sprintf("%s::%s-%s-%s", ch, r.Name, r.Version, r.Build)] = r
		}
	}
	// conda's own default is flexible; the cases were recorded with it.
	task.ChannelPriority = PriorityFlexible
	if c.Input.ChannelPriority != "" {
		task.ChannelPriority = c.Input.ChannelPriority
	}
	vs := conda.VirtualSpec{Platform: conda.Linux64}
	if c.Input.OverrideCuda != nil {
		vs.Cuda = *c.Input.OverrideCuda
	}
	if c.Input.OverrideGlibc != nil {
		vs.Glibc = *c.Input.OverrideGlibc
	}
	task.Virtual = conda.VirtualPackages(vs)
	var prefix []string
	for _, p := range c.Input.Prefix {
		ch, dist := parseDist(p)
		r := byKey[ch+"::"+dist]
		if r == nil {
			t.Errorf("%s: prefix record %s not in the test index", c.ID, p)
			return false, "bad prefix"
		}
		task.Locked = append(task.Locked, *r)
		prefix = append(prefix, ch+"::"+dist)
	}
	specs := map[string]int{}
	addSpec := func(text string, history bool) {
		ms, err := conda.ParseMatchSpec(text)
		if err != nil {
			t.Errorf("%s: spec %q: %v", c.ID, text, err)
			return
		}
		s := Spec{MatchSpec: ms, Text: text, Origin: c.ID}
		if i, ok := specs[ms.Name]; ok && !history {
			// A requested spec replaces the history spec of its name, as conda does.
			task.Specs[i] = s
			delete(specs, ms.Name)
			return
		}
		if history {
			specs[ms.Name] = len(task.Specs)
		}
		task.Specs = append(task.Specs, s)
	}
	for _, s := range c.Input.HistorySpecs {
		addSpec(s, true)
	}
	for _, s := range c.Input.SpecsToAdd {
		addSpec(s, false)
		// conda install of an installed name asks for its newest version: Update.
		name := conda.MustParseMatchSpec(s).Name
		for _, r := range task.Locked {
			if r.Name == name {
				task.Update = append(task.Update, name)
			}
		}
	}
	if !c.Input.IgnorePinned {
		// conda's pinned packages constrain a name without requesting it.
		for _, text := range c.Input.Pinned {
			task.Constraints = append(task.Constraints, Spec{MatchSpec: conda.MustParseMatchSpec(text), Text: text, Origin: c.ID + " pinned"})
		}
	}
	sol, err := Solve(context.Background(), task)
	checkIndexed(t, task, sol, err)
	if sol != nil {
		if msg := checkConsistent(task, sol); msg != "" {
			t.Errorf("%s %s: inconsistent solution: %s", c.ID, c.Name, msg)
			return false, "inconsistent"
		}
	}
	if c.Kind == "unsatisfiable" {
		var ue *UnsatisfiableError
		if !errors.As(err, &ue) {
			return false, fmt.Sprintf("expected %s, got %v", c.Error.Exception, err)
		}
		t.Logf("%s %s explanation:\n%v", c.ID, c.Name, err)
		// Every package conda's message names must appear in ours.
		msg := err.Error()
		for _, n := range entryNames(c.Error.Entries) {
			if !strings.Contains(msg, n) {
				return false, fmt.Sprintf("explanation does not mention %s, which conda's does", n)
			}
		}
		return true, ""
	}
	if err != nil {
		return false, "error: " + firstLine(err.Error())
	}
	var want []string
	if c.Kind == "solve_for_diff" {
		final := map[string]bool{}
		for _, p := range prefix {
			final[p] = true
		}
		for _, p := range c.Output.UnlinkPrecs {
			ch, dist := parseDist(p)
			delete(final, ch+"::"+dist)
		}
		for _, p := range c.Output.LinkPrecs {
			ch, dist := parseDist(p)
			final[ch+"::"+dist] = true
		}
		for k := range final {
			want = append(want, k)
		}
	} else {
		for _, p := range c.Output.FinalState {
			ch, dist := parseDist(p)
			want = append(want, ch+"::"+dist)
		}
	}
	sort.Strings(want)
	var got []string
	for i := range sol.Records {
		r := &sol.Records[i]
		got = append(got, recordKey(strings.TrimPrefix(r.Channel, "https://conda.anaconda.org/"), r))
	}
	sort.Strings(got)
	if d := cmp.Diff(want, got); d != "" {
		why := "solution differs"
		if len(unsupported) > 0 {
			why += "; uses conda CLI inputs " + strings.Join(unsupported, ",")
		}
		return false, why + ": " + strings.ReplaceAll(d, "\n", " ")
	}
	return true, ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// checkConsistent verifies a solution independently of the solver: one record per
// name, root specs, depends and constrains all hold.
func checkConsistent(task Task, sol *Solution) string {
	installed := map[string]*conda.PackageRecord{}
	all := append(slices.Clone(sol.Records), task.Virtual...)
	for i := range all {
		r := &all[i]
		if o, dup := installed[r.Name]; dup {
			return fmt.Sprintf("two records of %s: %s and %s", r.Name, o.Build, r.Build)
		}
		installed[r.Name] = r
	}
	satisfied := func(text string) (bool, string) {
		ms, err := conda.ParseMatchSpec(text)
		if err != nil {
			return false, ""
		}
		n, _ := ms.ExactName()
		r := installed[n]
		return r != nil && ms.Match(r), n
	}
	for _, s := range task.Specs {
		n, _ := s.MatchSpec.ExactName()
		if r := installed[n]; r == nil || !s.MatchSpec.Match(r) {
			return "root spec " + s.Text + " not satisfied"
		}
	}
	for i := range all {
		r := &all[i]
		for _, d := range r.Depends {
			if ok, _ := satisfied(d); !ok {
				return fmt.Sprintf("%s-%s-%s: depends %s not satisfied", r.Name, r.Version, r.Build, d)
			}
		}
		for _, d := range r.Constrains {
			ms, err := conda.ParseMatchSpec(d)
			if err != nil {
				continue
			}
			n, _ := ms.ExactName()
			if o := installed[n]; o != nil && !ms.Match(o) {
				return fmt.Sprintf("%s-%s-%s: constrains %s violated by %s", r.Name, r.Version, r.Build, d, o.Version)
			}
		}
	}
	return ""
}

// entryNames extracts the package names at the ends of conda's UnsatisfiableError
// chains (a chain is a list of specs from a request to the conflict). The middle of a
// chain is one path among several, so it is not required.
func entryNames(entries []json.RawMessage) []string {
	var out []string
	for _, e := range entries {
		var one string
		if json.Unmarshal(e, &one) == nil {
			if ms, err := conda.ParseMatchSpec(one); err == nil {
				out = append(out, ms.Name)
			}
			continue
		}
		var many []json.RawMessage
		if json.Unmarshal(e, &many) == nil && len(many) > 0 {
			out = append(out, entryNames([]json.RawMessage{many[0], many[len(many)-1]})...)
		}
	}
	return out
}
