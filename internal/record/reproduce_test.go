package record

import (
	"strings"
	"testing"
)

func TestReproduceGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			r, l := f.make(t)
			rr, err := Runtime(r, l, buildInfo())
			if err != nil {
				t.Fatal(err)
			}
			o := ReproduceOptions{SourceDateEpoch: "1715817600", Tested: []string{"linux-64, embedded engine: digest reproduced by `reprobuild verify`"}}
			md := Reproduce([]*RuntimeRecord{rr}, o)
			golden(t, f.name+"/REPRODUCE.md.golden", md)
			for _, p := range rr.Packages {
				if !strings.Contains(string(md), "| "+p.Name+" | "+p.Version+" | ") || !strings.Contains(string(md), p.SHA256) {
					t.Errorf("REPRODUCE.md lacks the row of %s", p.Name)
				}
			}
		})
	}
}

func TestReproduceMultiPlatform(t *testing.T) {
	r, l := fullCase(t)
	l.Targets = append(l.Targets, l.Targets[0])
	l.Targets[1].Platform = "linux-aarch64"
	var rs []*RuntimeRecord
	// Given in reverse order: the output sorts platforms.
	for _, p := range []string{"linux-aarch64", "linux-64"} {
		b := buildInfo()
		b.Platform = p
		rr, err := Runtime(r, l, b)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, rr)
	}
	md := string(Reproduce(rs, ReproduceOptions{ImageRef: "registry.example/lab/analysis@sha256:" + strings.Repeat("c", 64)}))
	i, j := strings.Index(md, "| linux-64 | linux/amd64 |"), strings.Index(md, "| linux-aarch64 | linux/arm64 |")
	if i < 0 || j < 0 || i > j {
		t.Errorf("platform table missing or unsorted:\n%s", md)
	}
	if !strings.Contains(md, "docker pull registry.example/lab/analysis@sha256:") || !strings.Contains(md, "None recorded") {
		t.Errorf("image ref or the empty tested list not rendered:\n%s", md)
	}
	if strings.Count(md, "| python | ") != 2 {
		t.Errorf("want a python row per platform")
	}
	if got := string(Reproduce(nil, ReproduceOptions{})); !strings.Contains(got, "No runtime record") {
		t.Errorf("empty input: %q", got)
	}
}
