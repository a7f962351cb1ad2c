package conda

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const specDir = "../../testdata/conda/conda-spec"

// readJSONL decodes every line of a JSONL file under testdata/conda/conda-spec into T.
func readJSONL[T any](t testing.TB, name string) []T {
	t.Helper()
	f, err := os.Open(filepath.Join(specDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	return out
}

// componentsOf renders a version's components the way the oracle files write them:
// numbers as JSON numbers, "post" as "+inf", "dev" as "DEV".
func componentsOf(v Version) []any {
	var out []any
	for i := 0; i < len(v.ends); i++ {
		start := int32(0)
		if i > 0 {
			start = v.ends[i-1]
		}
		var seg []any
		for _, c := range v.comps[start:v.ends[i]] {
			switch c.kind {
			case kNum:
				seg = append(seg, float64(c.num))
			case kBig:
				seg = append(seg, "big:"+c.str)
			case kInf:
				seg = append(seg, "+inf")
			default:
				seg = append(seg, c.str)
			}
		}
		out = append(out, seg)
	}
	return out
}

func TestVersionParseOracle(t *testing.T) {
	type row struct {
		Version    string `json:"version"`
		Normalized string `json:"normalized"`
		Components []any  `json:"components"`
	}
	for _, file := range []string{"version_parse.jsonl", "version_parse_real_world.jsonl"} {
		t.Run(file, func(t *testing.T) {
			rows := readJSONL[row](t, file)
			pass := 0
			for _, r := range rows {
				v, err := ParseVersion(r.Version)
				if err != nil {
					t.Errorf("ParseVersion(%q): %v", r.Version, err)
					continue
				}
				if v.Normalized() != r.Normalized {
					t.Errorf("ParseVersion(%q).Normalized() = %q, want %q", r.Version, v.Normalized(), r.Normalized)
					continue
				}
				// The oracle lists version segments only; local segments follow in ours.
				got := fmt.Sprint(componentsOf(v)[:v.nver])
				want := fmt.Sprint(normalizeOracleComponents(r.Components))
				if got != want {
					t.Errorf("ParseVersion(%q) components = %s, want %s", r.Version, got, want)
					continue
				}
				pass++
			}
			t.Logf("%s: %d/%d agree with conda", file, pass, len(rows))
		})
	}
}

func normalizeOracleComponents(cs []any) []any {
	out := make([]any, len(cs))
	for i, seg := range cs {
		ss := seg.([]any)
		n := make([]any, len(ss))
		for j, c := range ss {
			if s, ok := c.(string); ok && (s == "inf" || s == "Infinity") {
				c = "+inf"
			}
			n[j] = c
		}
		out[i] = n
	}
	return out
}

func TestVersionInvalid(t *testing.T) {
	type row struct {
		Version string `json:"version"`
	}
	rows := readJSONL[row](t, "version_invalid.jsonl")
	for _, r := range rows {
		t.Run(r.Version, func(t *testing.T) {
			if v, err := ParseVersion(r.Version); err == nil {
				t.Errorf("ParseVersion(%q) = %v, want error", r.Version, v.Normalized())
			}
		})
	}
}

func TestVersionCompareOracle(t *testing.T) {
	type row struct {
		A   string `json:"a"`
		B   string `json:"b"`
		Cmp int    `json:"cmp"`
	}
	rows := readJSONL[row](t, "oracle_version_compare.jsonl")
	pass := 0
	for _, r := range rows {
		a, errA := ParseVersion(r.A)
		b, errB := ParseVersion(r.B)
		if errA != nil || errB != nil {
			t.Errorf("parse %q/%q: %v %v", r.A, r.B, errA, errB)
			continue
		}
		if got := a.Compare(b); got != r.Cmp {
			t.Errorf("Compare(%q, %q) = %d, want %d", r.A, r.B, got, r.Cmp)
			continue
		}
		if got := b.Compare(a); got != -r.Cmp {
			t.Errorf("Compare(%q, %q) = %d, want %d", r.B, r.A, got, -r.Cmp)
			continue
		}
		pass++
	}
	t.Logf("oracle_version_compare.jsonl: %d/%d agree with conda", pass, len(rows))
}

func TestVersionCompareAsserted(t *testing.T) {
	type row struct {
		A      string `json:"a"`
		B      string `json:"b"`
		Op     string `json:"op"`
		Result bool   `json:"result"`
	}
	rows := readJSONL[row](t, "version_compare_asserted.jsonl")
	for _, r := range rows {
		t.Run(r.A+" "+r.Op+" "+r.B, func(t *testing.T) {
			a := MustParseVersion(r.A)
			b := MustParseVersion(r.B)
			var got bool
			switch r.Op {
			case "==":
				got = a.Compare(b) == 0
			case "!=":
				got = a.Compare(b) != 0
			case "startswith":
				got = a.StartsWith(b)
			default:
				t.Fatalf("unknown op %q", r.Op)
			}
			if got != r.Result {
				t.Errorf("got %v, want %v", got, r.Result)
			}
		})
	}
}

// checkOrderedLines checks a file where each line is strictly greater than the previous,
// or equal when it starts with "= "; "##" starts a new list and "#" is a comment.
func checkOrderedLines(t *testing.T, name string) {
	data, err := os.ReadFile(filepath.Join(specDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var prev *Version
	pairs, pass := 0, 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "##") {
			prev = nil
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		equal := strings.HasPrefix(line, "= ")
		text := strings.TrimPrefix(line, "= ")
		v, err := ParseVersion(text)
		if err != nil {
			t.Errorf("%s: ParseVersion(%q): %v", name, text, err)
			prev = nil
			continue
		}
		if prev != nil {
			pairs++
			want := -1
			if equal {
				want = 0
			}
			if got := prev.Compare(v); got != want {
				t.Errorf("%s: Compare(%q, %q) = %d, want %d", name, prev.String(), text, got, want)
			} else if got := v.Compare(*prev); got != -want {
				t.Errorf("%s: Compare(%q, %q) = %d, want %d", name, text, prev.String(), got, -want)
			} else {
				pass++
			}
		}
		prev = &v
	}
	if pairs == 0 {
		t.Fatalf("%s: no pairs", name)
	}
	t.Logf("%s: %d/%d adjacent pairs agree with conda", name, pass, pairs)
}

func TestVersionOrderLists(t *testing.T) {
	for _, f := range []string{"version_order.txt", "version_order_real_world.txt"} {
		t.Run(f, func(t *testing.T) { checkOrderedLines(t, f) })
	}
}

func TestVersionOrderGroups(t *testing.T) {
	type row struct {
		Name   string     `json:"name"`
		Groups [][]string `json:"groups"`
	}
	for _, r := range readJSONL[row](t, "version_order.jsonl") {
		t.Run(r.Name, func(t *testing.T) {
			var all [][]Version
			for _, g := range r.Groups {
				var vs []Version
				for _, s := range g {
					vs = append(vs, MustParseVersion(s))
				}
				all = append(all, vs)
			}
			// Every pair across the whole list, not only neighbours.
			for i, gi := range all {
				for j, gj := range all {
					want := 0
					if i < j {
						want = -1
					} else if i > j {
						want = 1
					}
					for _, a := range gi {
						for _, b := range gj {
							if got := a.Compare(b); got != want {
								t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
							}
						}
					}
				}
			}
		})
	}
}

func TestVersionStartsWithRattler(t *testing.T) {
	type row struct {
		Version         string `json:"version"`
		Prefix          string `json:"prefix"`
		CondaStartswith bool   `json:"conda_startswith"`
		DotStar         bool   `json:"conda_spec_prefix_dot_star"`
		Star            bool   `json:"conda_spec_prefix_star"`
	}
	rows := readJSONL[row](t, "peer-rattler/rattler_version_startswith.jsonl")
	for _, r := range rows {
		t.Run(r.Version+"~"+r.Prefix, func(t *testing.T) {
			v := MustParseVersion(r.Version)
			p := MustParseVersion(r.Prefix)
			if got := v.StartsWith(p); got != r.CondaStartswith {
				t.Errorf("StartsWith = %v, want %v", got, r.CondaStartswith)
			}
			for spec, want := range map[string]bool{r.Prefix + ".*": r.DotStar, r.Prefix + "*": r.Star} {
				vs, err := ParseVersionSpec(spec)
				if err != nil {
					t.Fatalf("ParseVersionSpec(%q): %v", spec, err)
				}
				if got := vs.Match(v); got != want {
					t.Errorf("%q.Match(%q) = %v, want %v", spec, r.Version, got, want)
				}
			}
		})
	}
}

func TestVersionRattlerParse(t *testing.T) {
	type row struct {
		Version string `json:"version"`
		Conda   struct {
			Valid      bool   `json:"valid"`
			Normalized string `json:"normalized"`
		} `json:"conda"`
	}
	rows := readJSONL[row](t, "peer-rattler/rattler_version_parse_snapshot.jsonl")
	for _, r := range rows {
		t.Run(r.Version, func(t *testing.T) {
			v, err := ParseVersion(r.Version)
			if (err == nil) != r.Conda.Valid {
				t.Fatalf("ParseVersion(%q) error = %v, conda valid = %v", r.Version, err, r.Conda.Valid)
			}
			if err == nil && v.Normalized() != r.Conda.Normalized {
				t.Errorf("Normalized() = %q, want %q", v.Normalized(), r.Conda.Normalized)
			}
		})
	}
}

func TestVersionSpecMatchOracle(t *testing.T) {
	type row struct {
		Spec           string `json:"spec"`
		Version        string `json:"version"`
		Matches        bool   `json:"matches"`
		SpecNormalized string `json:"spec_normalized"`
	}
	for _, file := range []string{"version_spec_match.jsonl", "oracle_version_spec_match.jsonl"} {
		t.Run(file, func(t *testing.T) {
			rows := readJSONL[row](t, file)
			pass := 0
			for _, r := range rows {
				vs, err := ParseVersionSpec(r.Spec)
				if err != nil {
					t.Errorf("ParseVersionSpec(%q): %v", r.Spec, err)
					continue
				}
				if r.SpecNormalized != "" && vs.String() != r.SpecNormalized {
					t.Errorf("ParseVersionSpec(%q).String() = %q, want %q", r.Spec, vs.String(), r.SpecNormalized)
					continue
				}
				if got := vs.MatchString(r.Version); got != r.Matches {
					t.Errorf("%q.Match(%q) = %v, want %v", r.Spec, r.Version, got, r.Matches)
					continue
				}
				pass++
			}
			t.Logf("%s: %d/%d agree with conda", file, pass, len(rows))
		})
	}
}

func TestVersionSpecInvalid(t *testing.T) {
	type row struct {
		Spec string `json:"spec"`
	}
	for _, r := range readJSONL[row](t, "version_spec_invalid.jsonl") {
		t.Run(r.Spec, func(t *testing.T) {
			if vs, err := ParseVersionSpec(r.Spec); err == nil {
				t.Errorf("ParseVersionSpec(%q) = %q, want error", r.Spec, vs)
			}
		})
	}
}

func TestVersionSpecRattler(t *testing.T) {
	type row struct {
		Spec    string `json:"spec"`
		Version string `json:"version"`
		Conda   bool   `json:"conda"`
	}
	for _, r := range readJSONL[row](t, "peer-rattler/rattler_version_spec_match.jsonl") {
		t.Run(r.Spec+"@"+r.Version, func(t *testing.T) {
			vs, err := ParseVersionSpec(r.Spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := vs.MatchString(r.Version); got != r.Conda {
				t.Errorf("got %v, want %v", got, r.Conda)
			}
		})
	}
}
