package pep440

import (
	"testing"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

type specVector struct {
	In          string `json:"in"`
	OK          bool   `json:"ok"`
	Norm        string `json:"norm"`
	Prereleases *bool  `json:"prereleases"`
}

func TestSpecifierVectors(t *testing.T) {
	var vs []specVector
	testutil.ReadJSON(t, vectors+"specifiers.json", &vs)
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
	testutil.ReadJSON(t, vectors+"contains.json", &rows)
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

func BenchmarkParseVersion(b *testing.B) {
	in := []string{"1.0", "2.31.0", "1!2.0rc1.post3.dev4+ab.5", "v1.0-1", "3.12.4", "0.38.4"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(in[i%len(in)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkContains(b *testing.B) {
	ss, _ := ParseSpecifiers(">=2.5,<4,!=3.1.*,~=3.0")
	v := MustParse("3.7")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !ss.Contains(v) {
			b.Fatal("no")
		}
	}
}
