package repogen

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestGenerateRenamesCopies(t *testing.T) {
	src, err := os.ReadFile("../../../../testdata/conda/repodata/conda-forge-py39-subchannel-20240516/linux-64/repodata.json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := Generate(&buf, src, int64(len(src))) // about two copies of compact JSON
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Packages      map[string]struct{ Name string } `json:"packages"`
		PackagesConda map[string]struct{ Name string } `json:"packages.conda"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("generated document is not JSON: %v", err)
	}
	if got := len(doc.Packages) + len(doc.PackagesConda); got != n || n%2709 != 0 || n < 2*2709 {
		t.Fatalf("wrote %d records, reported %d; want a multiple of the 2,709 source records", got, n)
	}
	for fn, r := range doc.PackagesConda {
		if !strings.HasPrefix(fn, r.Name+"-") || !strings.Contains(r.Name, "-r") {
			t.Fatalf("record %s has name %q, want a renamed copy matching its file name", fn, r.Name)
		}
	}
}
