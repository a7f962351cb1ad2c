package builder

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"

	"github.com/reprobuild/reprobuild/frontend"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/record"
)

// execSteps counts the exec ops (link steps) of a marshalled definition.
func execSteps(t *testing.T, def []byte) (n int, files map[string][]byte) {
	t.Helper()
	d, err := llb.ReadFrom(strings.NewReader(string(def)))
	if err != nil {
		t.Fatal(err)
	}
	files = map[string][]byte{}
	for _, dt := range d.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		if op.GetExec() != nil {
			n++
		}
		if f := op.GetFile(); f != nil {
			for _, a := range f.Actions {
				if mk := a.GetMkfile(); mk != nil {
					files[mk.Path] = mk.Data
				}
			}
		}
	}
	return n, files
}

// writeProject writes a recipe over a file:// channel of the test packages and its lock.
func writeProject(t *testing.T, extra string) (recipe string, l *lock.Lock, chDir string) {
	t.Helper()
	chDir = t.TempDir()
	recs := testPackages(t, chDir)
	recipe, r, l := fileProject(t, chDir, recs, extra)
	if err := WriteLock(r, l); err != nil {
		t.Fatal(err)
	}
	return recipe, l, chDir
}

// TestBuildKitHonoursLayers checks --layers (LayerBudget) reaches the BuildKit engine's
// graph: one link step per planned group, as many layers as the embedded engine makes.
func TestBuildKitHonoursLayers(t *testing.T) {
	recipe, l, _ := writeProject(t, "")
	r, err := LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	for budget, want := range map[int]int{0: 2, 1: 1} {
		res, err := LLB(context.Background(), LLBOptions{Lock: l, Recipe: r, LayerBudget: budget})
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := execSteps(t, res.Definition); n != want {
			t.Errorf("budget %d: %d link steps, want %d", budget, n, want)
		}
	}
}

// TestLLBIsTheEngineGraph checks `reprobuild llb` (builder.LLB) compiles what the
// BuildKit engine solves: the runtime record and SBOMs layer, the lock's epoch and the
// manifest annotations, not a bare package graph at epoch 0.
func TestLLBIsTheEngineGraph(t *testing.T) {
	recipe, l, _ := writeProject(t, "runtime { cmd = [\"/opt/env/bin/hello\"] }\n")
	r, err := LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := LLB(context.Background(), LLBOptions{Lock: l, Recipe: r})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := compileBuildKit(context.Background(), BuildKitOptions{Lock: l, Recipe: r})
	if err != nil {
		t.Fatal(err)
	}
	def, err := ts.Targets[0].Build.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	if err := frontend.WriteDefinition(def, &want); err != nil {
		t.Fatal(err)
	}
	if want.String() != string(res.Definition) {
		t.Error("reprobuild llb and the BuildKit engine compile different graphs")
	}
	if string(res.Config) != string(ts.Targets[0].Config) {
		t.Errorf("configs differ:\n%s\n%s", res.Config, ts.Targets[0].Config)
	}
	_, files := execSteps(t, res.Definition)
	js, ok := files["/"+record.Path]
	if !ok {
		t.Fatalf("no runtime record in the graph (files %v)", keys(files))
	}
	rr, err := record.ParseRuntime(js)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Engine != "buildkit" {
		t.Errorf("record engine %q", rr.Engine)
	}
	if got, want := res.ExporterAttrs["source-date-epoch"], strconv.FormatInt(record.Epoch(l).Unix(), 10); got != want {
		t.Errorf("source-date-epoch %s, want the lock's %s", got, want)
	}
	if res.ExporterAttrs["annotation."+record.LabelLockHash] == "" {
		t.Errorf("no manifest annotations in %v", res.ExporterAttrs)
	}
}

// TestEmbeddedRecord checks the embedded engine records its engine and the base digest
// the lock pins: for a multi-platform base pinned by its index, the index digest, which
// is what the BuildKit engine (and the plan) records too.
func TestEmbeddedRecord(t *testing.T) {
	baseDir := t.TempDir()
	var idx v1.ImageIndex = empty.Index
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	lp, err := layout.Write(baseDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	id, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	recipe, l, _ := writeProject(t, "")
	src, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	src = append([]byte("image \"x\" {\n  base = \"oci:"+baseDir+"@"+id.String()+"\"\n}\n"), src...)
	if err := os.WriteFile(recipe, src, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	targets := l.Targets
	l = NewLock(r)
	l.Targets = targets
	cl, err := NewChannelClient(ChannelOptions{CacheDir: t.TempDir(), Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := BuildFromLock(context.Background(), r, l, cl, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rr := res.Records[0]
	if rr.Engine != "embedded" {
		t.Errorf("record engine %q, want embedded", rr.Engine)
	}
	if rr.Image.BaseDigest != id.String() {
		t.Errorf("record base digest %s, want the lock's pin %s", rr.Image.BaseDigest, id)
	}
	cf, err := res.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.Labels[record.LabelBaseDigest] != id.String() {
		t.Errorf("base digest label %q", cf.Config.Labels[record.LabelBaseDigest])
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
