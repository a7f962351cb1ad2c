package main

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

// TestDockerfileCLIImage builds the repository's Dockerfile (the CLI image, its default
// target) with the repository's buildkitd and the built-in Dockerfile frontend, and runs
// it with runc as an unprivileged user: `version`, then the quickstart build, which
// must give the committed golden digest. The `build` stage (golang image, go build) is
// replaced through a BuildKit named context by what it produces: a static reprobuild
// built here, next to busybox and the host's CA certificates, so no image is pulled;
// the stages after it (rootfs, reprobuild) run as written.
func TestDockerfileCLIImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image with buildkitd")
	}
	bk := testutil.StartBuildkitd(t)
	buildctl := bk.Buildctl()
	if buildctl == "" {
		testutil.Unavailable(t, "buildctl not found (set REPROBUILD_BUILDCTL)")
	}
	runc := testutil.RequireBinary(t, "runc", "REPROBUILD_RUNC")
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		testutil.Unavailable(t, "busybox not found (apt-get install busybox-static): %v", err)
	}
	const certs = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(certs); err != nil {
		testutil.Unavailable(t, "no CA certificates on the host (apt-get install ca-certificates): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	stage := t.TempDir()
	for _, d := range []string{"bin", "out", "etc/ssl/certs"} {
		if err := os.MkdirAll(filepath.Join(stage, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, busybox, filepath.Join(stage, "bin", "busybox"), 0o755)
	for _, tool := range []string{"sh", "mkdir", "cp", "chmod"} {
		if err := os.Symlink("busybox", filepath.Join(stage, "bin", tool)); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, certs, filepath.Join(stage, certs), 0o644)
	gob := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(stage, "out", "reprobuild"), ".")
	gob.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gob.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	ociTar := filepath.Join(t.TempDir(), "cli.tar")
	build := exec.CommandContext(ctx, buildctl, "--addr", bk.Addr(), "build", "--progress", "plain",
		"--frontend", "dockerfile.v0",
		"--local", "context="+t.TempDir(), "--local", "dockerfile="+repo,
		"--opt", "context:build=local:buildstage", "--local", "buildstage="+stage,
		"--output", "type=oci,dest="+ociTar)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("buildctl build of the Dockerfile: %v\n%s", err, out)
	}

	img := testutil.OCIArchiveImage(t, ociTar)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"HOME=/home/reprobuild", "REPROBUILD_CACHE=/home/reprobuild/.cache/reprobuild", "SSL_CERT_FILE=" + certs} {
		if !slices.Contains(cf.Config.Env, want) {
			t.Errorf("image env %v lacks %s", cf.Config.Env, want)
		}
	}
	rootfs := filepath.Join(t.TempDir(), "bundle", "rootfs")
	unpackImage(t, img, rootfs)
	for p, mode := range map[string]os.FileMode{"tmp": os.ModeSticky | 0o777, "home/reprobuild/.cache/reprobuild": os.ModeSticky | 0o777, "work": os.ModeSticky | 0o777} {
		fi, err := os.Stat(filepath.Join(rootfs, p))
		if err != nil || fi.Mode().Perm()|fi.Mode()&os.ModeSticky != mode {
			t.Errorf("/%s: %v %v, want a directory writable by anyone", p, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(rootfs, certs)); err != nil || fi.Size() == 0 {
		t.Errorf("no CA certificates in the image: %v", err)
	}

	examples, _ := filepath.Abs(filepath.Join("..", "..", "examples"))
	runIn := func(args ...string) string {
		t.Helper()
		return runcImage(t, ctx, runc, filepath.Dir(rootfs), cf, examples, args...)
	}
	if out := runIn("version"); !strings.Contains(out, "reprobuild") {
		t.Errorf("version printed %q", out)
	}
	golden, err := os.ReadFile(filepath.Join(examples, "quickstart", "digest.golden"))
	if err != nil {
		t.Fatal(err)
	}
	got := runIn("image", "-q", "-f", "/examples/quickstart/reprobuild.hcl", "--offline", "--locked", "--output", "oci:/tmp/quickstart")
	if strings.TrimSpace(got) != strings.TrimSpace(string(golden)) {
		t.Errorf("the quickstart built in the CLI image is %q, golden %q", strings.TrimSpace(got), strings.TrimSpace(string(golden)))
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// unpackImage applies the layers of a small image (directories and files only) to dir,
// keeping modes.
func unpackImage(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+h.Name)))
			mode := os.FileMode(h.Mode).Perm()
			if h.Mode&0o1000 != 0 {
				mode |= os.ModeSticky
			}
			switch h.Typeflag {
			case tar.TypeDir:
				if err := os.MkdirAll(dst, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dst, mode); err != nil {
					t.Fatal(err)
				}
			case tar.TypeReg:
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					t.Fatal(err)
				}
				data, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, data, mode); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("unexpected %s (type %c) in the CLI image", h.Name, h.Typeflag)
			}
		}
		rc.Close()
	}
}

// runcImage runs the image's entrypoint with args in bundle as uid 1000, its env and
// working directory from the image config, examples mounted read-only at /examples.
func runcImage(t *testing.T, ctx context.Context, runc, bundle string, cf *v1.ConfigFile, examples string, args ...string) string {
	t.Helper()
	testutil.RuncSpec(t, ctx, runc, bundle)
	return testutil.RuncRun(t, ctx, runc, bundle, func(spec, proc map[string]any) {
		proc["args"] = append(slices.Clone(cf.Config.Entrypoint), args...)
		proc["env"] = cf.Config.Env
		proc["cwd"] = cf.Config.WorkingDir
		proc["user"] = map[string]any{"uid": 1000, "gid": 1000}
		spec["root"] = map[string]any{"path": "rootfs", "readonly": false}
		spec["mounts"] = append(spec["mounts"].([]any), map[string]any{
			"destination": "/examples", "type": "bind", "source": examples, "options": []string{"rbind", "ro"},
		})
	})
}
