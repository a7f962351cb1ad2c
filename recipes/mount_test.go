package recipes

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDataSource(t *testing.T) {
	for in, want := range map[string]DataSource{
		"host:/srv/weights":        {Kind: "host", Path: "/srv/weights"},
		"host:inputs":              {Kind: "host", Path: "inputs"},
		"pvc:weights-v3":           {Kind: "pvc", Claim: "weights-v3"},
		"nfs:nfs.lab:/export/a/":   {Kind: "nfs", Server: "nfs.lab", Path: "/export/a"},
		"nfs:10.0.0.5:/export/b/c": {Kind: "nfs", Server: "10.0.0.5", Path: "/export/b/c"},
	} {
		got, why := ParseDataSource(in)
		if why != "" {
			t.Errorf("%q: %s", in, why)
			continue
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", in, d)
		}
	}
	for _, bad := range []string{"", "host:", "/srv/x", "s3://b/x", "pvc:Upper", "pvc:", "nfs:server", "nfs::/x", "nfs:s:rel"} {
		if _, why := ParseDataSource(bad); why == "" {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestDataSourceAndCPUs(t *testing.T) {
	src := []byte(`
hardware {
  cpus = 8
}
data "w" {
  url    = "https://example.org/w"
  path   = "/w"
  mode   = "mount"
  source = "pvc:weights"
}
`)
	r, diags := Parse("reprobuild.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if r.Hardware.CPUs != 8 || len(r.Data) != 1 || r.Data[0].Source != "pvc:weights" {
		t.Errorf("cpus %d, data %+v", r.Hardware.CPUs, r.Data)
	}
	if r.Data[0].SourceRange.Start.Line != 9 {
		t.Errorf("source range %v, want line 9", r.Data[0].SourceRange)
	}
}
