package pep440

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

type versionVector struct {
	In      string   `json:"in"`
	OK      bool     `json:"ok"`
	Norm    string   `json:"norm"`
	Epoch   uint64   `json:"epoch"`
	Release []uint64 `json:"release"`
	Pre     []any    `json:"pre"`
	Post    *uint64  `json:"post"`
	Dev     *uint64  `json:"dev"`
	Local   *string  `json:"local"`
	Public  string   `json:"public"`
	Base    string   `json:"base"`
	IsPre   bool     `json:"is_pre"`
}

// TestVersionVectors replays pypa/packaging's verdicts on the version strings of its tests.
func TestVersionVectors(t *testing.T) {
	var vs []versionVector
	readJSON(t, "versions.json", &vs)
	if len(vs) < 400 {
		t.Fatalf("only %d vectors", len(vs))
	}
	for _, c := range vs {
		v, err := Parse(c.In)
		if !c.OK {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want an error", c.In, v)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", c.In, err)
			continue
		}
		if got := v.String(); got != c.Norm {
			t.Errorf("Parse(%q).String() = %q, want %q", c.In, got, c.Norm)
		}
		if v.Public() != c.Public || v.Base() != c.Base || v.IsPrerelease() != c.IsPre || v.Epoch != c.Epoch {
			t.Errorf("Parse(%q): public %q base %q pre %v epoch %d; want %q %q %v %d", c.In,
				v.Public(), v.Base(), v.IsPrerelease(), v.Epoch, c.Public, c.Base, c.IsPre, c.Epoch)
		}
		if !slices.Equal(v.Release, c.Release) {
			t.Errorf("Parse(%q).Release = %v, want %v", c.In, v.Release, c.Release)
		}
		if (c.Post != nil) != v.HasPost || (c.Post != nil && *c.Post != v.PostNum) {
			t.Errorf("Parse(%q) post = %v %d, want %v", c.In, v.HasPost, v.PostNum, c.Post)
		}
		if (c.Dev != nil) != v.HasDev || (c.Dev != nil && *c.Dev != v.DevNum) {
			t.Errorf("Parse(%q) dev = %v %d, want %v", c.In, v.HasDev, v.DevNum, c.Dev)
		}
		if c.Local != nil && v.LocalString() != *c.Local || c.Local == nil && len(v.Local) > 0 {
			t.Errorf("Parse(%q) local = %q, want %v", c.In, v.LocalString(), c.Local)
		}
		if w, err := Parse(c.Norm); err != nil || Compare(v, w) != 0 {
			t.Errorf("%q does not equal its normal form %q: %v", c.In, c.Norm, err)
		}
	}
}

// TestVersionOrder checks the total order on the distinct versions of packaging's tests.
func TestVersionOrder(t *testing.T) {
	var order []string
	readJSON(t, "order.json", &order)
	vs := make([]Version, len(order))
	for i, s := range order {
		vs[i] = MustParse(s)
	}
	for i := range vs {
		for j := range vs {
			want := cmpU(uint64(i), uint64(j))
			if got := Compare(vs[i], vs[j]); got != want {
				t.Fatalf("Compare(%s, %s) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.0", "1!2.0rc1.post3.dev4+ab.5", "v1.0-1", "1.0.*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		w, err := Parse(v.String())
		if err != nil || Compare(v, w) != 0 || w.String() != v.String() {
			t.Fatalf("%q -> %q does not round-trip: %v", s, v.String(), err)
		}
	})
}
