package pep508

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "packaging", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestNameVectors(t *testing.T) {
	var rows [][3]any
	readJSON(t, "names.json", &rows)
	for _, r := range rows {
		in, norm, isNorm := r[0].(string), r[1].(string), r[2].(bool)
		if got := NormalizeName(in); got != norm {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, norm)
		}
		if got := IsNormalized(in); got != isNorm {
			t.Errorf("IsNormalized(%q) = %v, want %v", in, got, isNorm)
		}
	}
}

func TestMarkerVectors(t *testing.T) {
	var doc struct {
		Envs    map[string]Env `json:"envs"`
		Markers []struct {
			In   string           `json:"in"`
			OK   bool             `json:"ok"`
			Norm string           `json:"norm"`
			Eval map[string]*bool `json:"eval"`
		} `json:"markers"`
	}
	readJSON(t, "markers.json", &doc)
	if len(doc.Markers) < 80 {
		t.Fatalf("only %d markers", len(doc.Markers))
	}
	for _, c := range doc.Markers {
		m, err := ParseMarker(c.In)
		if !c.OK {
			if err == nil {
				t.Errorf("ParseMarker(%q) = %q, want an error", c.In, m)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseMarker(%q): %v", c.In, err)
			continue
		}
		if got := m.String(); got != c.Norm {
			t.Errorf("ParseMarker(%q).String() = %q, want %q", c.In, got, c.Norm)
		}
		for name, want := range c.Eval {
			got, err := m.Evaluate(doc.Envs[name])
			switch {
			case want == nil && err == nil:
				t.Errorf("%q in %s = %v, want an error", c.In, name, got)
			case want != nil && err != nil:
				t.Errorf("%q in %s: %v", c.In, name, err)
			case want != nil && got != *want:
				t.Errorf("%q in %s = %v, want %v", c.In, name, got, *want)
			}
		}
	}
}

func TestRequirementVectors(t *testing.T) {
	var rows []struct {
		In        string   `json:"in"`
		OK        bool     `json:"ok"`
		Name      string   `json:"name"`
		Extras    []string `json:"extras"`
		Specifier string   `json:"specifier"`
		URL       *string  `json:"url"`
		Marker    *string  `json:"marker"`
		Norm      string   `json:"norm"`
	}
	readJSON(t, "requirements.json", &rows)
	for _, c := range rows {
		r, err := ParseRequirement(c.In)
		if !c.OK {
			if err == nil {
				t.Errorf("ParseRequirement(%q) = %q, want an error", c.In, r)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRequirement(%q): %v", c.In, err)
			continue
		}
		ex := slices.Clone(r.Extras)
		slices.Sort(ex)
		ex = slices.Compact(ex)
		if r.Name != c.Name || !slices.Equal(ex, c.Extras) && len(ex)+len(c.Extras) > 0 ||
			r.Specifier.String() != c.Specifier || r.String() != c.Norm {
			t.Errorf("ParseRequirement(%q) = %q %v %q -> %q; want %q %v %q -> %q", c.In,
				r.Name, ex, r.Specifier, r.String(), c.Name, c.Extras, c.Specifier, c.Norm)
		}
		if (c.URL == nil) != (r.URL == "") || c.URL != nil && *c.URL != r.URL {
			t.Errorf("ParseRequirement(%q).URL = %q, want %v", c.In, r.URL, c.URL)
		}
		if (c.Marker == nil) != r.Marker.IsEmpty() || c.Marker != nil && *c.Marker != r.Marker.String() {
			t.Errorf("ParseRequirement(%q).Marker = %q, want %v", c.In, r.Marker, c.Marker)
		}
	}
}

func FuzzParseRequirement(f *testing.F) {
	for _, s := range []string{"name[a,b] (>=1,<2) ; python_version < '3.9' and extra == 'x'", "a @ https://x/y.whl ; os_name=='nt'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequirement(s)
		if err != nil {
			return
		}
		if _, err := ParseRequirement(r.String()); err != nil {
			t.Fatalf("%q -> %q does not parse again: %v", s, r.String(), err)
		}
	})
}
