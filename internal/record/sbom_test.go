package record

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schema compiles one of the official schemas committed under testdata/schemas (see
// NOTE.md there), with formats asserted.
func schema(t *testing.T, main string, ids map[string]string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for file, id := range ids {
		f, err := os.Open(filepath.Join("testdata", "schemas", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	s, err := c.Compile(ids[main])
	if err != nil {
		t.Fatalf("compiling %s: %v", main, err)
	}
	return s
}

func spdxSchema(t *testing.T) *jsonschema.Schema {
	return schema(t, "spdx-2.3.schema.json", map[string]string{"spdx-2.3.schema.json": "http://spdx.org/rdf/terms/2.3"})
}

func cdxSchema(t *testing.T) *jsonschema.Schema {
	return schema(t, "bom-1.6.schema.json", map[string]string{
		"bom-1.6.schema.json":  "http://cyclonedx.org/schema/bom-1.6.schema.json",
		"spdx.schema.json":     "http://cyclonedx.org/schema/spdx.schema.json",
		"jsf-0.82.schema.json": "http://cyclonedx.org/schema/jsf-0.82.schema.json",
	})
}

func validate(t *testing.T, s *jsonschema.Schema, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("document does not validate against the official schema:\n%v", err)
	}
}

var sbomOpts = SBOMOptions{ReprobuildVersion: "v0.1.0"}

func TestSBOMGoldenAndSchema(t *testing.T) {
	spdx, cdx := spdxSchema(t), cdxSchema(t)
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			r, l := f.make(t)
			arts, err := SBOMs(r, l, "", sbomOpts)
			if err != nil {
				t.Fatal(err)
			}
			if arts[0].MediaType != SPDXMediaType || arts[1].MediaType != CycloneDXMediaType {
				t.Fatalf("media types = %q, %q", arts[0].MediaType, arts[1].MediaType)
			}
			validate(t, spdx, arts[0].Data)
			validate(t, cdx, arts[1].Data)
			golden(t, f.name+"/sbom.spdx.json.golden", arts[0].Data)
			golden(t, f.name+"/sbom.cdx.json.golden", arts[1].Data)
			for _, s := range secrets {
				if bytes.Contains(arts[0].Data, []byte(s)) || bytes.Contains(arts[1].Data, []byte(s)) {
					t.Errorf("an SBOM leaks the credential %q", s)
				}
			}
		})
	}
}

// TestSchemaCatchesErrors makes sure the validation above can fail: a document missing a
// required field must be refused.
func TestSchemaCatchesErrors(t *testing.T) {
	r, l := fullCase(t)
	for _, tc := range []struct {
		name   string
		gen    func() ([]byte, error)
		schema *jsonschema.Schema
		drop   string
	}{
		{"spdx", func() ([]byte, error) { return SPDX(r, l, "", sbomOpts) }, spdxSchema(t), "creationInfo"},
		{"cyclonedx", func() ([]byte, error) { return CycloneDX(r, l, "", sbomOpts) }, cdxSchema(t), "specVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.gen()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			delete(m, tc.drop)
			if err := tc.schema.Validate(m); err == nil {
				t.Errorf("schema accepted a document without %s", tc.drop)
			}
		})
	}
}

func TestSBOMContent(t *testing.T) {
	r, l := fullCase(t)
	b, err := SPDX(r, l, "linux-64", sbomOpts)
	if err != nil {
		t.Fatal(err)
	}
	var doc spdxDocument
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// Runtime + base + every package + the data source.
	if got, want := len(doc.Packages), 2+len(l.Targets[0].Packages)+len(l.Data); got != want {
		t.Errorf("SPDX has %d packages, want %d", got, want)
	}
	if doc.CreationInfo.Created != Epoch(l).Format(time.RFC3339) {
		t.Errorf("created = %s, want the lock epoch %s", doc.CreationInfo.Created, Epoch(l).Format(time.RFC3339))
	}
	deps := 0
	for _, rel := range doc.Relationships {
		if rel.Type == "DEPENDS_ON" && strings.HasPrefix(rel.Element, "SPDXRef-Package-conda-python") && rel.Related == "SPDXRef-Package-conda-openssl" {
			deps++
		}
	}
	if deps != 1 {
		t.Errorf("python DEPENDS_ON openssl appears %d times, want 1", deps)
	}

	c, err := CycloneDX(r, l, "linux-64", sbomOpts)
	if err != nil {
		t.Fatal(err)
	}
	var bom cdxBOM
	if err := json.Unmarshal(c, &bom); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(bom.SerialNumber) {
		t.Errorf("serialNumber %q is not a version 5 UUID URN", bom.SerialNumber)
	}
	var lic []cdxLicenseItem
	for _, comp := range bom.Components {
		if comp.Name == "python" {
			lic = comp.Licenses
		}
	}
	if diff := cmp.Diff([]cdxLicenseItem{{License: &cdxLicense{ID: "Python-2.0"}}}, lic); diff != "" {
		t.Errorf("python licence (-want +got):\n%s", diff)
	}
}

func TestSBOMDeterministicAndContentAddressed(t *testing.T) {
	r, l := fullCase(t)
	a1, _ := CycloneDX(r, l, "", sbomOpts)
	s1, _ := SPDX(r, l, "", sbomOpts)
	a2, _ := CycloneDX(r, l, "", sbomOpts)
	s2, _ := SPDX(r, l, "", sbomOpts)
	if !bytes.Equal(a1, a2) || !bytes.Equal(s1, s2) {
		t.Fatal("two runs on the same lock give different SBOM bytes")
	}
	l.Targets[0].Packages[0].SHA256 = strings.Repeat("0", 64)
	a3, _ := CycloneDX(r, l, "", sbomOpts)
	s3, _ := SPDX(r, l, "", sbomOpts)
	var b1, b3 cdxBOM
	var d1, d3 spdxDocument
	json.Unmarshal(a1, &b1)
	json.Unmarshal(a3, &b3)
	json.Unmarshal(s1, &d1)
	json.Unmarshal(s3, &d3)
	if b1.SerialNumber == b3.SerialNumber || d1.DocumentNamespace == d3.DocumentNamespace {
		t.Error("a changed lock kept the same serial number or document namespace")
	}
	o := sbomOpts
	o.Created = time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	c, _ := CycloneDX(r, l, "", o)
	if !bytes.Contains(c, []byte(`"timestamp": "2025-01-02T02:04:05Z"`)) {
		t.Error("an explicit creation time is not used (in UTC)")
	}
}

func TestUUIDv5(t *testing.T) {
	// Expected values from Python's uuid.uuid5(uuid.NAMESPACE_URL, name).
	for name, want := range map[string]string{
		"reprobuild":         "c2767b0a-c3b3-5b8f-bb7a-313b94fbc859",
		"http://python.org/": "4c565f0d-3f5a-5890-b41b-20cf47701c5e",
		"":                   "1b4db7eb-4057-5ddf-91e0-36dec72071f5",
	} {
		if got := uuidV5(name); got != want {
			t.Errorf("uuidV5(%q) = %s, want %s", name, got, want)
		}
	}
}

func TestPURL(t *testing.T) {
	r, l := fullCase(t)
	_ = r
	py := l.Targets[0].Packages[0]
	for _, p := range l.Targets[0].Packages {
		if p.Name == "python" {
			py = p
		}
	}
	for _, tc := range []struct {
		name    string
		channel string
		want    string
	}{
		{"conda-forge", condaForge, "pkg:conda/python@" + py.Version + "?build=" + py.Build + "&channel=conda-forge&subdir=linux-64&type=conda"},
		{"defaults", "https://repo.anaconda.com/pkgs/main", "pkg:conda/python@" + py.Version + "?build=" + py.Build + "&channel=main&subdir=linux-64&type=conda"},
		{"file", "file:///srv/ch", "pkg:conda/python@" + py.Version + "?build=" + py.Build + "&channel=file%3A%2F%2F%2Fsrv%2Fch&subdir=linux-64&type=conda"},
		{"token", "https://conda.anaconda.org/t/xyz/private", "pkg:conda/python@" + py.Version + "?build=" + py.Build + "&channel=private&subdir=linux-64&type=conda"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := py
			p.Channel = tc.channel
			if got := PURL(p, ""); got != tc.want {
				t.Errorf("PURL = %s\nwant   %s", got, tc.want)
			}
		})
	}
}

func TestSPDXLicense(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"MIT", "MIT", true},
		{"zlib", "Zlib", true},
		{"Apache-2.0 WITH LLVM-exception", "Apache-2.0 WITH LLVM-exception", true},
		{"X11 AND BSD-3-Clause", "X11 AND BSD-3-Clause", true},
		{"LGPL-2.1 and GPL-2.0", "LGPL-2.1 AND GPL-2.0", true},
		{"MIT OR (Apache-2.0 AND BSD-2-Clause)", "MIT OR (Apache-2.0 AND BSD-2-Clause)", true},
		{"GPL-2.0-or-later", "GPL-2.0-or-later", true},
		{"LicenseRef-Custom", "LicenseRef-Custom", true},
		{"BSD 3-Clause", "", false},
		{"GPL", "", false},
		{"None", "", false},
		{"Free software (MIT-like)", "", false},
		{"MIT AND", "", false},
		{"(MIT", "", false},
		{"", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := spdxLicense(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("spdxLicense(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzSPDXLicense(f *testing.F) {
	for _, s := range []string{"MIT", "Apache-2.0 WITH LLVM-exception", "(MIT OR GPL-2.0) AND Zlib", "BSD 3-Clause", "((", "a WITH"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		expr, ok := spdxLicense(s)
		if !ok {
			return
		}
		// A canonical expression is a fixed point.
		again, ok2 := spdxLicense(expr)
		if !ok2 || again != expr {
			t.Fatalf("spdxLicense(%q) = %q, but that re-parses to %q, %v", s, expr, again, ok2)
		}
	})
}
