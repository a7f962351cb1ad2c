package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/errdefs"

	"github.com/reprobuild/reprobuild/frontend"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/internal/testutil"
	"github.com/reprobuild/reprobuild/recipes"
)

const epoch = 1700000000

var epochTime = time.Unix(epoch, 0).UTC()

// linkerDir is the directory of the static reprobuild binary (built once per test run):
// the BuildKit engine runs it inside the build for the link step.
func linkerDir(t *testing.T) string {
	return testutil.RequireStaticBinaries(t)
}

// testPackages are small generated packages with executables, symlinks and a
// noarch package, written as a file:// channel.
func testPackages(t *testing.T, dir string) []conda.PackageRecord {
	t.Helper()
	pkgs := []pkgmaker.Package{
		{
			Record: conda.PackageRecord{Name: "hello", Version: "1.0", Build: "0", Subdir: "linux-64", License: "MIT"},
			Files: []pkgmaker.File{
				{Path: "bin/hello", Data: []byte("#!/bin/sh\necho hello from /opt/env\n"), Mode: 0o755, Placeholder: "/opt/env"},
				{Path: "lib/libhello.so.1", Data: []byte("not really a library\n")},
				{Path: "lib/libhello.so", Symlink: "libhello.so.1"},
			},
		},
		{
			Record: conda.PackageRecord{Name: "tzdata-mini", Version: "2026a", Build: "0", Noarch: "generic", License: "PD"},
			Files: []pkgmaker.File{
				{Path: "share/zoneinfo/UTC", Data: []byte("TZif-ish\n")},
				{Path: "share/zoneinfo/Etc", Mode: 0o755 | os.ModeDir},
			},
		},
	}
	var recs []conda.PackageRecord
	for _, p := range pkgs {
		sub := p.Record.Subdir
		if sub == "" {
			sub = "noarch"
		}
		rec, err := pkgmaker.Write(filepath.Join(dir, sub), p, pkgmaker.Conda)
		if err != nil {
			t.Fatal(err)
		}
		rec.URL = "file://" + filepath.Join(dir, sub, rec.Fn)
		rec.Channel = "file://" + dir
		recs = append(recs, rec)
	}
	return recs
}

func fileLock(dir string, recs []conda.PackageRecord) *lock.Lock {
	return &lock.Lock{
		Version:  lock.FormatVersion,
		Channels: []lock.Channel{{Name: "local", URL: "file://" + dir}},
		Solver:   lock.Solver{ChannelPriority: "strict"},
		Base:     lock.Base{Ref: "scratch"},
		Targets:  []lock.Target{{Platform: "linux-64", Packages: recs}},
	}
}

// fileProject writes a recipe of hello and tzdata-mini from the file:// channel chDir
// (plus extra HCL) into a fresh directory and returns its path, the recipe loaded, and a
// lock of recs for it (not written).
func fileProject(t *testing.T, chDir string, recs []conda.PackageRecord, extra string) (string, *recipes.Recipe, *lock.Lock) {
	t.Helper()
	recipe := filepath.Join(t.TempDir(), "reprobuild.hcl")
	testutil.WriteFile(t, recipe, "channel \"local\" { url = \"file://"+chDir+"\" }\ndependencies {\n  conda = [\"hello\", \"tzdata-mini\"]\n}\n"+extra)
	r, err := LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLock(r)
	l.Targets = fileLock(chDir, recs).Targets
	return recipe, r, l
}

// httpLock is the same lock with every package served over HTTP from 127.0.0.1.
func httpLock(t *testing.T, dir string, recs []conda.PackageRecord) *lock.Lock {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	l := fileLock(dir, nil)
	l.Channels = []lock.Channel{{Name: "served", URL: srv.URL}}
	for _, r := range recs {
		r.URL = srv.URL + "/" + r.Subdir + "/" + r.Fn
		r.Channel = srv.URL
		l.Targets[0].Packages = append(l.Targets[0].Packages, r)
	}
	return l
}

// embeddedTree links the packages on the host with the embedded engine's code.
func embeddedTree(t *testing.T, recs []conda.PackageRecord, dir string) []testutil.TreeEntry {
	t.Helper()
	var ps []install.Package
	for _, r := range recs {
		ps = append(ps, install.Package{Record: r, Archive: filepath.Join(dir, r.Subdir, r.Fn)})
	}
	trees, _, err := install.LinkAll(context.Background(), ps, install.Options{Prefix: "/opt/env"})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := install.WriteTree(out, trees); err != nil {
		t.Fatal(err)
	}
	tree, err := testutil.TreeFromDir(out)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestBuildKitEngine(t *testing.T) {
	reg := testutil.StartRegistry(t)
	bk := testutil.StartBuildkitd(t, testutil.WithHTTPRegistry(reg.Host()))
	ctx := context.Background()
	bin := linkerDir(t)
	chDir := t.TempDir()
	recs := testPackages(t, chDir)
	base := BuildKitOptions{Addr: bk.Addr(), LinkerDir: bin, Epoch: &epochTime, Progress: testWriter{t}, ProgressMode: "plain"}

	build := func(t *testing.T, l *lock.Lock) (*BuildKitResult, string) {
		t.Helper()
		o := base
		o.Lock = l
		o.OCITar = filepath.Join(t.TempDir(), "image.tar")
		res, err := BuildKit(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return res, o.OCITar
	}

	first, tar1 := build(t, fileLock(chDir, recs))
	t.Logf("first build: %s", first.Digest)

	t.Run("same digest after prune", func(t *testing.T) {
		c := bk.Client(t)
		if err := c.Prune(ctx, nil, client.PruneAll); err != nil {
			t.Fatal(err)
		}
		again, _ := build(t, fileLock(chDir, recs))
		if again.Digest != first.Digest {
			t.Errorf("rebuild after prune gave %s, first build %s", again.Digest, first.Digest)
		}
	})

	t.Run("same tree as the embedded engine", func(t *testing.T) {
		got, err := testutil.TreeFromImage(testutil.OCIArchiveImage(t, tar1))
		if err != nil {
			t.Fatal(err)
		}
		want := embeddedTree(t, recs, chDir)
		if len(want) == 0 {
			t.Fatal("embedded tree is empty")
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("BuildKit tree differs from install.WriteTree (-embedded +buildkit):\n%s", d)
		}
	})

	t.Run("same tree as the embedded engine's image", func(t *testing.T) {
		_, r, l := fileProject(t, chDir, recs, "runtime { cmd = [\"/opt/env/bin/hello\"] }\n")
		when := time.Unix(epoch, 0).UTC()
		cl, err := NewChannelClient(ChannelOptions{CacheDir: t.TempDir(), Offline: true})
		if err != nil {
			t.Fatal(err)
		}
		emb, err := BuildFromLock(ctx, r, l, cl, BuildOptions{Epoch: &when})
		if err != nil {
			t.Fatal(err)
		}
		o := base
		o.Lock, o.Recipe = l, r
		o.OCITar = filepath.Join(t.TempDir(), "bk.tar")
		res, err := BuildKit(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		want, err := testutil.TreeFromImage(emb.Image)
		if err != nil {
			t.Fatal(err)
		}
		bkImg := testutil.OCIArchiveImage(t, o.OCITar)
		got, err := testutil.TreeFromImage(bkImg)
		if err != nil {
			t.Fatal(err)
		}
		if len(testutil.Under(want, "opt/reprobuild")) == 0 {
			t.Fatalf("embedded image has no runtime record: %v", want)
		}
		// The runtime records differ only in the engine field.
		if d := cmp.Diff(testutil.WithoutPath(want, record.Path), testutil.WithoutPath(got, record.Path)); d != "" {
			t.Errorf("BuildKit image tree differs from the embedded engine's (-embedded +buildkit):\n%s", d)
		}
		for _, c := range []struct {
			img    v1.Image
			engine string
		}{{emb.Image, "embedded"}, {bkImg, "buildkit"}} {
			js, err := testutil.ImageFile(c.img, record.Path)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := record.ParseRuntime(js)
			if err != nil {
				t.Fatal(err)
			}
			if rr.Engine != c.engine {
				t.Errorf("the %s engine's record says engine %q", c.engine, rr.Engine)
			}
			rr.Engine = emb.Records[0].Engine
			if d := cmp.Diff(emb.Records[0], rr); d != "" {
				t.Errorf("%s record (-embedded +this):\n%s", c.engine, d)
			}
		}
		ec, err := emb.Image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		bc, err := bkImg.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(ec.Config, bc.Config); d != "" {
			t.Errorf("runtime config differs (-embedded +buildkit):\n%s", d)
		}
		if !ec.Created.Equal(bc.Created.Time) {
			t.Errorf("created: embedded %v, buildkit %v", ec.Created, bc.Created)
		}
		em, _ := emb.Image.Manifest()
		bm, _ := bkImg.Manifest()
		if d := cmp.Diff(em.Annotations, bm.Annotations); d != "" {
			t.Errorf("manifest annotations (-embedded +buildkit):\n%s", d)
		}
		t.Logf("embedded %s, buildkit %s (layers differ in grouping sizes and compression; trees match)", emb.Digest, res.Digest)
	})

	t.Run("ImageBuildKit writes oci:DIR and pushes like Image", func(t *testing.T) {
		recipe, r, l := fileProject(t, chDir, recs, "")
		if err := WriteLock(r, l); err != nil {
			t.Fatal(err)
		}
		ref := reg.Host() + "/reprobuild/engine:1"
		out := filepath.Join(t.TempDir(), "layout")
		res, err := ImageBuildKit(ctx, ImageOptions{Recipe: recipe, Locked: true, Output: "oci:" + out, Push: true, Tags: []string{ref}},
			BuildKitOptions{Addr: bk.Addr(), LinkerDir: bin})
		if err != nil {
			t.Fatal(err)
		}
		if res.Locked || len(res.Platforms) != 1 || res.Platforms[0].Platform != "linux-64" || res.Platforms[0].Digest != res.Digest {
			t.Errorf("result = %+v", res)
		}
		idx, err := layout.ImageIndexFromPath(out)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		// The layout is written as Image writes it: index.json may point at an index
		// holding the image.
		found := false
		for _, m := range im.Manifests {
			if m.Digest.String() == res.Digest {
				found = true
			}
			if m.MediaType.IsIndex() {
				inner, err := idx.ImageIndex(m.Digest)
				if err != nil {
					t.Fatal(err)
				}
				iim, err := inner.IndexManifest()
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range iim.Manifests {
					found = found || n.Digest.String() == res.Digest
				}
			}
		}
		if !found {
			t.Errorf("layout holds %+v, not %s", im.Manifests, res.Digest)
		}
		if d := cmp.Diff([]string{ref + "@" + res.Digest}, res.Pushed); d != "" {
			t.Errorf("pushed (-want +got):\n%s", d)
		}
		again, err := ImageBuildKit(ctx, ImageOptions{Recipe: recipe, Locked: true}, BuildKitOptions{Addr: bk.Addr(), LinkerDir: bin})
		if err != nil {
			t.Fatal(err)
		}
		if again.Digest != res.Digest {
			t.Errorf("second build %s, first %s", again.Digest, res.Digest)
		}
	})

	t.Run("one layer per group", func(t *testing.T) {
		layers, err := testutil.OCIArchiveImage(t, tar1).Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(layers) != len(recs) {
			t.Errorf("got %d layers for %d single-package groups", len(layers), len(recs))
		}
	})

	t.Run("http channel gives the same files", func(t *testing.T) {
		// The conda-meta records name the URL each package came from, so only they
		// may differ between a file:// and an HTTP channel.
		_, tar2 := build(t, httpLock(t, chDir, recs))
		strip := func(tree []testutil.TreeEntry) []testutil.TreeEntry {
			var out []testutil.TreeEntry
			for _, e := range tree {
				if !strings.HasPrefix(e.Path, "opt/env/conda-meta/") {
					out = append(out, e)
				}
			}
			return out
		}
		a, err := testutil.TreeFromImage(testutil.OCIArchiveImage(t, tar1))
		if err != nil {
			t.Fatal(err)
		}
		b, err := testutil.TreeFromImage(testutil.OCIArchiveImage(t, tar2))
		if err != nil {
			t.Fatal(err)
		}
		if len(strip(a)) < 5 {
			t.Fatalf("too few entries to compare: %v", a)
		}
		if d := cmp.Diff(strip(a), strip(b)); d != "" {
			t.Errorf("file channel vs HTTP channel (-file +http):\n%s", d)
		}
	})

	t.Run("buildctl on the written definition gives the same digest", func(t *testing.T) {
		bctl := bk.Buildctl()
		if bctl == "" {
			testutil.Unavailable(t, "buildctl not found")
		}
		o := base
		o.Lock = fileLock(chDir, recs)
		ts, err := compileBuildKit(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		targets, locals := ts.Targets, ts.Locals
		def, err := targets[0].Build.Marshal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var stdin bytes.Buffer
		if err := frontend.WriteDefinition(def, &stdin); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		meta := filepath.Join(dir, "meta.json")
		cfg := strings.ReplaceAll(string(targets[0].Config), `"`, `""`)
		args := []string{"--addr", bk.Addr(), "build", "--progress", "plain", "--metadata-file", meta,
			"--output", `type=oci,dest=` + filepath.Join(dir, "out.tar") + `,source-date-epoch=1700000000,rewrite-timestamp=true,"containerimage.config=` + cfg + `"`}
		for _, l := range locals {
			d := l.Dir
			if d == "" {
				d = bin
			}
			args = append(args, "--local", l.Name+"="+d)
		}
		cmd := exec.Command(bctl, args...)
		cmd.Stdin = &stdin
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("buildctl build: %v\n%s", err, out)
		}
		var m map[string]any
		b, err := os.ReadFile(meta)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if got := m["containerimage.digest"]; got != first.Digest {
			t.Errorf("buildctl build gave %v, builder.BuildKit %s", got, first.Digest)
		}
	})

	t.Run("reprobuild llb | buildctl build gives the same digest", func(t *testing.T) {
		bctl := bk.Buildctl()
		if bctl == "" {
			testutil.Unavailable(t, "buildctl not found")
		}
		recipe, r, l := fileProject(t, chDir, recs, "")
		proj := filepath.Dir(recipe)
		data, err := lock.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proj, lock.Filename), data, 0o644); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		cfgPath, attrsPath := filepath.Join(dir, "cfg.json"), filepath.Join(dir, "attrs.json")
		llbCmd := exec.Command(filepath.Join(bin, "reprobuild"), "llb", "-f", recipe, "--config-out", cfgPath, "--attrs-out", attrsPath)
		llbCmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", epoch))
		var def, stderr bytes.Buffer
		llbCmd.Stdout, llbCmd.Stderr = &def, &stderr
		if err := llbCmd.Run(); err != nil {
			t.Fatalf("reprobuild llb: %v\n%s", err, stderr.String())
		}
		cfg, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		var attrs map[string]string
		testutil.ReadJSON(t, attrsPath, &attrs)
		attrs["containerimage.config"] = string(cfg)
		fields := []string{"type=oci", "dest=" + filepath.Join(dir, "out.tar")}
		for k, v := range attrs {
			fields = append(fields, k+"="+v)
		}
		var csvOut bytes.Buffer
		w := csv.NewWriter(&csvOut)
		if err := w.Write(fields); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		bc := exec.Command(bctl, "--addr", bk.Addr(), "build", "--local", "channel-local="+chDir, "--local", "reprobuild-bin="+bin,
			"--metadata-file", filepath.Join(dir, "meta.json"), "--output", strings.TrimSpace(csvOut.String()))
		bc.Stdin = &def
		if out, err := bc.CombinedOutput(); err != nil {
			t.Fatalf("buildctl: %v\n%s", err, out)
		}
		var m map[string]any
		testutil.ReadJSON(t, filepath.Join(dir, "meta.json"), &m)
		// The same recipe and lock through the BuildKit engine.
		o := base
		o.Lock, o.Recipe = l, r
		o.OCITar = filepath.Join(t.TempDir(), "engine.tar")
		res, err := BuildKit(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := m["containerimage.digest"]; got != res.Digest {
			t.Errorf("reprobuild llb | buildctl build gave %v, the BuildKit engine %s", got, res.Digest)
		}
	})

	t.Run("push to the registry", func(t *testing.T) {
		ref := reg.Host() + "/reprobuild/hello:test"
		o := base
		o.Lock = fileLock(chDir, recs)
		o.Push = []string{ref}
		o.Insecure = true
		res, err := BuildKit(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Digest != first.Digest {
			t.Errorf("pushed %s, OCI archive %s", res.Digest, first.Digest)
		}
		r, err := name.ParseReference(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Get(r, remote.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if desc.Digest.String() != first.Digest {
			t.Errorf("registry holds %s, want %s", desc.Digest, first.Digest)
		}
		img, err := desc.Image()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Created.Unix() != epoch || cfg.Architecture != "amd64" || !slices.Contains(cfg.Config.Env, "CONDA_PREFIX=/opt/env") {
			t.Errorf("config = created %v, arch %s, env %v", cfg.Created, cfg.Architecture, cfg.Config.Env)
		}
	})

	t.Run("OCI layout base", func(t *testing.T) {
		baseDir, err := filepath.Abs("../examples/bases/busybox")
		if err != nil {
			t.Fatal(err)
		}
		l := fileLock(chDir, recs)
		l.Base = lock.Base{Ref: "oci:" + baseDir, Digest: "sha256:b62d72d4c45fe80379be0be099e66f6ff223df2e965164c002afe26cd277619c"}
		res, tarPath := build(t, l)
		img := testutil.OCIArchiveImage(t, tarPath)
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(layers) != 1+len(recs) {
			t.Errorf("got %d layers, want the base layer + %d groups", len(layers), len(recs))
		}
		tree, err := testutil.TreeFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		if len(testutil.Under(tree, "bin/busybox")) != 1 || len(testutil.Under(tree, "opt/env/bin/hello")) != 1 {
			t.Errorf("tree lacks the base's busybox or the package: %v", tree)
		}
		again, _ := build(t, l)
		if again.Digest != res.Digest {
			t.Errorf("OCI base build not stable: %s then %s", res.Digest, again.Digest)
		}
	})

	t.Run("per-package size cap reaches the link step", func(t *testing.T) {
		o := base
		o.Lock = fileLock(chDir, recs)
		o.MaxPackageSize = 600
		o.OCITar = filepath.Join(t.TempDir(), "x.tar")
		_, err := BuildKit(ctx, o)
		if err == nil || !strings.Contains(err.Error(), "exceeds 600 bytes") {
			t.Fatalf("err = %v, want the link step's size limit", err)
		}
	})

	t.Run("escape across groups: same verdict as the embedded engine", func(t *testing.T) {
		dir := t.TempDir()
		var evil []conda.PackageRecord
		var shapes [][]install.Entry
		for _, p := range []pkgmaker.Package{
			{Record: conda.PackageRecord{Name: "aa", Version: "1", Build: "0", Subdir: "linux-64"}, Files: []pkgmaker.File{{Path: "lib/py", Symlink: "."}}},
			{Record: conda.PackageRecord{Name: "bb", Version: "1", Build: "0", Subdir: "linux-64"}, Files: []pkgmaker.File{{Path: "lib/esc", Symlink: "py/py/py/../../../.."}}},
		} {
			rec, err := pkgmaker.Write(filepath.Join(dir, "linux-64"), p, pkgmaker.Conda)
			if err != nil {
				t.Fatal(err)
			}
			rec.URL = "file://" + filepath.Join(dir, "linux-64", rec.Fn)
			rec.Channel = "file://" + dir
			evil = append(evil, rec)
			trees, _, err := install.LinkAll(ctx, []install.Package{{Record: rec, Archive: filepath.Join(dir, "linux-64", rec.Fn)}}, install.Options{Prefix: "/opt/env"})
			if err != nil {
				t.Fatalf("%s alone: %v", rec.Fn, err)
			}
			shapes = append(shapes, install.ShapeOfTrees(trees))
		}
		// The embedded engine's verdict on one group per package, as Group nil links here.
		want := install.CheckEnvironment("/opt/env", shapes...)
		if want == nil {
			t.Fatal("the embedded check accepts the escape")
		}
		o := base
		o.Lock = fileLock(dir, evil)
		o.OCITar = filepath.Join(t.TempDir(), "x.tar")
		_, err := BuildKit(ctx, o)
		if err == nil {
			t.Fatal("BuildKit built an environment whose symlinks escape the prefix together")
		}
		if !strings.Contains(err.Error(), want.Error()) {
			t.Errorf("verdicts differ:\n buildkit: %v\n embedded: %v", err, want)
		}
		if _, statErr := os.Stat(o.OCITar); statErr == nil {
			t.Error("an image was written")
		}
	})

	t.Run("tampered archive fails at its recipe line", func(t *testing.T) {
		src := []byte("channel \"local\" { url = \"file://" + chDir + "\" }\ndependencies {\n  conda = [\"hello >=1\"]\n}\n")
		r, diags := recipes.Parse("reprobuild.hcl", src)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		bad := append([]conda.PackageRecord(nil), recs...)
		bad[0].SHA256 = strings.Repeat("0", 64)
		o := base
		o.Lock = fileLock(chDir, bad)
		o.Recipe = r
		o.OCITar = filepath.Join(t.TempDir(), "x.tar")
		_, err := BuildKit(ctx, o)
		if err == nil {
			t.Fatal("a package whose sha256 does not match the lock was linked")
		}
		var lines []int32
		for _, s := range errdefs.Sources(err) {
			if s.Info.Filename != "reprobuild.hcl" {
				t.Errorf("error points at %q", s.Info.Filename)
			}
			for _, rg := range s.Ranges {
				lines = append(lines, rg.Start.Line)
			}
		}
		if d := cmp.Diff([]int32{3}, lines); d != "" {
			t.Errorf("error source lines (-want +got):\n%s\nerror: %v", d, err)
		}
		var se *BuildKitStepError
		if !errors.As(err, &se) {
			t.Fatalf("error is %T, want *BuildKitStepError: %v", err, err)
		}
		// main's link step now checks archives with install's VerifySHA256, whose message
		// is "... its sha256 no longer matches the lock"; the older checksum error said
		// "the lock pins ...". Either names the refusal.
		if se.Step != "[reprobuild] link hello 1.0" || se.Location != "reprobuild.hcl:3" ||
			!(strings.Contains(se.Output, "the lock pins 0000") || strings.Contains(se.Output, "sha256 no longer matches the lock")) {
			t.Errorf("step error = %+v", se)
		}
		t.Logf("error: %v", err)
	})
}

// TestBuildKitRegistryCache exports the build cache to a registry from one daemon and
// imports it into a fresh one, as a team sharing a cache would.
func TestBuildKitRegistryCache(t *testing.T) {
	reg := testutil.StartRegistry(t)
	a := testutil.StartBuildkitd(t, testutil.WithHTTPRegistry(reg.Host()))
	b := testutil.StartBuildkitd(t, testutil.WithHTTPRegistry(reg.Host()))
	ctx := context.Background()
	chDir := t.TempDir()
	recs := testPackages(t, chDir)
	cacheRef := reg.Host() + "/reprobuild/cache:buildcache"
	o := BuildKitOptions{Lock: fileLock(chDir, recs), LinkerDir: linkerDir(t), Epoch: &epochTime}

	o.Addr = a.Addr()
	o.OCITar = filepath.Join(t.TempDir(), "a.tar")
	o.CacheExports = []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": cacheRef, "mode": "max", "registry.insecure": "true"}}}
	first, err := BuildKit(ctx, o)
	if err != nil {
		t.Fatal(err)
	}

	o.Addr = b.Addr()
	o.OCITar = filepath.Join(t.TempDir(), "b.tar")
	o.CacheExports = nil
	o.CacheImports = []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": cacheRef, "registry.insecure": "true"}}}
	second, err := BuildKit(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if second.Digest != first.Digest {
		t.Errorf("fresh daemon with imported cache gave %s, first daemon %s", second.Digest, first.Digest)
	}
	links, cached := 0, 0
	for _, s := range second.Steps {
		if strings.HasPrefix(s.Name, "[reprobuild] link ") {
			links++
			if s.Cached {
				cached++
			}
		}
	}
	if links != len(recs) || cached != links {
		t.Errorf("%d of %d link steps came from the registry cache, want all %d: %+v", cached, links, len(recs), second.Steps)
	}
}

// TestBuildKitMultiPlatform builds an index for two platforms with a noarch package
// and baked data; link steps run on the host platform, so no emulator is needed.
func TestBuildKitMultiPlatform(t *testing.T) {
	bk := testutil.StartBuildkitd(t)
	ctx := context.Background()
	bin := linkerDir(t)
	dir := t.TempDir()
	payload := []byte("weights v1\n")
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	sum := sha256Hex(payload)
	noarch := testPackages(t, filepath.Join(dir, "channel"))[1:]
	l := fileLock(filepath.Join(dir, "channel"), noarch)
	l.Data = []lock.Data{{Name: "w", URL: srv.URL + "/w.bin", SHA256: sum, Path: "/data/w.bin", Mode: "bake"}}
	l.Targets = []lock.Target{{Platform: "linux-64", Packages: noarch}, {Platform: "linux-aarch64", Packages: noarch}}

	var digests []string
	for i := 0; i < 2; i++ {
		tarPath := filepath.Join(t.TempDir(), "index.tar")
		res, err := BuildKit(ctx, BuildKitOptions{Addr: bk.Addr(), Lock: l, LinkerDir: bin, Epoch: &epochTime, OCITar: tarPath})
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, res.Digest)
		if d := cmp.Diff([]string{"linux-64", "linux-aarch64"}, res.Platforms); d != "" {
			t.Errorf("platforms (-want +got):\n%s", d)
		}
		idx, im := testutil.OCIArchive(t, tarPath)
		if len(im.Manifests) != 1 {
			t.Fatalf("OCI archive has %d top entries", len(im.Manifests))
		}
		inner, err := idx.ImageIndex(im.Manifests[0].Digest)
		if err != nil {
			t.Fatalf("top entry is not an index: %v", err)
		}
		iim, err := inner.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var archs []string
		var trees [][]testutil.TreeEntry
		for _, m := range iim.Manifests {
			if m.Platform != nil {
				archs = append(archs, m.Platform.Architecture)
			}
			img, err := inner.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if m.Platform == nil || cfg.Architecture != m.Platform.Architecture {
				t.Errorf("manifest platform %v, config architecture %s", m.Platform, cfg.Architecture)
			}
			tree, err := testutil.TreeFromImage(img)
			if err != nil {
				t.Fatal(err)
			}
			trees = append(trees, tree)
		}
		if d := cmp.Diff([]string{"amd64", "arm64"}, archs); d != "" {
			t.Errorf("index platforms (-want +got):\n%s", d)
		}
		if len(trees) == 2 {
			if d := cmp.Diff(trees[0], trees[1]); d != "" {
				t.Errorf("noarch content differs between platforms:\n%s", d)
			}
			want := testutil.TreeEntry{Path: "data/w.bin", Type: "file", Mode: 0o644, SHA256: sum}
			if !containsEntry(trees[0], want) || !containsEntry(trees[0], testutil.TreeEntry{Path: "opt/env/share/zoneinfo/UTC", Type: "file", Mode: 0o644, SHA256: sha256Hex([]byte("TZif-ish\n"))}) {
				t.Errorf("tree lacks the baked data or the package file: %v", trees[0])
			}
		}
		if i == 0 {
			if err := bk.Client(t).Prune(ctx, nil, client.PruneAll); err != nil {
				t.Fatal(err)
			}
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("index digests differ across a prune: %v", digests)
	}
}

func containsEntry(tree []testutil.TreeEntry, e testutil.TreeEntry) bool {
	for _, x := range tree {
		if x == e {
			return true
		}
	}
	return false
}

func TestBuildKitOptionErrors(t *testing.T) {
	l := &lock.Lock{Targets: []lock.Target{{Platform: "linux-64"}}}
	for _, tc := range []struct {
		name string
		o    BuildKitOptions
		want string
	}{
		{"no lock", BuildKitOptions{Addr: "unix:///x", OCITar: "x"}, "no lock"},
		{"no address", BuildKitOptions{Lock: l, OCITar: "x"}, "no buildkitd address"},
		{"no output", BuildKitOptions{Lock: l, Addr: "unix:///x"}, "no output"},
		{"unknown platform", BuildKitOptions{Lock: l, Addr: "unix:///x", OCITar: "x", Platforms: []string{"linux-aarch64"}}, "no target for platform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := BuildKit(context.Background(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// testWriter sends progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if s := strings.TrimSpace(string(p)); s != "" {
		w.t.Log(s)
	}
	return len(p), nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestLinkerDir(t *testing.T) {
	static := linkerDir(t)
	got, err := LinkerDir(filepath.Join(static, "reprobuild"))
	if err != nil || got != static {
		t.Errorf("LinkerDir(static reprobuild) = %q, %v", got, err)
	}
	dir := t.TempDir()
	dyn := filepath.Join(dir, "reprobuild")
	if err := exec.Command("cp", "/bin/sh", dyn).Run(); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(t.TempDir(), "reprobuild")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{dyn, "dynamically linked"},
		{text, "not a Linux ELF"},
		{filepath.Join(static, "..", filepath.Base(static), "reprobuild.test"), "not named"},
	} {
		_, err := LinkerDir(tc.path)
		var ns *NotStaticError
		if !errors.As(err, &ns) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LinkerDir(%s) error = %v, want %q", tc.path, err, tc.want)
		}
	}
}
