package gateway_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
	"github.com/reprobuild/reprobuild/internal/testutil"
	"github.com/reprobuild/reprobuild/recipes"
)

// pushFrontendImage builds the frontend image (both binaries in /usr/local/bin) with
// BuildKit itself and pushes it; it returns REF@DIGEST.
func pushFrontendImage(t *testing.T, bk *testutil.Buildkitd, reg *testutil.Registry, bin string) string {
	t.Helper()
	ctx := context.Background()
	src := llb.Local("bin", llb.IncludePatterns([]string{"reprobuild", "reprobuild-frontend"}))
	st := llb.Scratch().File(llb.Copy(src, "/", "/usr/local/bin/", &llb.CopyInfo{CopyDirContentsOnly: true, CreateDestPath: true}))
	def, err := st.Marshal(ctx, llb.LinuxAmd64)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := json.Marshal(ocispecs.Image{
		Platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"},
		Config:   ocispecs.ImageConfig{Entrypoint: []string{"/usr/local/bin/reprobuild-frontend"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := fsutil.NewFS(bin)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host() + "/reprobuild/frontend:test"
	res, err := bk.Client(t).Solve(ctx, def, client.SolveOpt{
		LocalMounts: map[string]fsutil.FS{"bin": fs},
		Exports: []client.ExportEntry{{Type: client.ExporterImage, Attrs: map[string]string{
			"name": ref, "push": "true", "registry.insecure": "true", "containerimage.config": string(cfg),
		}}},
	}, nil)
	if err != nil {
		t.Fatalf("building the frontend image: %v", err)
	}
	return ref + "@" + res.ExporterResponse["containerimage.digest"]
}

func TestGatewayFrontend(t *testing.T) {
	reg := testutil.StartRegistry(t)
	bk := testutil.StartBuildkitd(t, testutil.WithHTTPRegistry(reg.Host()))
	bctl := bk.Buildctl()
	if bctl == "" {
		testutil.Unavailable(t, "buildctl not found")
	}
	bin := testutil.RequireStaticBinaries(t)
	frontendRef := pushFrontendImage(t, bk, reg, bin)
	t.Logf("frontend image %s", frontendRef)

	// A project: a file:// channel with one package, a recipe and its lock.
	proj := t.TempDir()
	chDir := filepath.Join(proj, "channel")
	rec, err := pkgmaker.Write(filepath.Join(chDir, "linux-64"), pkgmaker.Package{
		Record: conda.PackageRecord{Name: "hello", Version: "1.0", Build: "0", Subdir: "linux-64"},
		Files: []pkgmaker.File{
			{Path: "bin/hello", Data: []byte("#!/bin/sh\necho hi\n"), Mode: 0o755},
			{Path: "share/hello/README", Data: []byte("hello\n")},
			// An activation script: the frontend reads it from the solved tree and
			// puts its variable into the config, as both CLI engines do.
			{Path: "etc/conda/activate.d/hello.sh", Data: []byte("export HELLO_HOME=\"${CONDA_PREFIX}/share/hello\"\n")},
		},
	}, pkgmaker.Conda)
	if err != nil {
		t.Fatal(err)
	}
	rec.URL = "file://" + filepath.Join(chDir, "linux-64", rec.Fn)
	rec.Channel = "file://" + chDir
	src := "channel \"local\" { url = \"./channel\" }\ndependencies {\n  conda = [\"hello\"]\n}\nplatform { targets = [\"linux-64\"] }\nruntime { cmd = [\"/opt/env/bin/hello\"] }\n"
	r, l := writeProject(t, proj, src, []lock.Target{{Platform: "linux-64", Packages: []conda.PackageRecord{rec}}})

	out := t.TempDir()
	meta := filepath.Join(out, "meta.json")
	cmd := exec.Command(bctl, "--addr", bk.Addr(), "build", "--progress", "plain",
		"--frontend", "gateway.v0", "--opt", "source="+frontendRef, "--opt", "build-arg:SOURCE_DATE_EPOCH=1700000000",
		"--local", "context="+proj, "--local", "dockerfile="+proj, "--local", "channel-local="+chDir,
		"--output", "type=oci,dest="+filepath.Join(out, "image.tar")+",source-date-epoch=1700000000,rewrite-timestamp=true",
		"--metadata-file", meta)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buildctl build --frontend gateway.v0: %v\n%s", err, b)
	}
	var m map[string]any
	testutil.ReadJSON(t, meta, &m)
	viaFrontend, _ := m["containerimage.digest"].(string)

	frontendConfig(t, filepath.Join(out, "image.tar"))
	// The same recipe and lock through builder.BuildKit (local linker binary) give the
	// same image.
	direct := filepath.Join(t.TempDir(), "direct.tar")
	when := time.Unix(1700000000, 0).UTC()
	res, err := builder.BuildKit(context.Background(), builder.BuildKitOptions{
		Addr: bk.Addr(), Lock: l, Recipe: r, LinkerDir: bin, Epoch: &when,
		OCITar: direct,
	})
	if err != nil {
		t.Fatal(err)
	}
	if viaFrontend == "" || viaFrontend != res.Digest {
		t.Errorf("gateway frontend built %q, builder.BuildKit %s", viaFrontend, res.Digest)
		explainDiff(t, filepath.Join(out, "image.tar"), direct)
	}
	t.Run("multi-platform index", func(t *testing.T) { multiPlatform(t, bk, frontendRef) })
}

// multiPlatform builds a two-platform index of a noarch package through the frontend.
// writeProject writes the recipe src and a lock of targets for it into proj, where the
// frontend reads them from its build context, and returns both.
func writeProject(t *testing.T, proj, src string, targets []lock.Target) (*recipes.Recipe, *lock.Lock) {
	t.Helper()
	testutil.WriteFile(t, filepath.Join(proj, "reprobuild.hcl"), src)
	r, diags := recipes.Parse("reprobuild.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	r.Dir = proj
	l := builder.NewLock(r)
	l.Targets = targets
	data, err := lock.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(proj, lock.Filename), string(data))
	return r, l
}

func multiPlatform(t *testing.T, bk *testutil.Buildkitd, frontendRef string) {
	proj := t.TempDir()
	chDir := filepath.Join(proj, "channel")
	rec, err := pkgmaker.Write(filepath.Join(chDir, "noarch"), pkgmaker.Package{
		Record: conda.PackageRecord{Name: "tables", Version: "2", Build: "0", Noarch: "generic"},
		Files:  []pkgmaker.File{{Path: "share/tables/t.csv", Data: []byte("a,b\n1,2\n")}},
	}, pkgmaker.Conda)
	if err != nil {
		t.Fatal(err)
	}
	rec.URL = "file://" + filepath.Join(chDir, "noarch", rec.Fn)
	src := "channel \"local\" { url = \"./channel\" }\ndependencies {\n  conda = [\"tables\"]\n}\nplatform { targets = [\"linux-64\", \"linux-aarch64\"] }\n"
	writeProject(t, proj, src, []lock.Target{{Platform: "linux-64", Packages: []conda.PackageRecord{rec}}, {Platform: "linux-aarch64", Packages: []conda.PackageRecord{rec}}})
	out := t.TempDir()
	cmd := exec.Command(bk.Buildctl(), "--addr", bk.Addr(), "build", "--progress", "plain",
		"--frontend", "gateway.v0", "--opt", "source="+frontendRef, "--opt", "platform=linux/amd64,linux/arm64",
		"--local", "context="+proj, "--local", "dockerfile="+proj, "--local", "channel-local="+chDir,
		"--output", "type=oci,dest="+filepath.Join(out, "index.tar")+",source-date-epoch=1700000000,rewrite-timestamp=true")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("multi-platform build through the frontend: %v\n%s", err, b)
	}
	dir := t.TempDir()
	if err := testutil.ExtractTar(filepath.Join(out, "index.tar"), dir); err != nil {
		t.Fatal(err)
	}
	var top, inner ocispecs.Index
	testutil.ReadJSON(t, filepath.Join(dir, "index.json"), &top)
	if len(top.Manifests) != 1 {
		t.Fatalf("index.json has %d entries", len(top.Manifests))
	}
	d := top.Manifests[0].Digest
	testutil.ReadJSON(t, filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()), &inner)
	var archs []string
	for _, m := range inner.Manifests {
		if m.Platform != nil {
			archs = append(archs, m.Platform.Architecture)
		}
	}
	if d := cmp.Diff([]string{"amd64", "arm64"}, archs); d != "" {
		t.Errorf("index platforms (-want +got):\n%s", d)
	}
}

// frontendConfig checks that the config of the image the frontend wrote carries the
// recipe's runtime block.
func frontendConfig(t *testing.T, tarPath string) {
	t.Helper()
	cf, err := testutil.OCIArchiveImage(t, tarPath).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"/opt/env/bin/hello"}, cf.Config.Cmd); d != "" {
		t.Errorf("frontend image cmd (-want +got):\n%s", d)
	}
	if !slices.Contains(cf.Config.Env, "HELLO_HOME=/opt/env/share/hello") {
		t.Errorf("frontend image env %q lacks the activation script's HELLO_HOME", cf.Config.Env)
	}
}

// explainDiff logs how two OCI archives of one image differ: file trees and configs.
func explainDiff(t *testing.T, a, b string) {
	t.Helper()
	load := func(p string) ([]testutil.TreeEntry, []byte) {
		img := testutil.OCIArchiveImage(t, p)
		tree, err := testutil.TreeFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		return tree, cfg
	}
	ta, ca := load(a)
	tb, cb := load(b)
	t.Logf("trees (-frontend +builder):\n%s", cmp.Diff(ta, tb))
	t.Logf("configs (-frontend +builder):\n%s", cmp.Diff(string(ca), string(cb)))
}
