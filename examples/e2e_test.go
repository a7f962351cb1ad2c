package examples

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	bkclient "github.com/moby/buildkit/client"

	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// cli is the reprobuild binary built once for the end-to-end tests (static, like a
// release build, so the BuildKit engine can run it inside a build too).
var cli string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// The static CLI, built once per test run for every package that needs it.
	dir, err := testutil.StaticBinaries()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building reprobuild: %v\n", err)
		return 1
	}
	cli = filepath.Join(dir, "reprobuild")
	return m.Run()
}

// workspace copies the examples (recipes, channel, bases) into a fresh directory, so a
// build cannot depend on where the repository is checked out.
func workspace(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "some where", "examples")
	for _, d := range []string{"channel", "bases", "quickstart", "multiarch", "debian-python"} {
		if err := os.CopyFS(filepath.Join(dst, d), os.DirFS(d)); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// run runs the CLI with a controlled environment: nothing of the host's environment that
// could shape output reaches it unless the test puts it in env.
type runOpts struct {
	dir   string
	env   []string
	umask string
}

func run(t *testing.T, o runOpts, args ...string) (string, error) {
	t.Helper()
	script := `umask ` + o.umask + ` && exec "$@"`
	if o.umask == "" {
		script = `exec "$@"`
	}
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh", cli}, args...)...)
	cmd.Dir = o.dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, o.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("reprobuild %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func mustRun(t *testing.T, o runOpts, args ...string) string {
	t.Helper()
	out, err := run(t, o, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type imageResult struct {
	Digest string `json:"digest"`
}

func buildImage(t *testing.T, o runOpts, recipe, out string, extra ...string) string {
	t.Helper()
	args := append([]string{"image", "-f", recipe, "--offline", "--output", "oci:" + out, "--json"}, extra...)
	stdout := mustRun(t, o, args...)
	var res imageResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("reprobuild image --json printed %q: %v", stdout, err)
	}
	if !strings.HasPrefix(res.Digest, "sha256:") {
		t.Fatalf("reprobuild image --json printed no digest: %q", stdout)
	}
	return res.Digest
}

// goldenExamples build without external inputs, so their digests are committed.
var goldenExamples = []string{"quickstart", "multiarch"}

// TestLockByteStable locks each example in two directories with different environments
// and compares the bytes with each other and with the committed lock.
func TestLockByteStable(t *testing.T) {
	for _, ex := range goldenExamples {
		t.Run(ex, func(t *testing.T) {
			var locks [][]byte
			for i, env := range [][]string{
				{"TZ=UTC", "GOMAXPROCS=1"},
				{"TZ=Asia/Kathmandu", "GOMAXPROCS=2", "LANG=de_DE.UTF-8"},
			} {
				ws := workspace(t)
				umask := []string{"022", "077"}[i]
				o := runOpts{dir: ws, env: append(env, "REPROBUILD_CACHE="+t.TempDir()), umask: umask}
				mustRun(t, o, "lock", "-f", filepath.Join(ex, "reprobuild.hcl"), "--offline")
				b, err := os.ReadFile(filepath.Join(ws, ex, "reprobuild.lock"))
				if err != nil {
					t.Fatal(err)
				}
				locks = append(locks, b)
				// --check passes on a fresh lock.
				mustRun(t, o, "lock", "-f", filepath.Join(ex, "reprobuild.hcl"), "--check")
			}
			if !bytes.Equal(locks[0], locks[1]) {
				t.Fatalf("lock differs between two directories/environments")
			}
			golden := filepath.Join(ex, "reprobuild.lock")
			if *update {
				if err := os.WriteFile(golden, locks[0], 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./examples -run TestLockByteStable -update)", err)
			}
			if !bytes.Equal(want, locks[0]) {
				t.Fatalf("lock of %s differs from the committed %s; run go test ./examples -run TestLockByteStable -update if the change is intended", ex, golden)
			}
		})
	}
}

// TestLockCheckDetectsChange edits a dependency and expects lock --check to fail with
// exit code 3 (stale lock) and a reason.
func TestLockCheckDetectsChange(t *testing.T) {
	ws := workspace(t)
	o := runOpts{dir: ws, env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	recipe := filepath.Join("quickstart", "reprobuild.hcl")
	mustRun(t, o, "lock", "-f", recipe, "--offline")
	src, err := os.ReadFile(filepath.Join(ws, recipe))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), `"test-package",`, `"test-package", "_r-mutex",`, 1)
	if edited == string(src) {
		t.Fatal("could not edit the quickstart recipe")
	}
	if err := os.WriteFile(filepath.Join(ws, recipe), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, o, "lock", "-f", recipe, "--check")
	var ee *exec.ExitError
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("lock --check on a changed recipe: want exit status 3, got %v (%T %v)", err, ee, err)
	}
	if !strings.Contains(err.Error(), "stale") && !strings.Contains(err.Error(), "changed") {
		t.Fatalf("lock --check gave no reason: %v", err)
	}
}

// TestImageGoldenDigest builds each example twice, in different directories, with
// different TZ, umask, GOMAXPROCS, cwd and a cold then a warm cache, and compares the
// digests with each other and with the committed golden digest.
func TestImageGoldenDigest(t *testing.T) {
	for _, ex := range goldenExamples {
		t.Run(ex, func(t *testing.T) {
			cache := t.TempDir()
			var digests []string
			for i := range 2 {
				ws := workspace(t)
				env := []string{"REPROBUILD_CACHE=" + cache, fmt.Sprintf("GOMAXPROCS=%d", i+1),
					[]string{"TZ=UTC", "TZ=America/St_Johns"}[i]}
				o := runOpts{dir: filepath.Join(ws, ex), env: env, umask: []string{"022", "027"}[i]}
				digests = append(digests, buildImage(t, o, "reprobuild.hcl", filepath.Join(t.TempDir(), "out")))
			}
			if digests[0] != digests[1] {
				t.Fatalf("digests differ between two builds: %s vs %s", digests[0], digests[1])
			}
			golden := filepath.Join(ex, "digest.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(digests[0]+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./examples -run TestImageGoldenDigest -update)", err)
			}
			if strings.TrimSpace(string(want)) != digests[0] {
				t.Fatalf("%s built to %s, committed golden digest is %s; if the change is intended run go test ./examples -run TestImageGoldenDigest -update", ex, digests[0], strings.TrimSpace(string(want)))
			}
		})
	}
}

// TestSourceDateEpochOverride checks SOURCE_DATE_EPOCH changes the image (created time)
// and nothing else breaks; the golden digests above are built without it.
func TestSourceDateEpochOverride(t *testing.T) {
	ws := workspace(t)
	dir := filepath.Join(ws, "quickstart")
	cache := t.TempDir()
	a := buildImage(t, runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + cache}}, "reprobuild.hcl", filepath.Join(t.TempDir(), "a"))
	b := buildImage(t, runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + cache, "SOURCE_DATE_EPOCH=1700000000"}}, "reprobuild.hcl", filepath.Join(t.TempDir(), "b"))
	c := buildImage(t, runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + cache, "SOURCE_DATE_EPOCH=1700000000"}}, "reprobuild.hcl", filepath.Join(t.TempDir(), "c"))
	if a == b {
		t.Fatalf("SOURCE_DATE_EPOCH=1700000000 did not change the digest (%s)", a)
	}
	if b != c {
		t.Fatalf("the same SOURCE_DATE_EPOCH gave two digests: %s vs %s", b, c)
	}
}

// unpackLayout flattens the image of an OCI layout (testutil.LayoutImage) into dir (a
// rootfs).
func unpackLayout(t *testing.T, layoutDir, rootfs string) {
	t.Helper()
	img := testutil.LayoutImage(t, layoutDir)
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean("/" + h.Name)
		if name == "/" {
			continue
		}
		p := filepath.Join(rootfs, filepath.FromSlash(name))
		if !strings.HasPrefix(p, filepath.Clean(rootfs)+string(filepath.Separator)) {
			t.Fatalf("layer entry %q escapes the rootfs", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, os.FileMode(h.Mode)&os.ModePerm|dirSticky(h.Mode)); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&os.ModePerm)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
			os.Chmod(p, os.FileMode(h.Mode)&os.ModePerm)
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.Remove(p)
			if err := os.Symlink(h.Linkname, p); err != nil {
				t.Fatal(err)
			}
		case tar.TypeLink:
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.Link(filepath.Join(rootfs, filepath.FromSlash(h.Linkname)), p); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func dirSticky(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// runcRun runs args in rootfs (read-only) with runc and returns stdout.
func runcRun(t *testing.T, rootfs string, env []string, args ...string) string {
	t.Helper()
	testutil.RequireRoot(t)
	runc := testutil.RequireBinary(t, "runc", "REPROBUILD_RUNC")
	ctx, bundle := context.Background(), filepath.Dir(rootfs)
	testutil.RuncSpec(t, ctx, runc, bundle)
	return testutil.RuncRun(t, ctx, runc, bundle, func(spec, proc map[string]any) {
		proc["args"] = args
		proc["env"] = env
		spec["root"] = map[string]any{"path": filepath.Base(rootfs), "readonly": true}
	})
}

// TestQuickstartRunsWithRunc runs the quickstart image's program with runc: a shell
// script from the conda environment, interpreted by the busybox base's /bin/sh, printing
// its prefix-replaced install path.
func TestQuickstartRunsWithRunc(t *testing.T) {
	ws := workspace(t)
	out := filepath.Join(t.TempDir(), "oci")
	buildImage(t, runOpts{dir: filepath.Join(ws, "quickstart"), env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}, "reprobuild.hcl", out)
	rootfs := filepath.Join(t.TempDir(), "bundle", "rootfs")
	unpackLayout(t, out, rootfs)
	got := runcRun(t, rootfs, []string{"PATH=/opt/env/bin:/bin"}, "/opt/env/bin/hello-reprobuild")
	if want := "hello from reprobuild, installed in /opt/env\n"; got != want {
		t.Fatalf("hello-reprobuild printed %q, want %q", got, want)
	}
	data, err := os.ReadFile(filepath.Join(rootfs, "opt/env/share/hello-reprobuild/prefix.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "/opt/env\n" {
		t.Fatalf("prefix.txt = %q, want the replaced prefix", data)
	}
}

// TestPushToRegistry pushes the quickstart to a real registry server and reads it back
// with skopeo (inspect, and copy to an OCI layout) and umoci, independent readers.
func TestPushToRegistry(t *testing.T) {
	reg := testutil.StartRegistry(t)
	skopeo := testutil.RequireBinary(t, "skopeo", "REPROBUILD_SKOPEO")
	umoci := testutil.RequireBinary(t, "umoci", "REPROBUILD_UMOCI")
	ws := workspace(t)
	ref := reg.Host() + "/lab/quickstart:1"
	o := runOpts{dir: filepath.Join(ws, "quickstart"), env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	local := buildImage(t, o, "reprobuild.hcl", filepath.Join(t.TempDir(), "oci"))
	stdout := mustRun(t, o, "image", "-f", "reprobuild.hcl", "--offline", "--push", "--tag", ref, "--json")
	var res imageResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("image --push --json printed %q: %v", stdout, err)
	}
	if res.Digest != local {
		t.Fatalf("pushed digest %s differs from the layout build %s", res.Digest, local)
	}
	out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "docker://"+ref).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	var insp struct{ Digest string }
	if err := json.Unmarshal(out, &insp); err != nil {
		t.Fatalf("skopeo inspect output: %v\n%s", err, out)
	}
	if insp.Digest != local {
		t.Fatalf("skopeo sees digest %s, want %s", insp.Digest, local)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command(skopeo, "copy", "--src-tls-verify=false", "docker://"+ref, "oci:"+dst+":1").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	if out, err := exec.Command(umoci, "stat", "--image", dst+":1").CombinedOutput(); err != nil {
		t.Fatalf("umoci stat: %v\n%s", err, out)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command(umoci, "unpack", "--image", dst+":1", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(bundle, "rootfs/opt/env/bin/hello-reprobuild")); err != nil {
		t.Fatalf("umoci unpacked no environment: %v", err)
	}

	// The SBOMs are referrers of the pushed image (the registry's referrers API or the
	// OCI 1.1 tag fallback).
	dref, err := name.ParseReference(reg.Host()+"/lab/quickstart@"+local, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	refIdx, err := remote.Referrers(dref.(name.Digest))
	if err != nil {
		t.Fatalf("listing referrers of %s: %v", dref, err)
	}
	rm, _ := refIdx.IndexManifest()
	if len(rm.Manifests) != 2 {
		t.Errorf("the pushed image has %d referrers, want 2 SBOMs", len(rm.Manifests))
	}

	// inspect reads the runtime record back from the real registry.
	text := mustRun(t, o, "inspect", ref)
	for _, want := range []string{"hello-reprobuild", "small-executable", "linux-64"} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect %s does not mention %s:\n%s", ref, want, text)
		}
	}
	js := mustRun(t, o, "inspect", "--json", ref)
	var rec struct {
		Record struct {
			Packages []struct{ Name, SHA256 string } `json:"packages"`
		} `json:"record"`
		Packages []struct{ Name, SHA256 string } `json:"packages"`
	}
	if err := json.Unmarshal([]byte(js), &rec); err != nil {
		t.Fatalf("inspect --json: %v\n%s", err, js)
	}
	if n := len(rec.Packages) + len(rec.Record.Packages); n != 3 {
		t.Errorf("inspect --json lists %d packages, want the 3 locked ones:\n%s", n, js)
	}
}

// debianBase packs the debootstrap root filesystem made by .ci/debian-rootfs.sh
// (REPROBUILD_DEBIAN_ROOTFS) into an OCI layout and returns "oci:DIR@sha256:...".
func debianBase(t *testing.T) string {
	t.Helper()
	tarPath := os.Getenv("REPROBUILD_DEBIAN_ROOTFS")
	if tarPath == "" {
		testutil.Unavailable(t, "REPROBUILD_DEBIAN_ROOTFS is not set (run .ci/debian-rootfs.sh and export its output)")
	}
	layer, err := tarball.LayerFromFile(tarPath, tarball.WithMediaType(types.OCIUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layer)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: runtime.GOARCH, OS: "linux",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{mustDiffID(t, layer)}},
		Config: v1.Config{Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "debian")
	testutil.WriteLayout(t, dir, img)
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return "oci:" + dir + "@" + d.String()
}

// TestDebianPythonRuns layers noarch python packages on a real Debian root filesystem
// with python3 (python { source = "base" }), then runs an entry point and an import with
// runc.
func TestDebianPythonRuns(t *testing.T) {
	testutil.RequireRoot(t)
	base := debianBase(t)
	ws := workspace(t)
	out := filepath.Join(t.TempDir(), "oci")
	o := runOpts{dir: filepath.Join(ws, "debian-python"), env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	mustRun(t, o, "lock", "-f", "reprobuild.hcl", "--offline", "--var", "base="+base)
	buildImage(t, o, "reprobuild.hcl", out, "--var", "base="+base)
	rootfs := filepath.Join(t.TempDir(), "bundle", "rootfs")
	unpackLayout(t, out, rootfs)
	env := []string{"PATH=/opt/env/bin:/usr/bin:/bin", "PYTHONPATH=/opt/env/lib/python3.11/site-packages"}
	if got, want := runcRun(t, rootfs, env, "/opt/env/bin/hello-py"), "hello-py 0.2.0 on python 3.11\n"; got != want {
		t.Fatalf("entry point hello-py printed %q, want %q", got, want)
	}
	got := runcRun(t, rootfs, env, "/usr/bin/python3", "-c", "import sample, hello_py; print(sample.__file__)")
	if want := "/opt/env/lib/python3.11/site-packages/sample.py\n"; got != want {
		t.Fatalf("import printed %q, want %q", got, want)
	}
}

// TestVerifyDetectsTampering verifies a fresh build (pass), then an image whose
// environment layer had one file changed (fail, naming the layer and the file).
func TestVerifyDetectsTampering(t *testing.T) {
	ws := workspace(t)
	dir := filepath.Join(ws, "quickstart")
	o := runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	good := filepath.Join(t.TempDir(), "good")
	buildImage(t, o, "reprobuild.hcl", good)
	if out := mustRun(t, o, "verify", "-f", "reprobuild.hcl", "--offline", "oci:"+good); !strings.Contains(out, "verified") {
		t.Fatalf("verify of a fresh build printed %q", out)
	}

	// Tamper: rewrite the layer holding hello-reprobuild with one byte changed.
	idx, err := layout.ImageIndexFromPath(good)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	img, err := idx.Image(im.Manifests[0].Digest) // index.json lists the one image itself
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	const victim = "opt/env/bin/hello-reprobuild"
	tampered := -1
	var newLayers []v1.Layer
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tr := tar.NewReader(rc)
		found := false
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(tr)
			if h.Name == victim {
				data = bytes.Replace(data, []byte("hello"), []byte("HELLO"), 1)
				h.Size = int64(len(data))
				found = true
			}
			tw.WriteHeader(h)
			tw.Write(data)
		}
		tw.Close()
		rc.Close()
		if found {
			tampered = i
			l = static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
		}
		newLayers = append(newLayers, l)
	}
	if tampered < 0 {
		t.Fatalf("no layer holds %s", victim)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs = nil
	cf.History = nil
	bad, err := mutate.ConfigFile(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), cf)
	if err != nil {
		t.Fatal(err)
	}
	if bad, err = mutate.AppendLayers(bad, newLayers...); err != nil {
		t.Fatal(err)
	}
	badDir := filepath.Join(t.TempDir(), "bad")
	testutil.WriteLayout(t, badDir, bad)
	_, err = run(t, o, "verify", "-f", "reprobuild.hcl", "--offline", "oci:"+badDir)
	if err == nil {
		t.Fatal("verify passed a tampered image")
	}
	msg := err.Error()
	if !strings.Contains(msg, "exit status 5") || !strings.Contains(msg, victim) || !strings.Contains(msg, fmt.Sprintf("layer %d", tampered+1)) {
		t.Fatalf("verify should name layer %d and %s, got:\n%s", tampered+1, victim, msg)
	}
}

// TestVendorAirGapped vendors the quickstart, removes the original channel, points the
// recipe at the vendored directory as a mirror (a build-time choice, so the lock stays
// valid) and rebuilds with an empty cache: the digest is the one of the online build.
func TestVendorAirGapped(t *testing.T) {
	ws := workspace(t)
	dir := filepath.Join(ws, "quickstart")
	o := runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	online := buildImage(t, o, "reprobuild.hcl", filepath.Join(t.TempDir(), "online"))
	vend := filepath.Join(t.TempDir(), "vendored")
	mustRun(t, o, "vendor", "-f", "reprobuild.hcl", "--offline", vend)
	if err := os.RemoveAll(filepath.Join(ws, "channel")); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "reprobuild.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), `url = "../channel"`, `url = "../channel"`+"\n  mirrors = [\"file://"+filepath.ToSlash(vend)+"\"]", 1)
	if edited == string(src) {
		t.Fatal("could not add a mirror to the quickstart recipe")
	}
	if err := os.WriteFile(filepath.Join(dir, "reprobuild.hcl"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, o, "lock", "-f", "reprobuild.hcl", "--check")
	o.env = []string{"REPROBUILD_CACHE=" + t.TempDir()}
	airgapped := buildImage(t, o, "reprobuild.hcl", filepath.Join(t.TempDir(), "airgapped"), "--frozen")
	if airgapped != online {
		t.Fatalf("air-gapped build from the vendored mirror gave %s, online build %s", airgapped, online)
	}
}

// TestBuildKitEngineThroughCLI builds the quickstart with --engine buildkit on a real
// buildkitd twice, with everything pruned in between (same digest), and checks the file
// tree equals the embedded engine's: paths, modes, content hashes and link targets.
func TestBuildKitEngineThroughCLI(t *testing.T) {
	testutil.RequireRoot(t)
	bk := testutil.StartBuildkitd(t)
	ws := workspace(t)
	o := runOpts{dir: filepath.Join(ws, "quickstart"), env: []string{"REPROBUILD_CACHE=" + t.TempDir(), "BUILDKIT_HOST=" + bk.Addr()}}
	first := filepath.Join(t.TempDir(), "bk1")
	d1 := buildImage(t, o, "reprobuild.hcl", first, "--engine", "buildkit")
	if err := bk.Client(t).Prune(t.Context(), nil, bkclient.PruneAll); err != nil {
		t.Fatal(err)
	}
	d2 := buildImage(t, o, "reprobuild.hcl", filepath.Join(t.TempDir(), "bk2"), "--engine", "buildkit")
	if d1 != d2 {
		t.Fatalf("BuildKit builds before and after a prune differ: %s vs %s", d1, d2)
	}
	emb := filepath.Join(t.TempDir(), "emb")
	buildImage(t, o, "reprobuild.hcl", emb)
	a, err := testutil.TreeFromImage(testutil.LayoutImage(t, first))
	if err != nil {
		t.Fatal(err)
	}
	b, err := testutil.TreeFromImage(testutil.LayoutImage(t, emb))
	if err != nil {
		t.Fatal(err)
	}
	// The runtime record differs only in the engine that built the image.
	if diff := cmp.Diff(testutil.WithoutPath(b, record.Path), testutil.WithoutPath(a, record.Path)); diff != "" {
		t.Fatalf("BuildKit and embedded file trees differ (-embedded +buildkit):\n%s", diff)
	}
	recs := map[string]*record.RuntimeRecord{}
	for engine, dir := range map[string]string{"buildkit": first, "embedded": emb} {
		js, err := testutil.ImageFile(testutil.LayoutImage(t, dir), record.Path)
		if err != nil {
			t.Fatal(err)
		}
		rr, err := record.ParseRuntime(js)
		if err != nil {
			t.Fatal(err)
		}
		if rr.Engine != engine {
			t.Errorf("the %s engine's record says engine %q", engine, rr.Engine)
		}
		rr.Engine = ""
		recs[engine] = rr
	}
	if diff := cmp.Diff(recs["embedded"], recs["buildkit"]); diff != "" {
		t.Errorf("runtime records differ beyond the engine (-embedded +buildkit):\n%s", diff)
	}
	if n := len(testutil.Under(a, "opt/env")); n < 5 {
		t.Fatalf("the environment has only %d entries", n)
	}
}

// TestSBOMReferrers checks the SBOMs are stored in the layout as OCI 1.1 referrers of
// the image (blobs listed in DEST.reprobuild/referrers.json, not in index.json, which
// holds the one image) and written beside it with REPRODUCE.md.
func TestSBOMReferrers(t *testing.T) {
	ws := workspace(t)
	o := runOpts{dir: filepath.Join(ws, "quickstart"), env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	out := filepath.Join(t.TempDir(), "oci")
	digest := buildImage(t, o, "reprobuild.hcl", out)
	idx, err := layout.ImageIndexFromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest.String() != digest {
		t.Fatalf("index.json lists %+v, want only the image %s", m.Manifests, digest)
	}
	refsJSON, err := os.ReadFile(filepath.Join(out+".reprobuild", "referrers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var refs v1.IndexManifest
	if err := json.Unmarshal(refsJSON, &refs); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	blob := func(h v1.Hash) []byte {
		b, err := os.ReadFile(filepath.Join(out, "blobs", h.Algorithm, h.Hex))
		if err != nil {
			t.Fatalf("blob %s is not in the layout: %v", h, err)
		}
		return b
	}
	for _, d := range refs.Manifests {
		raw := blob(d.Digest)
		var man struct {
			ArtifactType string `json:"artifactType"`
			Subject      struct{ Digest string }
			Layers       []v1.Descriptor
		}
		if err := json.Unmarshal(raw, &man); err != nil {
			t.Fatal(err)
		}
		if man.Subject.Digest != digest {
			t.Errorf("referrer %s has subject %s, want the image %s", d.Digest, man.Subject.Digest, digest)
		}
		if d.ArtifactType != man.ArtifactType {
			t.Errorf("referrers.json says %s is %s, its manifest %s", d.Digest, d.ArtifactType, man.ArtifactType)
		}
		types[man.ArtifactType] = true
		if len(man.Layers) != 1 {
			t.Fatalf("referrer %s has %d layers", d.Digest, len(man.Layers))
		}
		doc := blob(man.Layers[0].Digest)
		if !json.Valid(doc) || !bytes.Contains(doc, []byte("hello-reprobuild")) {
			t.Errorf("referrer %s does not hold an SBOM listing the packages", man.ArtifactType)
		}
	}
	if !types["application/spdx+json"] || !types["application/vnd.cyclonedx+json"] {
		t.Fatalf("layout referrers: %v, want SPDX and CycloneDX", types)
	}
	for _, f := range []string{"REPRODUCE.md", "runtime-linux-64.json", "linux-64-sbom.spdx.json", "linux-64-sbom.cdx.json"} {
		if _, err := os.Stat(filepath.Join(out+".reprobuild", f)); err != nil {
			t.Errorf("beside the output: %v", err)
		}
	}
}
