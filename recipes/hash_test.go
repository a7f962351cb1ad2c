package recipes

import (
	"os"
	"strings"
	"testing"
)

const hashBase = `# base recipe
python { version = "3.11" }
channel "conda-forge" {
  url     = "https://conda.anaconda.org/conda-forge"
  mirrors = ["https://mirror.example/conda-forge"]
}
channel "bioconda" { url = "https://conda.anaconda.org/bioconda" }
solver {
  channel_priority = "strict"
  exclude_newer    = "2026-11-01T00:00:00Z"
}
dependencies { conda = ["numpy >=1.26", "scipy"] }
platform {
  targets = ["linux-64", "linux-aarch64"]
  glibc   = "2.28"
}
image "a" {
  tags   = ["registry.example/lab/a:1"]
  labels = { team = "lab", x = "y" }
}
runtime { env = { A = "1" } }
`

func mustHash(t *testing.T, name, src string) string {
	t.Helper()
	r, diags := Parse(name, []byte(src))
	if diags.HasErrors() {
		t.Fatalf("%s: %s", name, diags)
	}
	return r.Hash()
}

func TestHashStable(t *testing.T) {
	base := mustHash(t, "reprobuild.hcl", hashBase)
	same := map[string]string{
		"other file name": hashBase,
		"reformatted and commented": `python {
    version = "3.11"   # the interpreter
}
channel "conda-forge" {
    mirrors = ["https://mirror.example/conda-forge"]
    url = "https://conda.anaconda.org/conda-forge/"
}
channel "bioconda" {
  url = "https://conda.anaconda.org/bioconda"
}
dependencies {
  conda = ["scipy", "numpy   >=1.26"]
}
solver {
  exclude_newer = "2026-11-01T01:00:00+01:00"
  channel_priority = "strict"
}
platform {
  glibc = "2.28"
  targets = ["linux-aarch64", "linux-64"]
}
`,
		"image and runtime changed": replace(hashBase, `labels = { team = "lab", x = "y" }`, `labels = { x = "y", team = "other" }`, `A = "1"`, `A = "2"`, `lab/a:1`, `lab/a:2`),
		"mirror changed":            replace(hashBase, "mirror.example", "mirror2.example"),
	}
	for name, src := range same {
		t.Run("same/"+name, func(t *testing.T) {
			if got := mustHash(t, name+".hcl", src); got != base {
				t.Errorf("hash changed: %s != %s", got, base)
			}
		})
	}
	differ := map[string]string{
		"dependency version":    replace(hashBase, "numpy >=1.26", "numpy >=1.25"),
		"dependency added":      replace(hashBase, `"scipy"]`, `"scipy", "pandas"]`),
		"python version":        replace(hashBase, `"3.11"`, `"3.12"`),
		"channel order":         replace(hashBase, "channel \"bioconda\" { url = \"https://conda.anaconda.org/bioconda\" }\n", "", "python { version = \"3.11\" }\n", "python { version = \"3.11\" }\nchannel \"bioconda\" { url = \"https://conda.anaconda.org/bioconda\" }\n"),
		"channel url":           replace(hashBase, "conda.anaconda.org/bioconda", "example.org/bioconda"),
		"priority":              replace(hashBase, `channel_priority = "strict"`, `channel_priority = "flexible"`),
		"exclude_newer":         replace(hashBase, "2026-11-01", "2026-10-01"),
		"target removed":        replace(hashBase, `, "linux-aarch64"`, ""),
		"glibc":                 replace(hashBase, `"2.28"`, `"2.17"`),
		"cuda":                  hashBase + "hardware { cuda = \"12.4\" }\n",
		"base":                  replace(hashBase, `image "a" {`, `image "a" {`+"\n  base = \"oci:b@sha256:"+zeros64+"\""),
		"data source":           hashBase + "data \"w\" {\n url = \"https://x.example/w\"\n sha256 = \"" + zeros64 + "\"\n path = \"/w\"\n}\n",
		"channel allow-list":    replace(hashBase, "channel \"bioconda\" { url = \"https://conda.anaconda.org/bioconda\" }", "channel \"bioconda\" {\n url = \"https://conda.anaconda.org/bioconda\"\n packages = [\"samtools\"]\n}"),
		"python implementation": replace(hashBase, `python { version = "3.11" }`, "python {\n version = \"3.11\"\n implementation = \"pypy\"\n}"),
	}
	for name, src := range differ {
		t.Run("differs/"+name, func(t *testing.T) {
			if got := mustHash(t, name+".hcl", src); got == base {
				t.Errorf("hash did not change")
			}
		})
	}
}

const zeros64 = "0000000000000000000000000000000000000000000000000000000000000000"

func replace(s string, pairs ...string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			panic("replace: " + pairs[i] + " not found")
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

func TestHashGolden(t *testing.T) {
	// The hash is stored in every lock: changing the encoding invalidates all locks, so
	// it must be a deliberate change (update the constant and say so in the commit).
	src, err := os.ReadFile("testdata/valid/full.hcl")
	if err != nil {
		t.Fatal(err)
	}
	r, diags := Parse("full.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	const want = "7f490fc4cabc5c365fe71af0e015902fbaf127942a02fdd4862d98d4eade0402"
	if got := r.Hash(); got != want {
		t.Errorf("Hash() = %s, want %s", got, want)
	}
}

func BenchmarkParse(b *testing.B) {
	src, err := os.ReadFile("testdata/valid/full.hcl")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Parse("full.hcl", src); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/valid/full.hcl", "testdata/diagnostics/bad_match_spec.hcl", "testdata/diagnostics/variables.hcl", "testdata/diagnostics/bad_values.hcl"} {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(hashBase))
	f.Fuzz(func(t *testing.T, src []byte) {
		r, diags := Parse("fuzz.hcl", src, WithVariables(map[string]string{"cuda": "12.4"}))
		_ = FormatDiagnostics("fuzz.hcl", src, diags)
		if r != nil && !diags.HasErrors() {
			_ = r.Hash()
			_ = r.RootSpecs()
		}
	})
}

func BenchmarkHash(b *testing.B) {
	src, err := os.ReadFile("testdata/valid/full.hcl")
	if err != nil {
		b.Fatal(err)
	}
	r, diags := Parse("full.hcl", src)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Hash()
	}
}
