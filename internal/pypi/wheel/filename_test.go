package wheel

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

func TestFilenameVectors(t *testing.T) {
	var rows []struct {
		In      string   `json:"in"`
		OK      bool     `json:"ok"`
		Name    string   `json:"name"`
		Version string   `json:"version"`
		Build   []any    `json:"build"`
		Tags    []string `json:"tags"`
	}
	readJSON(t, "wheels.json", &rows)
	for _, c := range rows {
		f, err := ParseFilename(c.In)
		if !c.OK {
			if err == nil {
				t.Errorf("ParseFilename(%q) = %+v, want an error", c.In, f)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFilename(%q): %v", c.In, err)
			continue
		}
		var tags []string
		for _, tg := range f.Tags {
			tags = append(tags, tg.String())
		}
		slices.Sort(tags)
		tags = slices.Compact(tags)
		if f.Name != c.Name || f.Version.String() != c.Version || !slices.Equal(tags, c.Tags) {
			t.Errorf("ParseFilename(%q) = %s %s %v, want %s %s %v", c.In, f.Name, f.Version, tags, c.Name, c.Version, c.Tags)
		}
		if (c.Build != nil) != f.HasBuild || c.Build != nil && (int(c.Build[0].(float64)) != f.BuildNum || c.Build[1].(string) != f.BuildTag) {
			t.Errorf("ParseFilename(%q) build = %v %d %q, want %v", c.In, f.HasBuild, f.BuildNum, f.BuildTag, c.Build)
		}
	}
}

func TestTagVectors(t *testing.T) {
	var want map[string][]string
	readJSON(t, "tags.json", &want)
	targets := []Target{
		{Python: [2]int{3, 12}, Arch: "x86_64", Glibc: [2]int{2, 28}},
		{Python: [2]int{3, 9}, Arch: "aarch64", Glibc: [2]int{2, 17}},
		{Python: [2]int{3, 11}, Arch: "x86_64", Glibc: [2]int{2, 36}},
	}
	for _, tg := range targets {
		w, ok := want[tg.String()]
		if !ok {
			t.Fatalf("no vector for %s", tg)
		}
		var got []string
		for _, x := range tg.Tags() {
			got = append(got, x.String())
		}
		if !slices.Equal(got, w) {
			for i := range min(len(got), len(w)) {
				if got[i] != w[i] {
					t.Fatalf("%s: tag %d = %s, want %s (len %d vs %d)", tg, i, got[i], w[i], len(got), len(w))
				}
			}
			t.Fatalf("%s: %d tags, want %d", tg, len(got), len(w))
		}
	}
	r := NewRanker(targets[0])
	f, _ := ParseFilename("numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
	g, _ := ParseFilename("numpy-2.0.0-cp39-abi3-manylinux_2_28_x86_64.whl")
	h, _ := ParseFilename("numpy-2.0.0-cp313-cp313-manylinux_2_17_x86_64.whl")
	k, _ := ParseFilename("six-1.0-py2.py3-none-any.whl")
	if a, b := r.Rank(f.Tags), r.Rank(g.Tags); a < 0 || b < 0 || a >= b {
		t.Errorf("ranks cp312 %d, abi3 %d: want cp312 better and both usable", a, b)
	}
	if r.Rank(h.Tags) != -1 || r.Rank(k.Tags) < 0 {
		t.Errorf("cp313 rank %d (want -1), py2.py3 rank %d", r.Rank(h.Tags), r.Rank(k.Tags))
	}
}
