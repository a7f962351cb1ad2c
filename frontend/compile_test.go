package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/hcl/v2"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/plan"
	"github.com/reprobuild/reprobuild/recipes"
)

var update = flag.Bool("update", false, "rewrite golden files")

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func pkg(name, version, url string) conda.PackageRecord {
	fn := url[strings.LastIndex(url, "/")+1:]
	dir := url[:strings.LastIndex(url, "/")]
	return conda.PackageRecord{Name: name, Version: version, Build: "0", Subdir: dir[strings.LastIndex(dir, "/")+1:], Fn: fn, URL: url, SHA256: sha}
}

// sampleLock has http and file:// packages, a pinned base and baked data.
func sampleLock() *lock.Lock {
	return &lock.Lock{
		Version: lock.FormatVersion,
		Channels: []lock.Channel{
			{Name: "local", URL: "file:///srv/channel"},
			{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge"},
		},
		Base: lock.Base{Ref: "docker.io/library/busybox", Digest: "sha256:" + sha},
		Data: []lock.Data{
			{Name: "weights", URL: "https://example.org/w.bin", SHA256: sha, Path: "/data/w.bin", Mode: "bake"},
			{Name: "big", URL: "https://example.org/big.bin", SHA256: sha, Path: "/data/big.bin", Mode: "mount"},
		},
		Targets: []lock.Target{{
			Platform: "linux-64",
			Packages: []conda.PackageRecord{
				pkg("zlib", "1.3", "https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3-0.conda"),
				pkg("python", "3.11.9", "https://conda.anaconda.org/conda-forge/linux-64/python-3.11.9-0.conda"),
				pkg("mytool", "0.1", "file:///srv/channel/noarch/mytool-0.1-0.tar.bz2"),
			},
		}},
	}
}

const sampleRecipeSrc = `image "x" { base = "busybox" }
dependencies {
  conda = ["python 3.11.*", "conda-forge::zlib"]
}
`

func sampleRecipe() *recipes.Recipe {
	rng := func(line, c0, c1 int) hcl.Range {
		return hcl.Range{Filename: "reprobuild.hcl", Start: hcl.Pos{Line: line, Column: c0}, End: hcl.Pos{Line: line, Column: c1}}
	}
	return &recipes.Recipe{
		Filename: "reprobuild.hcl",
		Source:   []byte(sampleRecipeSrc),
		Image:    recipes.Image{Name: "x", Base: "busybox", Range: rng(1, 1, 30)},
		Dependencies: recipes.Dependencies{Conda: []recipes.Spec{
			{Text: "python 3.11.*", Range: rng(3, 12, 27)},
			{Text: "conda-forge::zlib", Range: rng(3, 29, 48)},
		}},
		Runtime: recipes.Runtime{Entrypoint: []string{"python"}, Env: map[string]string{"B": "2", "A": "1"}},
	}
}

// compileFor plans a target of l (the only one when platform is empty) and compiles it.
func compileFor(l *lock.Lock, r *recipes.Recipe, platform string, budget int, o Options) (*Build, error) {
	p, err := plan.New(r, l, platform, plan.Info{LayerBudget: budget, Engine: plan.EngineBuildKit})
	if err != nil {
		return nil, err
	}
	return Compile(p, o)
}

func marshal(t *testing.T, l *lock.Lock, r *recipes.Recipe, o Options) []byte {
	t.Helper()
	b, err := compileFor(l, r, "", 0, o)
	if err != nil {
		t.Fatal(err)
	}
	return marshalBuild(t, b)
}

func marshalBuild(t *testing.T, b *Build) []byte {
	t.Helper()
	def, err := b.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteDefinition(def, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	opts := Options{}
	got := marshal(t, sampleLock(), sampleRecipe(), opts)
	golden := filepath.Join("testdata", "sample.llb")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("definition differs from %s (%d vs %d bytes); if intended, run go test -update", golden, len(got), len(want))
	}
	// Same input, fresh values: same bytes.
	if again := marshal(t, sampleLock(), sampleRecipe(), opts); !bytes.Equal(got, again) {
		t.Error("two marshals of the same input differ")
	}
}

// ops decodes a definition into its ops, for structural checks.
func ops(t *testing.T, data []byte) []*pb.Op {
	t.Helper()
	def, err := llb.ReadFrom(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []*pb.Op
	for _, d := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(d); err != nil {
			t.Fatal(err)
		}
		out = append(out, &op)
	}
	return out
}

func TestGraphShape(t *testing.T) {
	data := marshal(t, sampleLock(), sampleRecipe(), Options{})
	var sources, execs, merges []string
	for _, op := range ops(t, data) {
		switch {
		case op.GetSource() != nil:
			s := op.GetSource()
			id := s.Identifier
			if c := s.Attrs[pb.AttrHTTPChecksum]; c != "" {
				id += " checksum=" + c
			}
			if p := s.Attrs[pb.AttrIncludePatterns]; p != "" {
				id += " include=" + p
			}
			if u := s.Attrs[pb.AttrLocalUniqueID]; u != "" {
				id += " uid=" + u
			}
			sources = append(sources, id)
		case op.GetExec() != nil:
			e := op.GetExec()
			execs = append(execs, strings.Join(e.Meta.Args, " ")+" net="+e.Network.String())
		case op.GetMerge() != nil:
			merges = append(merges, "merge")
		}
	}
	wantSources := []string{
		"docker-image://docker.io/library/busybox@sha256:" + sha,
		"local://channel-local include=[\"noarch/mytool-0.1-0.tar.bz2\"] uid=reprobuild",
		"https://conda.anaconda.org/conda-forge/linux-64/python-3.11.9-0.conda checksum=sha256:" + sha,
		"https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3-0.conda checksum=sha256:" + sha,
		"https://example.org/w.bin checksum=sha256:" + sha,
		"local://reprobuild-bin include=[\"reprobuild\"] uid=reprobuild",
	}
	sortStrings(sources)
	sortStrings(wantSources)
	if d := cmp.Diff(wantSources, sources); d != "" {
		t.Errorf("sources (-want +got):\n%s", d)
	}
	link := "/.reprobuild/reprobuild link --prefix /opt/env --python-version 3.11 --records /meta/records.json --pkgs /pkgs --out /out net=NONE"
	// The last group's step also gets the earlier groups' trees for the
	// whole-environment check.
	last := strings.Replace(link, " net=", " --env /env/0 --env /env/1 net=", 1)
	sortStrings(execs)
	want := []string{link, link, last}
	sortStrings(want)
	if d := cmp.Diff(want, execs); d != "" {
		t.Errorf("link steps (-want +got):\n%s", d)
	}
	if len(merges) != 1 {
		t.Errorf("got %d merges, want 1 (base + 3 groups + data)", len(merges))
	}
}

func TestSourceLocations(t *testing.T) {
	data := marshal(t, sampleLock(), sampleRecipe(), Options{})
	def, err := llb.ReadFrom(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	src := def.Source
	if src == nil || len(src.Infos) != 1 {
		t.Fatalf("want one source info (the recipe), got %+v", src)
	}
	if src.Infos[0].Filename != "reprobuild.hcl" || string(src.Infos[0].Data) != sampleRecipeSrc {
		t.Errorf("source info = %q", src.Infos[0].Filename)
	}
	// python and zlib steps point at their spec lines; the base at the image block.
	var lines []int32
	for _, locs := range src.Locations {
		for _, l := range locs.Locations {
			for _, r := range l.Ranges {
				lines = append(lines, r.Start.Line)
			}
		}
	}
	sortInts(lines)
	if d := cmp.Diff([]int32{1, 3, 3}, lines); d != "" {
		t.Errorf("source lines (-want +got):\n%s", d)
	}
}

func TestGroupsMerge(t *testing.T) {
	b, err := compileFor(sampleLock(), nil, "", 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := marshalBuild(t, b)
	n := 0
	for _, op := range ops(t, data) {
		if op.GetExec() != nil {
			n++
		}
	}
	if n != 1 {
		t.Errorf("one group gave %d link steps, want 1", n)
	}
}

func TestLinkerImage(t *testing.T) {
	data := marshal(t, sampleLock(), nil, Options{Linker: Linker{Image: "registry.example/reprobuild@sha256:" + sha}})
	for _, op := range ops(t, data) {
		if s := op.GetSource(); s != nil && strings.HasPrefix(s.Identifier, "local://reprobuild-bin") {
			t.Error("image linker still asks for the local binary context")
		}
		if e := op.GetExec(); e != nil && e.Meta.Args[0] != "/.reprobuild/reprobuild" {
			t.Errorf("linker path %q", e.Meta.Args[0])
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*lock.Lock)
		opts  string // platform
		check func(error) bool
	}{
		{"no checksum", func(l *lock.Lock) { l.Targets[0].Packages[0].SHA256 = "" },
			"", func(err error) bool { var e *MissingChecksumError; return errors.As(err, &e) }},
		{"bad checksum", func(l *lock.Lock) { l.Targets[0].Packages[0].SHA256 = "xyz" },
			"", func(err error) bool { return strings.Contains(err.Error(), "64 hex") }},
		{"data without checksum", func(l *lock.Lock) { l.Data[0].SHA256 = "" },
			"", func(err error) bool { var e *MissingChecksumError; return errors.As(err, &e) }},
		{"ftp package", func(l *lock.Lock) { l.Targets[0].Packages[0].URL = "ftp://x/y.conda" },
			"", func(err error) bool { var e *UnsupportedError; return errors.As(err, &e) }},
		{"file outside channels", func(l *lock.Lock) {
			l.Channels = append(l.Channels, lock.Channel{Name: "other", URL: "file:///other"})
			l.Targets[0].Packages[0].URL = "file:///elsewhere/linux-64/zlib-1.3-0.conda"
		}, "", func(err error) bool { return strings.Contains(err.Error(), "none of the lock's channels") }},
		{"file URL not in channel layout", func(l *lock.Lock) { l.Targets[0].Packages[0].URL = "file:///srv/channel/zlib-1.3-0.conda" },
			"", func(err error) bool { return strings.Contains(err.Error(), "SUBDIR/FILE") }},
		{"unpinned base", func(l *lock.Lock) { l.Base.Digest = "" },
			"", func(err error) bool { var e *UnsupportedError; return errors.As(err, &e) }},
		{"oci base without digest", func(l *lock.Lock) { l.Base.Ref, l.Base.Digest = "oci:/x", "" },
			"", func(err error) bool { var e *UnsupportedError; return errors.As(err, &e) }},
		{"unknown platform", func(l *lock.Lock) {},
			"osx-arm64", func(err error) bool { return strings.Contains(err.Error(), "no target for platform osx-arm64") }},
		{"two targets need a choice", func(l *lock.Lock) { l.Targets = append(l.Targets, lock.Target{Platform: "linux-aarch64"}) },
			"", func(err error) bool { return strings.Contains(err.Error(), "--platform") }},
		{"windows target", func(l *lock.Lock) { l.Targets[0].Platform = "win-64" },
			"", func(err error) bool { var e *UnsupportedError; return errors.As(err, &e) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := sampleLock()
			tc.edit(l)
			_, err := compileFor(l, nil, tc.opts, 0, Options{})
			if err == nil || !tc.check(err) {
				t.Fatalf("Compile error = %v", err)
			}
		})
	}
}

func TestSpecName(t *testing.T) {
	for in, want := range map[string]string{
		"numpy >=1.26":       "numpy",
		"conda-forge::scipy": "scipy",
		"pandas 2.*":         "pandas",
		"python=3.11":        "python",
		"NumPy[build=py*]":   "numpy",
		"  zlib  ":           "zlib",
	} {
		if got := specName(in); got != want {
			t.Errorf("specName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlatforms(t *testing.T) {
	for _, sd := range []string{"linux-64", "linux-aarch64", "linux-ppc64le", "linux-s390x", "linux-armv7l"} {
		p, err := OCIPlatform(sd)
		if err != nil {
			t.Fatal(err)
		}
		back, err := CondaSubdir(p)
		if err != nil || back != sd {
			t.Errorf("round trip %s -> %v -> %s, %v", sd, p, back, err)
		}
	}
	if _, err := OCIPlatform("noarch"); err == nil {
		t.Error("noarch has no container platform")
	}
}

func TestConfig(t *testing.T) {
	l := sampleLock()
	l.Base = lock.Base{Ref: "scratch"}
	r := sampleRecipe()
	r.Image.Labels = map[string]string{"org.opencontainers.image.title": "x"}
	p, err := plan.New(r, l, "", plan.Info{Epoch: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	dt, err := ImageConfig(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	var c v1.ConfigFile
	if err := json.Unmarshal(dt, &c); err != nil {
		t.Fatal(err)
	}
	wantEnv := []string{"A=1", "B=2", "CONDA_PREFIX=/opt/env", "PATH=/opt/env/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if d := cmp.Diff(wantEnv, c.Config.Env); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
	if c.Architecture != "amd64" || c.OS != "linux" || c.Config.Entrypoint[0] != "python" || !c.Created.IsZero() {
		t.Errorf("config = %+v", c)
	}
	if d := cmp.Diff(map[string]struct{}{"/data/big.bin": {}}, c.Config.Volumes); d != "" {
		t.Errorf("volumes for mounted data (-want +got):\n%s", d)
	}
	if c.Config.Labels["org.opencontainers.image.title"] != "x" {
		t.Errorf("labels = %v", c.Config.Labels)
	}
}

func TestConfigHistory(t *testing.T) {
	base := &v1.ConfigFile{History: []v1.History{{CreatedBy: "base layer"}}, Config: v1.Config{Env: []string{"PATH=/bin"}}}
	for _, tc := range []struct {
		name string
		base *v1.ConfigFile
		want []string
	}{
		{"scratch base", nil, []string{
			"layer 1 of 4", "layer 2 of 4", "layer 3 of 4", "layer 4 of 4"}},
		{"base history first", base, []string{"base layer",
			"layer 1 of 4", "layer 2 of 4", "layer 3 of 4", "layer 4 of 4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan.New(nil, sampleLock(), "", plan.Info{Epoch: time.Unix(0, 0)})
			if err != nil {
				t.Fatal(err)
			}
			dt, err := ImageConfig(tc.base, p)
			if err != nil {
				t.Fatal(err)
			}
			var c v1.ConfigFile
			if err := json.Unmarshal(dt, &c); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range c.History {
				if h.CreatedBy == image.HistoryCreatedBy {
					got = append(got, h.Comment)
				} else {
					got = append(got, h.CreatedBy)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("history (-want +got):\n%s", d)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func sortInts(s []int32) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestLinkPlatform(t *testing.T) {
	l := sampleLock()
	l.Targets[0].Platform = "linux-aarch64"
	host := ocispecsPlatform("amd64")
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"target platform by default", Options{}, "arm64"},
		{"linker's platform when given", Options{LinkPlatform: &host}, "amd64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range ops(t, marshal(t, l, nil, tc.opt)) {
				if op.GetExec() != nil && op.Platform.Architecture != tc.want {
					t.Errorf("link step runs on %s, want %s", op.Platform.Architecture, tc.want)
				}
				if s := op.GetSource(); s != nil && strings.HasPrefix(s.Identifier, "docker-image://") && op.Platform.Architecture != "arm64" {
					t.Errorf("base pulled for %s, want arm64", op.Platform.Architecture)
				}
			}
		})
	}
}

func TestOCILayoutBase(t *testing.T) {
	l := sampleLock()
	l.Base = lock.Base{Ref: "oci:../bases/busybox", Digest: "sha256:" + sha}
	r := sampleRecipe()
	r.Dir = "/src/examples/quickstart"
	b, err := compileFor(l, r, "", 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]OCIStore{{ID: BaseStoreID, Dir: "/src/examples/bases/busybox"}}, b.OCIStores); d != "" {
		t.Errorf("stores (-want +got):\n%s", d)
	}
	def, err := b.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteDefinition(def, &buf); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, op := range ops(t, buf.Bytes()) {
		if s := op.GetSource(); s != nil && s.Identifier == "oci-layout://reprobuild.local/base@sha256:"+sha {
			found = s.Attrs[pb.AttrOCILayoutStoreID] == BaseStoreID
		}
	}
	if !found {
		t.Error("no oci-layout source for the base with the store id")
	}
}

// BenchmarkCompile compiles and marshals a 300-package lock, the size of a typical
// scientific Python environment.
func BenchmarkCompile(b *testing.B) {
	l := sampleLock()
	var pkgs []conda.PackageRecord
	for i := 0; i < 300; i++ {
		name := "pkg" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.TrimLeft(string(rune('0'+i/26)), "")
		pkgs = append(pkgs, pkg(name, "1.0", "https://conda.anaconda.org/conda-forge/linux-64/"+name+"-1.0-0.conda"))
	}
	l.Targets[0].Packages = pkgs
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		bd, err := compileFor(l, sampleRecipe(), "", 0, Options{})
		if err != nil {
			b.Fatal(err)
		}
		def, err := bd.Marshal(ctx)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteDefinition(def, &buf); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCompile feeds arbitrary lock JSON to the compiler: it must never panic, and a
// lock it accepts must marshal to the same bytes twice.
func FuzzCompile(f *testing.F) {
	seed, err := json.Marshal(sampleLock())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"targets":[{"platform":"linux-64","packages":[{"name":"a","fn":"a.conda","url":"file:///c/linux-64/a.conda","sha256":"` + sha + `"}]}],"channels":[{"name":"c","url":"file:///c"}]}`))
	f.Add([]byte(`{"base":{"ref":"oci:../x@sha256:` + sha + `"},"targets":[{"platform":"linux-aarch64"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var l lock.Lock
		if json.Unmarshal(data, &l) != nil {
			return
		}
		b, err := compileFor(&l, nil, "", 0, Options{})
		if err != nil {
			return
		}
		ctx := context.Background()
		var out [2]bytes.Buffer
		for i := range out {
			def, err := b.Marshal(ctx)
			if err != nil {
				return // llb validation of odd but accepted input, e.g. empty paths
			}
			if err := WriteDefinition(def, &out[i]); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out[0].Bytes(), out[1].Bytes()) {
			t.Error("same build marshalled to different bytes")
		}
	})
}

func TestRelativeChannel(t *testing.T) {
	l := sampleLock()
	l.Channels[0].URL = "../channel"
	l.Channels = append(l.Channels, lock.Channel{Name: "second", URL: "file:///srv/second"})
	l.Targets[0].Packages[2].URL = "file:///srv/channel/noarch/mytool-0.1-0.tar.bz2"
	r := sampleRecipe()
	r.Dir = "/srv/recipe"
	b, err := compileFor(l, r, "", 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Local{
		{Name: "channel-local", Dir: "/srv/channel", Include: []string{"noarch/mytool-0.1-0.tar.bz2"}},
		{Name: "reprobuild-bin", Include: []string{"reprobuild"}},
	}
	if d := cmp.Diff(want, b.Locals); d != "" {
		t.Errorf("locals (-want +got):\n%s", d)
	}
}
