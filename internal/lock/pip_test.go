package lock

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPipRoundTrip writes and reads a lock with PyPI indexes and pip packages.
func TestPipRoundTrip(t *testing.T) {
	l := &Lock{Version: 1, RecipeHash: strings.Repeat("ab", 32),
		Channels: []Channel{{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge"}},
		PyPI:     []Channel{{Name: "private", URL: "https://pypi.internal/simple"}, {Name: "pypi", URL: "https://pypi.org/simple"}},
		Solver:   Solver{ChannelPriority: "strict"}, Base: Base{Ref: "scratch"},
		Targets: []Target{{Platform: "linux-64", Pip: []PipPackage{
			{Name: "requests", Version: "2.31.0", URL: "https://files.example/requests-2.31.0-py3-none-any.whl", SHA256: strings.Repeat("1", 64),
				Index: "pypi", RequiresPython: ">=3.7", Requested: []string{"requests >=2.31 (reprobuild.hcl:12)"}},
			{Name: "idna", Version: "3.7", URL: "https://files.example/idna-3.7-py3-none-any.whl", SHA256: strings.Repeat("2", 64),
				Index: "pypi", Requested: []string{"requests==2.31.0"}},
		}}}}
	b, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pypi private https://pypi.internal/simple\npypi pypi https://pypi.org/simple\n",
		"  pip idna 3.7\n", `    requested "requests >=2.31 (reprobuild.hcl:12)"`, "    requires-python >=3.7\n", "    index pypi\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("lock lacks %q:\n%s", want, b)
		}
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := Marshal(back)
	if diff := cmp.Diff(string(b), string(b2)); diff != "" {
		t.Errorf("round trip (-first +second):\n%s", diff)
	}
	if p := Problems(back); len(p) != 0 {
		t.Errorf("problems %q", p)
	}
}
