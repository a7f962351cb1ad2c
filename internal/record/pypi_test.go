package record

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/lock"
)

func TestPyPIPURL(t *testing.T) {
	p := lock.PipPackage{Name: "Zope_Interface", Version: "6.0", URL: "https://files.example/zope_interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl"}
	if got, want := PyPIPURL(p, "https://pypi.org/simple"), "pkg:pypi/zope-interface@6.0?file_name=zope_interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if got := PyPIPURL(p, "https://user:pw@pypi.internal/simple/"); !strings.HasSuffix(got, "&repository_url=https%3A%2F%2Fpypi.internal%2Fsimple") {
		t.Errorf("%s", got)
	}
}

// TestPipInRecordAndSBOMs adds pip packages to the full case and checks that the runtime
// record and both SBOMs list them with pkg:pypi purls, and that both SBOMs stay valid.
func TestPipInRecordAndSBOMs(t *testing.T) {
	r, l := fullCase(t)
	l.PyPI = []lock.Channel{{Name: "pypi", URL: "https://pypi.org/simple"}}
	for i := range l.Targets {
		l.Targets[i].Pip = []lock.PipPackage{{Name: "requests", Version: "2.31.0", Index: "pypi",
			URL: "https://files.example/requests-2.31.0-py3-none-any.whl", SHA256: strings.Repeat("ab", 32)}}
	}
	rr, err := Runtime(r, l, buildInfo())
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.PipPackages) != 1 || rr.PipPackages[0].PURL != "pkg:pypi/requests@2.31.0?file_name=requests-2.31.0-py3-none-any.whl" {
		t.Fatalf("record pip packages %+v", rr.PipPackages)
	}
	if txt := rr.Text(); !strings.Contains(txt, "PyPI packages (1)") || !strings.Contains(txt, "requests  2.31.0") {
		t.Errorf("text form lacks the pip package:\n%s", txt)
	}
	for name, gen := range map[string]func() ([]byte, error){
		"spdx":      func() ([]byte, error) { return SPDX(r, l, "", sbomOpts) },
		"cyclonedx": func() ([]byte, error) { return CycloneDX(r, l, "", sbomOpts) },
	} {
		b, err := gen()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "pkg:pypi/requests@2.31.0") {
			t.Errorf("%s lacks the pypi purl", name)
		}
		var m any
		json.Unmarshal(b, &m)
		schema := spdxSchema(t)
		if name == "cyclonedx" {
			schema = cdxSchema(t)
		}
		if err := schema.Validate(m); err != nil {
			t.Errorf("%s with pip packages is not valid: %v", name, err)
		}
	}
}
