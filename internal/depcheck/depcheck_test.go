package depcheck

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/reprobuild/reprobuild/"

// rank is the layer of each package: a package may import only packages of a strictly
// lower rank. Packages under X/internal/ sit just above X. An internal/* package not
// listed here (a new one) may import any internal/* package but nothing above internal/.
var rank = map[string]int{
	"internal/version":  0,
	"internal/conda":    0,
	"internal/cas":      0,
	"internal/testutil": 0,
	"internal/vmdisk":   0,
	"internal/progress": 0,
	"internal/activate": 0,

	// Below even those: file-system helpers the store and the layer writer share.
	"internal/fsutil": -1,

	"internal/lock":     1,
	"internal/install":  1,
	"internal/solver":   1,
	"internal/pkgmaker": 1,
	"recipes":           1,

	"internal/runc":             1,
	"internal/launch/kubecheck": 1,

	"internal/image":   2,
	"internal/channel": 2,
	"internal/record":  2,
	"internal/sif":     2,
	"internal/launch":  2,

	"internal/plan":    3,
	"internal/catalog": 3,

	"frontend":         10,
	"frontend/gateway": 11,

	"builder": 20,

	"cmd/reprobuild":          30,
	"cmd/reprobuild-frontend": 30,

	"examples":          40,
	"internal/depcheck": 40,
}

// internalTop is the highest rank of the internal/ layer.
const internalTop = 9

type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func goList(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func packages(t *testing.T) []pkg {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(goList(t, "-json=ImportPath,Imports,TestImports,XTestImports", "./...")))
	var out []pkg
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// rankOf returns the rank of a project package (relative path) and whether it is known.
func rankOf(rel string) (float64, bool) {
	if r, ok := rank[rel]; ok {
		return float64(r), true
	}
	if i := strings.LastIndex(rel, "/internal/"); i > 0 {
		if r, ok := rank[rel[:i]]; ok {
			return float64(r) + 0.5, true
		}
	}
	if strings.HasPrefix(rel, "cmd/") {
		return float64(rank["cmd/reprobuild"]), true
	}
	if strings.HasPrefix(rel, "examples/") {
		return float64(rank["examples"]), true // tools that make example inputs
	}
	return 0, false
}

// sameInternalTree reports whether a and b are both helpers under the same X/internal/.
func sameInternalTree(a, b string) bool {
	i, j := strings.LastIndex(a, "/internal/"), strings.LastIndex(b, "/internal/")
	return i > 0 && i == j && a[:i] == b[:j]
}

// TestLayers fails when a package imports a package of its own or a higher layer.
func TestLayers(t *testing.T) {
	pkgs := packages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		from := strings.TrimPrefix(p.ImportPath, module)
		fr, known := rankOf(from)
		check := func(imports []string, test bool) {
			for _, imp := range imports {
				if !strings.HasPrefix(imp, module) {
					continue
				}
				to := strings.TrimPrefix(imp, module)
				if to == from || strings.HasPrefix(to, from+"/internal/") || sameInternalTree(from, to) {
					continue // its own external test, or its own internal helpers
				}
				tr, toKnown := rankOf(to)
				switch {
				case !known && strings.HasPrefix(from, "internal/"):
					// A package not in the table yet: it stays inside internal/.
					if toKnown && tr > internalTop {
						t.Errorf("%s imports %s, a layer above internal/", from, to)
					}
				case !known:
					t.Logf("%s is not in the layer table (add it)", from)
				case !toKnown && strings.HasPrefix(to, "internal/"):
					if fr <= internalTop && !test {
						t.Logf("%s imports %s, which is not in the layer table (add it)", from, to)
					}
				case !toKnown:
					t.Errorf("%s imports %s, which is not in the layer table", from, to)
				case test && fr > internalTop && tr > internalTop:
					// Tests of upper layers may drive other upper layers (e.g. the
					// gateway's test compares with the CLI's engine).
				case test && tr <= fr:
					// A test may use packages of its own layer (a lock test parses a
					// recipe).
				case tr >= fr && !(test && (to == "internal/testutil" || to == "internal/pkgmaker")):
					t.Errorf("%s imports %s: a package may only import lower layers (cmd -> builder -> frontend -> internal/*)", from, to)
				}
				if !test && (to == "internal/testutil" || to == "internal/pkgmaker") && from != "internal/depcheck" && !strings.HasPrefix(from, "examples") {
					t.Errorf("%s imports the test helper %s outside its tests", from, to)
				}
			}
		}
		check(p.Imports, false)
		check(p.TestImports, true)
		check(p.XTestImports, true)
	}
}

// TestFrontendBinaryDeps checks the gateway frontend image links only what compiling a
// plan needs: not the solver, the channel client, the package store, the builder or
// BuildKit's client connection helpers.
func TestFrontendBinaryDeps(t *testing.T) {
	deps := strings.Fields(string(goList(t, "-deps", "./cmd/reprobuild-frontend")))
	if len(deps) < 20 {
		t.Fatalf("go list -deps found only %d packages", len(deps))
	}
	forbidden := []string{
		module + "internal/solver",
		module + "internal/channel",
		module + "internal/cas",
		module + "builder",
		"github.com/moby/buildkit/client/connhelper",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("the gateway frontend links %s", d)
			}
		}
	}
}
