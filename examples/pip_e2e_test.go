package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// pipWorkspace copies what examples/debian-python-pip needs (the conda channel, the
// static PyPI index and the recipe) under a path with a space.
func pipWorkspace(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "some where", "examples")
	for _, d := range []string{"channel", "pypi", "debian-python-pip"} {
		if err := os.CopyFS(filepath.Join(dst, d), os.DirFS(d)); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestDebianPythonPip locks conda and PyPI packages together, builds the image twice in
// different workspaces with different caches and umasks to the same digest, and runs
// the PyPI package's entry point and an import with runc on the real Debian python.
func TestDebianPythonPip(t *testing.T) {
	base := debianBase(t)
	var digests []string
	var out string
	for i, umask := range []string{"022", "077"} {
		ws := pipWorkspace(t)
		o := runOpts{dir: filepath.Join(ws, "debian-python-pip"), env: []string{"REPROBUILD_CACHE=" + t.TempDir()}, umask: umask}
		mustRun(t, o, "lock", "-f", "reprobuild.hcl", "--offline", "--var", "base="+base)
		lock, err := os.ReadFile(filepath.Join(o.dir, "reprobuild.lock"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"pypi examples ../pypi\n", "  pip hello-pypi 1.0\n", "  pip wheel 0.38.4\n",
			"    url ../pypi/wheel/wheel-0.38.4-py3-none-any.whl\n", `    requested "hello-pypi>=1.0 (reprobuild.hcl:37)"`} {
			if !strings.Contains(string(lock), want) {
				t.Fatalf("lock lacks %q:\n%s", want, lock)
			}
		}
		if strings.Contains(string(lock), "colorama") || strings.Contains(string(lock), ws) {
			t.Fatalf("lock holds a marker-excluded package or a host path:\n%s", lock)
		}
		mustRun(t, o, "lock", "-f", "reprobuild.hcl", "--check", "--var", "base="+base)
		out = filepath.Join(t.TempDir(), "oci")
		digests = append(digests, buildImage(t, o, "reprobuild.hcl", out, "--var", "base="+base))
		if i == 0 {
			// A pip requirement the conda packages contradict: one line, naming both.
			bad := filepath.Join(o.dir, "bad.hcl")
			src, _ := os.ReadFile(filepath.Join(o.dir, "reprobuild.hcl"))
			os.WriteFile(bad, []byte(strings.Replace(string(src), `"hello-pypi >=1.0"`, `"hello-pypi >=1.0", "sample_noarch_python >=2"`, 1)), 0o644)
			_, err := run(t, o, "lock", "-f", "bad.hcl", "--offline", "--var", "base="+base)
			if err == nil || !strings.Contains(err.Error(), "conda package sample_noarch_python 1.0") || !strings.Contains(err.Error(), "bad.hcl:37") {
				t.Fatalf("conda+pip conflict through the CLI: %v", err)
			}
		}
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds gave %s and %s", digests[0], digests[1])
	}
	rootfs := filepath.Join(t.TempDir(), "bundle", "rootfs")
	unpackLayout(t, out, rootfs)
	env := []string{"PATH=/opt/env/bin:/usr/bin:/bin", "PYTHONPATH=/opt/env/lib/python3.11/site-packages"}
	if got, want := runcRun(t, rootfs, env, "/opt/env/bin/hello-pypi"), "hello-pypi 1.0 with wheel 0.38.4 on python 3.11\n"; got != want {
		t.Fatalf("entry point hello-pypi printed %q, want %q", got, want)
	}
	got := runcRun(t, rootfs, env, "/usr/bin/python3", "-c", "import wheel, hello_py, sample; print(wheel.__file__)")
	if want := "/opt/env/lib/python3.11/site-packages/wheel/__init__.py\n"; got != want {
		t.Fatalf("import printed %q, want %q", got, want)
	}
	if got := runcRun(t, rootfs, env, "/opt/env/bin/wheel", "version"); got != "wheel 0.38.4\n" {
		t.Fatalf("wheel entry point printed %q", got)
	}
	for _, f := range []string{"opt/env/share/hello-pypi/README.txt", "opt/env/lib/python3.11/site-packages/wheel-0.38.4.dist-info/RECORD"} {
		if _, err := os.Stat(filepath.Join(rootfs, f)); err != nil {
			t.Errorf("image lacks %s: %v", f, err)
		}
	}
	inst, _ := os.ReadFile(filepath.Join(rootfs, "opt/env/lib/python3.11/site-packages/hello_pypi-1.0.dist-info/INSTALLER"))
	if string(inst) != "reprobuild\n" {
		t.Errorf("INSTALLER = %q", inst)
	}
}

// TestDebianPythonPipBuildKit builds the same example with --engine buildkit on a real
// buildkitd and checks its file tree equals the embedded engine's, PyPI packages
// included.
func TestDebianPythonPipBuildKit(t *testing.T) {
	testutil.RequireRoot(t)
	base := debianBase(t)
	bk := testutil.StartBuildkitd(t)
	ws := pipWorkspace(t)
	o := runOpts{dir: filepath.Join(ws, "debian-python-pip"), env: []string{"REPROBUILD_CACHE=" + t.TempDir(), "BUILDKIT_HOST=" + bk.Addr()}}
	mustRun(t, o, "lock", "-f", "reprobuild.hcl", "--offline", "--var", "base="+base)
	bkOut := filepath.Join(t.TempDir(), "bk")
	buildImage(t, o, "reprobuild.hcl", bkOut, "--engine", "buildkit", "--var", "base="+base)
	emb := filepath.Join(t.TempDir(), "emb")
	buildImage(t, o, "reprobuild.hcl", emb, "--var", "base="+base)
	// The trees of the layers over the Debian base (whose /dev nodes the tree reader
	// does not take).
	over := func(dir string) []testutil.TreeEntry {
		img := testutil.LayoutImage(t, dir)
		layers, err := img.Layers()
		if err != nil || len(layers) < 2 {
			t.Fatalf("%s: %d layers, %v", dir, len(layers), err)
		}
		top, err := mutate.AppendLayers(empty.Image, layers[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := testutil.TreeFromImage(top)
		if err != nil {
			t.Fatal(err)
		}
		return tree
	}
	a, b := over(bkOut), over(emb)
	// The runtime record differs only in the engine that built the image.
	if diff := cmp.Diff(testutil.WithoutPath(b, record.Path), testutil.WithoutPath(a, record.Path)); diff != "" {
		t.Fatalf("BuildKit and embedded file trees differ (-embedded +buildkit):\n%s", diff)
	}
	if n := len(testutil.Under(a, "opt/env/lib/python3.11/site-packages/wheel")); n < 10 {
		t.Fatalf("the BuildKit image has %d entries of the wheel package", n)
	}
}
