package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/frontend"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/plan"
	"github.com/reprobuild/reprobuild/internal/pypi/pypitest"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// pipRecipe writes a recipe locking conda packages from the examples' channel and pip
// packages from idx.
func pipRecipe(t testing.TB, idx *pypitest.Index, pip string) string {
	t.Helper()
	dir := t.TempDir()
	ch, err := filepath.Abs("../examples/channel")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "reprobuild.hcl")
	testutil.WriteFile(t, path, fmt.Sprintf(`
image "x" { base = "registry.example/debian@sha256:%s" }
python {
  version = "3.11"
  source  = "base"
}
channel "examples" { url = "file://%s" }
pypi "test" { url = "%s" }
dependencies {
  conda = ["hello-py >=0.2", "sample_noarch_python"]
  pip   = [%s]
}
platform {
  targets = ["linux-64"]
  glibc   = "2.36"
}
`, strings.Repeat("0", 64), ch, idx.SimpleURL(), pip))
	return path
}

func TestLockWithPip(t *testing.T) {
	idx := pypitest.NewIndex()
	defer idx.Close()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	idx.AddWheel(pypitest.Wheel{Name: "greet", Version: "1.0", Requires: []string{"colorish>=2"}, Scripts: map[string]string{"greet": "greet:main"}}, t0)
	idx.AddWheel(pypitest.Wheel{Name: "colorish", Version: "2.1", Tag: "cp311-cp311-manylinux_2_17_x86_64"}, t0)
	idx.AddWheel(pypitest.Wheel{Name: "colorish", Version: "2.2", Tag: "cp311-cp311-manylinux_2_38_x86_64"}, t0) // glibc 2.38 > 2.36
	idx.AddWheel(pypitest.Wheel{Name: "sample-noarch-python", Version: "9.0"}, t0)
	path := pipRecipe(t, idx, `"greet", "sample_noarch_python"`)
	cache := t.TempDir()
	ctx := context.Background()
	res, err := Lock(ctx, LockOptions{Recipe: path, Channel: ChannelOptions{CacheDir: cache}})
	if err != nil {
		t.Fatal(err)
	}
	tg := res.Lock.Target("linux-64")
	var got []string
	for _, p := range tg.Pip {
		got = append(got, p.Name+"=="+p.Version)
	}
	// sample_noarch_python comes from conda and is not installed twice.
	if strings.Join(got, " ") != "colorish==2.1 greet==1.0" {
		t.Fatalf("pip pins %q", got)
	}
	if len(res.Lock.PyPI) != 1 || tg.Pip[1].Requested[0] != "greet (reprobuild.hcl:11)" {
		t.Errorf("lock indexes %+v, requested %q", res.Lock.PyPI, tg.Pip[1].Requested)
	}
	if _, err := Check(CheckOptions{Recipe: path}); err != nil {
		t.Errorf("check after lock: %v", err)
	}
	// Relocking changes nothing; offline too (pages and metadata are cached).
	res2, err := Lock(ctx, LockOptions{Recipe: path, Channel: ChannelOptions{CacheDir: cache, Offline: true}})
	if err != nil || res2.Changed {
		t.Fatalf("offline relock: changed=%v err=%v", res2 != nil && res2.Changed, err)
	}
	b, _ := os.ReadFile(res.Path)
	if _, err := lock.Parse(b); err != nil || !strings.Contains(string(b), "pip greet 1.0") {
		t.Fatalf("lock file: %v\n%s", err, b)
	}
}

func TestLockPipConflictWithConda(t *testing.T) {
	idx := pypitest.NewIndex()
	defer idx.Close()
	idx.AddWheel(pypitest.Wheel{Name: "sample-noarch-python", Version: "9.0"}, time.Time{})
	path := pipRecipe(t, idx, `"sample_noarch_python >=2"`)
	_, err := Lock(context.Background(), LockOptions{Recipe: path, Channel: ChannelOptions{CacheDir: t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), "conda package sample_noarch_python 1.0") ||
		!strings.Contains(err.Error(), "(reprobuild.hcl:11)") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("conda+pip conflict: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "reprobuild.lock")); err == nil {
		t.Error("a failed lock wrote reprobuild.lock")
	}
}

// TestVendorPyPI vendors a locked pip package and locks again from the static index
// alone, offline.
func TestVendorPyPI(t *testing.T) {
	idx := pypitest.NewIndex()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	idx.AddWheel(pypitest.Wheel{Name: "greet", Version: "1.0", RequiresPy: ">=3.8"}, t0)
	path := pipRecipe(t, idx, `"greet"`)
	cache := t.TempDir()
	ctx := context.Background()
	res, err := Lock(ctx, LockOptions{Recipe: path, Channel: ChannelOptions{CacheDir: cache}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRecipe(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, _ := NewChannelClient(ChannelOptions{CacheDir: cache})
	ic, _ := NewIndexClient(ChannelOptions{CacheDir: cache})
	out := filepath.Join(t.TempDir(), "vendor")
	vr, err := Vendor(ctx, r, res.Lock, out, VendorOptions{Client: cc, PyPI: ic})
	if err != nil {
		t.Fatal(err)
	}
	idx.Close()
	page, err := os.ReadFile(filepath.Join(out, "pypi", "greet", "index.html"))
	if err != nil || !strings.Contains(string(page), `href="greet-1.0-py3-none-any.whl#sha256=`+res.Lock.Targets[0].Pip[0].SHA256+`"`) ||
		!strings.Contains(string(page), `data-requires-python="&gt;=3.8"`) {
		t.Fatalf("vendored page: %v\n%s", err, page)
	}
	// A recipe pointing at the vendored index locks the same pins from a fresh cache,
	// with the index down.
	src, _ := os.ReadFile(path)
	vendored := strings.Replace(string(src), idx.SimpleURL(), "file://"+filepath.Join(out, "pypi"), 1)
	vpath := filepath.Join(filepath.Dir(path), "vendored.hcl")
	testutil.WriteFile(t, vpath, vendored)
	res2, err := Lock(ctx, LockOptions{Recipe: vpath, Channel: ChannelOptions{CacheDir: t.TempDir(), Offline: true}})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := res.Lock.Targets[0].Pip[0], res2.Lock.Targets[0].Pip[0]; a.SHA256 != b.SHA256 || a.Version != b.Version {
		t.Errorf("vendored lock %+v, original %+v", b, a)
	}
	if vr.Packages < 3 {
		t.Errorf("vendored %d files", vr.Packages)
	}
}

// TestCompileTargetsWithPip checks the BuildKit engine's wiring: the compiled graph
// writes the installed wheel's files (with the entry point script) as the embedded
// engine's own layer does.
func TestCompileTargetsWithPip(t *testing.T) {
	idx := pypitest.NewIndex()
	defer idx.Close()
	idx.AddWheel(pypitest.Wheel{Name: "greet", Version: "1.0", Scripts: map[string]string{"greet": "greet:main"}}, time.Time{})
	path := pipRecipe(t, idx, `"greet"`)
	cache := t.TempDir()
	ctx := context.Background()
	res, err := Lock(ctx, LockOptions{Recipe: path, Channel: ChannelOptions{CacheDir: cache}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRecipe(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compileBuildKit(ctx, BuildKitOptions{Lock: res.Lock, Recipe: r}); err == nil || !strings.Contains(err.Error(), "no PyPI index client") {
		t.Fatalf("compile without an index client: %v", err)
	}
	// compileBuildKit's steps, with the base's config given (it is a registry
	// reference nobody serves here).
	ic, _ := NewIndexClient(ChannelOptions{CacheDir: cache})
	plans, err := plan.Targets(r, res.Lock, nil, plan.Info{Engine: plan.EngineBuildKit})
	if err != nil {
		t.Fatal(err)
	}
	if err := addPip(ctx, plans, ic); err != nil {
		t.Fatal(err)
	}
	ts, err := frontend.CompileTargets(ctx, plans, frontend.Options{Linker: frontend.Linker{Image: "registry.example/linker@sha256:" + strings.Repeat("1", 64)}},
		func(context.Context, *frontend.Build) (*v1.ConfigFile, error) { return &v1.ConfigFile{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	targets := ts.Targets
	def, err := targets[0].Build.Marshal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, d := range def.Def {
		all = append(all, d...)
	}
	for _, want := range []string{"opt/env/lib/python3.11/site-packages/greet/__init__.py", "greet-1.0.dist-info/INSTALLER", "from greet import main", "#!/opt/env/bin/python\n"} {
		if !strings.Contains(string(all), want) {
			t.Errorf("the BuildKit graph does not write %q", want)
		}
	}
}

// BenchmarkWarmLockRecipe30Pip locks a whole recipe (conda solve from the examples'
// channel, then 30 PyPI packages from a generated index on 127.0.0.1) with a warm cache:
// what `reprobuild lock` does on a second run.
func BenchmarkWarmLockRecipe30Pip(b *testing.B) {
	idx := pypitest.NewIndex()
	defer idx.Close()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var reqs []string
	for i := 0; i < 30; i++ {
		for v := 1; v <= 5; v++ {
			var deps []string
			for _, d := range []int{i + 1, i + 3, i + 7} {
				if d < 30 {
					deps = append(deps, fmt.Sprintf("pkg%d>=1.0", d))
				}
			}
			idx.AddWheel(pypitest.Wheel{Name: fmt.Sprintf("pkg%d", i), Version: fmt.Sprintf("%d.0", v), Requires: deps}, t0)
		}
		reqs = append(reqs, fmt.Sprintf("%q", fmt.Sprintf("pkg%d", i)))
	}
	path := pipRecipe(b, idx, strings.Join(reqs, ", "))
	cache := b.TempDir()
	ctx := context.Background()
	if _, err := Lock(ctx, LockOptions{Recipe: path, Channel: ChannelOptions{CacheDir: cache}}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		os.Remove(filepath.Join(filepath.Dir(path), "reprobuild.lock"))
		res, err := Lock(ctx, LockOptions{Recipe: path, Channel: ChannelOptions{CacheDir: cache}})
		if err != nil || len(res.Lock.Targets[0].Pip) != 30 {
			b.Fatal(err)
		}
	}
}

// TestBuildPipBadInputs: a wheel replaced on the index after locking (hash mismatch)
// and a wheel whose RECORD lies both stop the build with one line, and nothing
// unverified is cached.
func TestBuildPipBadInputs(t *testing.T) {
	idx := pypitest.NewIndex()
	defer idx.Close()
	good := idx.AddWheel(pypitest.Wheel{Name: "greet", Version: "1.0"}, time.Time{})
	liar := pypitest.Zip([]pypitest.Entry{
		{Name: "liar-1.0.dist-info/METADATA", Body: "Metadata-Version: 2.1\nName: liar\nVersion: 1.0\n"},
		{Name: "liar-1.0.dist-info/WHEEL", Body: "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{Name: "liar/__init__.py", Body: "print('not what RECORD says')\n"},
	}, "liar-1.0.dist-info/RECORD", map[string]string{"liar/__init__.py": pypitest.RecordLine("liar/__init__.py", "x = 1\n")})
	idx.Add("liar", &pypitest.File{Filename: "liar-1.0-py3-none-any.whl", Body: liar, Metadata: "Metadata-Version: 2.1\nName: liar\nVersion: 1.0\n"})
	path := pipRecipe(t, idx, `"greet", "liar"`)
	ctx := context.Background()
	res, err := Lock(ctx, LockOptions{Recipe: path, Channel: ChannelOptions{CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := LoadRecipe(path, nil)
	tg := res.Lock.Target("linux-64")

	// The lying RECORD: the wheel's own hash is right, its contents are not.
	cache := t.TempDir()
	ic, _ := NewIndexClient(ChannelOptions{CacheDir: cache})
	_, err = pipEntries(ctx, r, tg, ic, "/opt/env", "3.11")
	if err == nil || !strings.Contains(err.Error(), "RECORD does not match") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("lying RECORD: %v", err)
	}

	// The replaced wheel: same name, other bytes.
	good.Body = pypitest.Wheel{Name: "greet", Version: "1.0", Files: map[string]string{"greet/__init__.py": "evil = True\n"}}.Build()
	cache2 := t.TempDir()
	ic2, _ := NewIndexClient(ChannelOptions{CacheDir: cache2})
	_, err = FetchWheels(ctx, r, ic2, tg)
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("replaced wheel: %v", err)
	}
	objs, _ := filepath.Glob(filepath.Join(cache2, "cas", "sha256", "*", "*"))
	for _, o := range objs {
		if st, err := os.Stat(o); err == nil && st.Mode().IsRegular() && !strings.HasSuffix(o, ".lock") {
			t.Errorf("cached %s after a hash mismatch", o)
		}
	}
}

// TestRelockKeepsPipPins: a newer version on the index does not move an unchanged
// recipe's pins; --update NAME does.
func TestRelockKeepsPipPins(t *testing.T) {
	idx := pypitest.NewIndex()
	defer idx.Close()
	idx.AddWheel(pypitest.Wheel{Name: "greet", Version: "1.0"}, time.Time{})
	path := pipRecipe(t, idx, `"greet"`)
	cache := t.TempDir()
	ctx := context.Background()
	if _, err := Lock(ctx, LockOptions{Recipe: path, Channel: ChannelOptions{CacheDir: cache}}); err != nil {
		t.Fatal(err)
	}
	idx.AddWheel(pypitest.Wheel{Name: "greet", Version: "1.1"}, time.Time{})
	res, err := Lock(ctx, LockOptions{Recipe: path, Channel: ChannelOptions{CacheDir: cache}})
	if err != nil || res.Changed || res.Lock.Targets[0].Pip[0].Version != "1.0" {
		t.Fatalf("relock moved the pin: %v %+v", err, res)
	}
	res, err = Lock(ctx, LockOptions{Recipe: path, Update: []string{"Greet"}, Channel: ChannelOptions{CacheDir: cache}})
	if err != nil || !res.Changed || res.Lock.Targets[0].Pip[0].Version != "1.1" {
		t.Fatalf("--update greet: %v %+v", err, res)
	}
}
