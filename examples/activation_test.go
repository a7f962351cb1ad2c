package examples

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
	"github.com/reprobuild/reprobuild/internal/runc"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// busyboxBase is the committed busybox layout, pinned as a recipe base.
func busyboxBase(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("bases", "busybox"))
	if err != nil {
		t.Fatal(err)
	}
	return "oci:" + dir + "@sha256:b62d72d4c45fe80379be0be099e66f6ff223df2e965164c002afe26cd277619c"
}

// activationChannel writes a file:// channel of two real conda packages with activation
// scripts: geodata's only exports a value computable at build time, javaish's has a
// condition, so the image must source it when it starts.
func activationChannel(t *testing.T, dir string) {
	t.Helper()
	pkgs := []pkgmaker.Package{
		{Record: conda.PackageRecord{Name: "geodata", Version: "1.0", Build: "0", Subdir: "linux-64"}, Files: []pkgmaker.File{
			{Path: "share/gdal/gcs.csv", Data: []byte("4326\n")},
			{Path: "etc/conda/activate.d/geodata-activate.sh", Data: []byte("#!/bin/sh\nexport GDAL_DATA=\"${CONDA_PREFIX}/share/gdal\"\n")},
			{Path: "etc/conda/deactivate.d/geodata-deactivate.sh", Data: []byte("unset GDAL_DATA\n")},
		}},
		{Record: conda.PackageRecord{Name: "javaish", Version: "1.0", Build: "0", Subdir: "linux-64"}, Files: []pkgmaker.File{
			{Path: "lib/jvm/release", Data: []byte("JAVA_VERSION=1\n")},
			{Path: "etc/conda/activate.d/java.sh", Data: []byte("if [ -d \"$CONDA_PREFIX/lib/jvm\" ]; then\n  export JAVA_HOME=\"$CONDA_PREFIX/lib/jvm\"\nfi\n")},
		}},
	}
	if err := pkgmaker.WriteChannel(dir, pkgs, pkgmaker.Conda); err != nil {
		t.Fatal(err)
	}
}

// activationRecipe writes a recipe over base needing the named packages of the channel
// at ../channel, and returns its directory.
func activationRecipe(t *testing.T, root, name, base string, pkgs ...string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("image %q {\n  base = %q\n  tags = [\"localhost/%s:1\"]\n}\nchannel \"local\" { url = \"../channel\" }\n"+
		"dependencies {\n  conda = [\"%s\"]\n}\nplatform { targets = [\"linux-64\"] }\n", name, base, name, strings.Join(pkgs, `", "`))
	if err := os.WriteFile(filepath.Join(dir, "reprobuild.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestActivationEnginesAgree builds packages with activation scripts with both engines
// through the CLI, on a real buildkitd: the same file tree, config (GDAL_DATA in the
// environment when that is exact, else an entrypoint that sources the scripts),
// annotations and runtime record, and both images, run with runc, see the variables;
// `reprobuild llb | buildctl build` gives the BuildKit engine's image. Where nothing can source a script
// (scratch), both engines refuse the same way.
func TestActivationEnginesAgree(t *testing.T) {
	testutil.RequireRoot(t)
	bk := testutil.StartBuildkitd(t)
	root := filepath.Join(t.TempDir(), "project")
	activationChannel(t, filepath.Join(root, "channel"))
	env := []string{"REPROBUILD_CACHE=" + t.TempDir(), "BUILDKIT_HOST=" + bk.Addr()}

	// geodata alone is exact: its variable goes into the config, no wrapper. With
	// javaish too, the entrypoint sources every script when the container starts.
	for _, tc := range []struct {
		name    string
		pkgs    []string
		wrapper bool
		want    string
	}{
		{"exact", []string{"geodata"}, false, "/opt/env/share/gdal|"},
		{"sourced", []string{"geodata", "javaish"}, true, "/opt/env/share/gdal|/opt/env/lib/jvm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := runOpts{dir: activationRecipe(t, root, tc.name, busyboxBase(t), tc.pkgs...), env: env}
			mustRun(t, o, "lock", "--offline")
			embDir, bkDir := filepath.Join(t.TempDir(), "emb"), filepath.Join(t.TempDir(), "bk")
			buildImage(t, o, "reprobuild.hcl", embDir, "--locked")
			buildImage(t, o, "reprobuild.hcl", bkDir, "--locked", "--engine", "buildkit")
			emb, bki := platformImages(t, embDir)["linux-64"], platformImages(t, bkDir)["linux-64"]
			compareEngines(t, emb, bki)
			// `reprobuild llb | buildctl build` gives the same image too: llb reads the
			// scripts from the package archives for the config it writes.
			if want, err := bki.Digest(); err != nil {
				t.Fatal(err)
			} else if got := llbBuild(t, o, bk, "linux-64", "--offline"); got != want.String() {
				t.Errorf("reprobuild llb | buildctl build gave %s, image --engine buildkit %s", got, want)
			}
			for name, img := range map[string]v1.Image{"embedded": emb, "buildkit": bki} {
				cf, err := img.ConfigFile()
				if err != nil {
					t.Fatal(err)
				}
				ep := cf.Config.Entrypoint
				wrapped := len(ep) >= 3 && ep[0] == "/bin/sh" && strings.Contains(ep[2], "/opt/env/etc/conda/activate.d")
				if wrapped != tc.wrapper {
					t.Errorf("%s: entrypoint %q, want a wrapper sourcing the scripts: %v", name, ep, tc.wrapper)
				}
				if !tc.wrapper && !slices.Contains(cf.Config.Env, "GDAL_DATA=/opt/env/share/gdal") {
					t.Errorf("%s: GDAL_DATA not in the environment %q", name, cf.Config.Env)
				}
				if got := runImage(t, img, "/bin/sh", "-c", `echo "$GDAL_DATA|$JAVA_HOME"`); got != tc.want {
					t.Errorf("%s, in the container: %q, want %q", name, got, tc.want)
				}
			}
		})
	}

	// A condition on scratch: nothing can source it, in either engine.
	o := runOpts{dir: activationRecipe(t, root, "bare", "scratch", "javaish"), env: env}
	mustRun(t, o, "lock", "--offline")
	for _, engine := range []string{"embedded", "buildkit"} {
		out := filepath.Join(t.TempDir(), "x")
		_, err := run(t, o, "image", "--offline", "--locked", "--engine", engine, "--output", "oci:"+out)
		if err == nil || !strings.Contains(err.Error(), "java.sh") || !strings.Contains(err.Error(), "needs /bin/sh") {
			t.Errorf("%s engine, conditional activation on scratch: %v, want a refusal naming the script and /bin/sh", engine, err)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Errorf("%s engine left %s behind after failing", engine, out)
		}
	}
}

// runImage runs img with runc (the image's entrypoint, args as the command) and returns
// its trimmed standard output.
func runImage(t *testing.T, img v1.Image, args ...string) string {
	t.Helper()
	bin := testutil.RequireBinary(t, "runc", "REPROBUILD_RUNC")
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	if _, err := runc.Unpack(img, rootfs, runc.UnpackOptions{Owners: true}); err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := runc.Spec(cf.Config, "rootfs", rootfs, runc.SpecOptions{Args: args})
	if err != nil {
		t.Fatal(err)
	}
	spec.Process.Terminal = false
	if err := runc.WriteBundle(bundle, spec); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code, err := runc.Run(context.Background(), bundle, runc.RunOptions{
		Runc: bin, ID: fmt.Sprintf("reprobuild-activation-%d", os.Getpid()), StateDir: t.TempDir(),
		Stdout: &stdout, Stderr: &stderr,
	})
	if err != nil || code != 0 {
		t.Fatalf("runc run: exit %d, %v\n%s", code, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}
