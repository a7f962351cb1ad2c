package conda

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testCwd stands for the process working directory in the oracle files ("<CWD>"); conda
// ran them as root, so "~" was /root.
const testCwd = "/oracle-cwd"

var oracleOpts = []ParseOption{WithWorkDir(testCwd), WithHomeDir("/root")}

func fromOracle(s string) string { return strings.ReplaceAll(s, testCwd, "<CWD>") }

// fieldsOf renders a spec's fields the way the oracle's "fields" objects do.
func fieldsOf(m MatchSpec) map[string]string {
	out := map[string]string{}
	for _, f := range fieldOrder {
		if m.has&f.bit == 0 {
			continue
		}
		var v string
		switch f.bit {
		case fName:
			v = m.Name
		case fVersion:
			v = m.Version.String()
		case fBuild:
			v = m.Build
		case fBuildNumber:
			v = m.BuildNumber
		case fChannel:
			v = m.chn.canon
		case fSubdir:
			v = m.Subdir
		case fMD5:
			v = m.MD5
		case fSHA256:
			v = m.SHA256
		case fURL:
			v = m.URL
		case fFn:
			v = m.Fn
		case fLicense:
			v = m.License
		case fLicenseFamily:
			v = m.LicenseFamily
		case fTrackFeatures:
			v = strings.Join(m.TrackFeatures, " ")
		case fFeatures:
			v = strings.Join(m.Features, " ")
		default:
			continue
		}
		out[f.name] = fromOracle(v)
	}
	return out
}

func rawOf(t *testing.T, s string) map[string]string {
	o := newParseOptions(oracleOpts)
	r, err := o.parseSpecStr(s)
	if err != nil {
		t.Fatalf("parseSpecStr(%q): %v", s, err)
	}
	out := map[string]string{}
	for _, k := range r.keys {
		out[k] = fromOracle(r.values[k])
	}
	return out
}

func TestMatchSpecFieldsOracle(t *testing.T) {
	type row struct {
		Spec  string         `json:"spec"`
		Valid bool           `json:"valid"`
		Parse map[string]any `json:"parse_spec_str"`
		Field map[string]any `json:"fields"`
		Str   string         `json:"str"`
	}
	rows := readJSONL[row](t, "oracle_matchspec_fields.jsonl")
	pass := 0
	for _, r := range rows {
		ok := t.Run(r.Spec, func(t *testing.T) {
			m, err := ParseMatchSpec(r.Spec, oracleOpts...)
			if !r.Valid {
				if err == nil {
					t.Fatalf("ParseMatchSpec(%q) = %q, want error", r.Spec, m)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMatchSpec(%q): %v", r.Spec, err)
			}
			if diff := cmp.Diff(stringMap(r.Parse), rawOf(t, r.Spec)); diff != "" {
				t.Errorf("raw parse (-conda +ours):\n%s", diff)
			}
			if diff := cmp.Diff(stringMap(r.Field), fieldsOf(m)); diff != "" {
				t.Errorf("fields (-conda +ours):\n%s", diff)
			}
			if got := fromOracle(m.String()); got != r.Str {
				t.Errorf("String() = %q, want %q", got, r.Str)
			}
		})
		if ok {
			pass++
		}
	}
	t.Logf("oracle_matchspec_fields.jsonl: %d/%d agree with conda", pass, len(rows))
}

func stringMap(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		default:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		}
	}
	return out
}

// recordFromJSON builds a PackageRecord from an oracle file's record object.
func recordFromJSON(t *testing.T, m map[string]any) PackageRecord {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var r PackageRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("record %s: %v", b, err)
	}
	return r
}

func TestMatchSpecMatchOracle(t *testing.T) {
	type row struct {
		Spec    string         `json:"spec"`
		Record  map[string]any `json:"record"`
		Matches bool           `json:"matches"`
		Conda   *bool          `json:"conda"`
	}
	for _, file := range []string{"matchspec_match.jsonl", "peer-rattler/rattler_matchspec_match.jsonl"} {
		t.Run(file, func(t *testing.T) {
			rows := readJSONL[row](t, file)
			pass := 0
			for _, r := range rows {
				want := r.Matches
				if r.Conda != nil {
					want = *r.Conda
				}
				m, err := ParseMatchSpec(r.Spec)
				if err != nil {
					t.Errorf("ParseMatchSpec(%q): %v", r.Spec, err)
					continue
				}
				rec := recordFromJSON(t, r.Record)
				if got := m.Match(&rec); got != want {
					t.Errorf("%q.Match(%v) = %v, want %v", r.Spec, r.Record, got, want)
					continue
				}
				if v, err := ParseVersion(rec.Version); err == nil {
					if got := m.MatchVersion(&rec, v); got != want {
						t.Errorf("%q.MatchVersion(%v) = %v, want %v", r.Spec, r.Record, got, want)
						continue
					}
				}
				pass++
			}
			t.Logf("%s: %d/%d agree with conda", file, pass, len(rows))
		})
	}
}

func TestMatchSpecCanonicalStr(t *testing.T) {
	type row struct {
		Spec string `json:"spec"`
		Str  string `json:"str"`
	}
	for _, r := range readJSONL[row](t, "matchspec_canonical_str.jsonl") {
		t.Run(r.Spec, func(t *testing.T) {
			m, err := ParseMatchSpec(r.Spec, oracleOpts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := fromOracle(m.String()); got != r.Str {
				t.Errorf("String() = %q, want %q", got, r.Str)
			}
		})
	}
}

func TestMatchSpecParseSpecStr(t *testing.T) {
	type row struct {
		Spec   string         `json:"spec"`
		Parsed map[string]any `json:"parsed"`
	}
	for _, r := range readJSONL[row](t, "matchspec_parse_spec_str.jsonl") {
		t.Run(r.Spec, func(t *testing.T) {
			if diff := cmp.Diff(stringMap(r.Parsed), rawOf(t, r.Spec)); diff != "" {
				t.Errorf("(-conda +ours):\n%s", diff)
			}
		})
	}
}

func TestMatchSpecInvalid(t *testing.T) {
	type row struct {
		Spec string `json:"spec"`
	}
	for _, r := range readJSONL[row](t, "matchspec_invalid.jsonl") {
		t.Run(r.Spec, func(t *testing.T) {
			m, err := ParseMatchSpec(r.Spec)
			if err == nil {
				t.Fatalf("ParseMatchSpec(%q) = %q, want error", r.Spec, m)
			}
			var me *MatchSpecError
			if !errors.As(err, &me) {
				t.Errorf("error %T is not a *MatchSpecError", err)
			}
		})
	}
}

func TestMatchSpecExactValue(t *testing.T) {
	type row struct {
		Spec  string  `json:"spec"`
		Field string  `json:"field"`
		Exact *string `json:"exact_value"`
	}
	for _, r := range readJSONL[row](t, "matchspec_exact_value.jsonl") {
		t.Run(r.Spec+"/"+r.Field, func(t *testing.T) {
			m := MustParseMatchSpec(r.Spec)
			v, ok := m.ExactValue(r.Field)
			if r.Exact == nil {
				if ok {
					t.Errorf("ExactValue = %q, want none", v)
				}
				return
			}
			if !ok || v != *r.Exact {
				t.Errorf("ExactValue = %q, %v; want %q", v, ok, *r.Exact)
			}
		})
	}
}

func TestMatchSpecBuildEnvForm(t *testing.T) {
	type row struct {
		Spec   string `json:"spec"`
		Form   string `json:"form"`
		Output string `json:"output"`
	}
	for _, r := range readJSONL[row](t, "matchspec_build_env_form.jsonl") {
		t.Run(r.Form+"/"+r.Spec, func(t *testing.T) {
			m := MustParseMatchSpec(r.Spec)
			var got string
			switch r.Form {
			case "conda_build_form":
				var err error
				if got, err = m.CondaBuildForm(); err != nil {
					t.Fatal(err)
				}
			case "conda_env_form":
				got = m.CondaEnvForm()
			default:
				t.Fatalf("unknown form %q", r.Form)
			}
			if got != r.Output {
				t.Errorf("got %q, want %q", got, r.Output)
			}
		})
	}
}

func TestMatchSpecRattlerSnapshots(t *testing.T) {
	type row struct {
		Spec  string         `json:"spec"`
		Conda map[string]any `json:"conda"`
	}
	rows := readJSONL[row](t, "peer-rattler/rattler_matchspec_parse_snapshots.jsonl")
	pass, skipped := 0, 0
	for _, r := range rows {
		if r.Conda == nil {
			// A rattler "nameless" spec: conda has no such parser, nothing to compare.
			skipped++
			continue
		}
		ok := t.Run(r.Spec, func(t *testing.T) {
			valid, _ := r.Conda["valid"].(bool)
			m, err := ParseMatchSpec(r.Spec, oracleOpts...)
			if !valid {
				if err == nil {
					t.Fatalf("ParseMatchSpec(%q) = %q, conda rejects it", r.Spec, m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := stringMap(r.Conda)
			if got := fromOracle(m.String()); got != want["str"] {
				t.Errorf("String() = %q, want %q", got, want["str"])
			}
			delete(want, "valid")
			delete(want, "str")
			delete(want, "error")
			got := fieldsOf(m)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("fields (-conda +ours):\n%s", diff)
			}
		})
		if ok {
			pass++
		}
	}
	t.Logf("rattler_matchspec_parse_snapshots.jsonl: %d/%d agree with conda (%d rattler-only nameless specs have no conda verdict)", pass, len(rows)-skipped, skipped)
}

// TestMatchSpecChannelOnRealRecords checks channel-qualified specs against records as
// ParseRepodata produces them (Channel is the channel URL).
func TestMatchSpecChannelOnRealRecords(t *testing.T) {
	data, err := os.ReadFile(subchannel)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ParseRepodata(data, "https://conda.anaconda.org/conda-forge")
	if err != nil {
		t.Fatal(err)
	}
	mirror, err := ParseRepodata(data, "https://mirror.example.org/conda-forge")
	if err != nil {
		t.Fatal(err)
	}
	count := func(spec string, recs []PackageRecord) int {
		m := MustParseMatchSpec(spec)
		n := 0
		for i := range recs {
			if m.Match(&recs[i]) {
				n++
			}
		}
		return n
	}
	all := count("python", rd.Packages)
	if all == 0 {
		t.Fatal("no python records")
	}
	tests := []struct {
		spec string
		recs []PackageRecord
		want int
	}{
		{"conda-forge::python", rd.Packages, all},
		{"conda-forge/linux-64::python", rd.Packages, all},
		{"conda-forge/osx-64::python", rd.Packages, 0},
		{"https://conda.anaconda.org/conda-forge::python", rd.Packages, all},
		{"defaults::python", rd.Packages, 0},
		{"bioconda::python", rd.Packages, 0},
		{"python[channel=conda-*]", rd.Packages, all},
		{"conda-forge::python", mirror.Packages, all}, // conda compares channel names
		{"https://mirror.example.org/conda-forge::python", mirror.Packages, all},
		{"https://mirror.example.org/conda-forge::python", rd.Packages, 0},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			if got := count(tt.spec, tt.recs); got != tt.want {
				t.Errorf("%q matches %d records, want %d", tt.spec, got, tt.want)
			}
		})
	}
}
