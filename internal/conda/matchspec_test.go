package conda

import (
	"encoding/json"
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
