package recipes

import (
	"strings"
	"testing"
)

func TestPyPIBlocks(t *testing.T) {
	src := `
channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
pypi "private" {
  url      = "https://pypi.internal.example/simple/"
  packages = ["Internal_Lib"]
}
pypi "pypi" {
  url     = "https://pypi.org/simple"
  mirrors = ["https://mirror.example/pypi/simple"]
}
dependencies {
  conda = ["python 3.11.*"]
  pip   = ["requests >=2.31", "internal-lib[extra] ; python_version >= '3.8'"]
}
`
	r, diags := Parse("reprobuild.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(r.PyPI) != 2 || r.PyPI[0].Name != "private" || r.PyPI[0].URL != "https://pypi.internal.example/simple" ||
		r.PyPI[0].Packages[0] != "internal-lib" || r.PyPI[1].Mirrors[0] != "https://mirror.example/pypi/simple" {
		t.Fatalf("%+v", r.PyPI)
	}
	if len(r.Dependencies.Pip) != 2 || r.Dependencies.Pip[0].Range.Start.Line != 13 {
		t.Fatalf("%+v", r.Dependencies.Pip)
	}
	h := r.Hash()
	// Formatting of a requirement does not change the hash; its content and the index
	// order do; mirrors do not.
	for _, c := range []struct {
		from, to string
		same     bool
	}{
		{`"requests >=2.31"`, `"requests>=2.31"`, true},
		{`"requests >=2.31"`, `"requests >=2.32"`, false},
		{`https://mirror.example/pypi/simple`, `https://other.example/simple`, true},
		{`pypi "private"`, `pypi "priv"`, false},
	} {
		r2, diags := Parse("reprobuild.hcl", []byte(strings.Replace(src, c.from, c.to, 1)))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if (r2.Hash() == h) != c.same {
			t.Errorf("%s -> %s: hash same=%v, want %v", c.from, c.to, r2.Hash() == h, c.same)
		}
	}
	// Without PyPI parts the hash input is as before (no pypi/pip keys).
	r3, _ := Parse("reprobuild.hcl", []byte(`channel "conda-forge" { url = "https://conda.anaconda.org/conda-forge" }
dependencies { conda = ["python 3.11.*"] }`))
	if idx, pip := r3.hashPyPI(); idx != nil || pip != nil {
		t.Errorf("hash parts for a recipe without pip: %v %v", idx, pip)
	}
}
