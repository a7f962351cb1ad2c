package pep440

import (
	"testing"
)

type specVector struct {
	In          string `json:"in"`
	OK          bool   `json:"ok"`
	Norm        string `json:"norm"`
	Prereleases *bool  `json:"prereleases"`
}

func TestSpecifierVectors(t *testing.T) {
	var vs []specVector
	readJSON(t, "specifiers.json", &vs)
	for _, c := range vs {
		ss, err := ParseSpecifiers(c.In)
		if !c.OK {
			if err == nil {
				t.Errorf("ParseSpecifiers(%q) = %v, want an error", c.In, ss)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSpecifiers(%q): %v", c.In, err)
			continue
		}
		if got := ss.String(); got != c.Norm {
			t.Errorf("ParseSpecifiers(%q).String() = %q, want %q", c.In, got, c.Norm)
		}
		want := c.Prereleases != nil && *c.Prereleases
		if got := ss.AllowsPrereleases(); got != want {
			t.Errorf("ParseSpecifiers(%q).AllowsPrereleases() = %v, want %v", c.In, got, want)
		}
	}
}

// TestContainsVectors replays packaging's SpecifierSet.contains on the (specifier,
// version) pairs of its tests and on a spread of versions against every specifier.
func TestContainsVectors(t *testing.T) {
	var rows [][4]any
	readJSON(t, "contains.json", &rows)
	if len(rows) < 1000 {
		t.Fatalf("only %d rows", len(rows))
	}
	for _, r := range rows {
		spec, ver, want := r[0].(string), r[1].(string), r[3].(bool)
		ss, err := ParseSpecifiers(spec)
		if err != nil {
			t.Errorf("ParseSpecifiers(%q): %v", spec, err)
			continue
		}
		if got := ss.MatchString(ver); got != want {
			t.Errorf("%q contains %q = %v, want %v", spec, ver, got, want)
		}
	}
}
