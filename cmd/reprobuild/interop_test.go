package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

// buildExample builds examples/NAME from the committed lock (never relocking, so the
// repository is not written) into out with a private cache, and returns the printed
// digest.
func buildExample(t *testing.T, name, output string) string {
	t.Helper()
	t.Setenv("REPROBUILD_CACHE", filepath.Join(t.TempDir(), "cache"))
	recipe := filepath.Join("..", "..", "examples", name, "reprobuild.hcl")
	stdout, stderr, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--output", output)
	if err != nil {
		t.Fatalf("image %s: %v\n%s", name, err, stderr)
	}
	return strings.TrimSpace(stdout)
}

// tool finds a command-line tool the interop tests drive.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testutil.Unavailable(t, "%s is not installed (.ci/run installs it): %v", name, err)
	}
	return p
}

var (
	craneOnce sync.Once
	cranePath string
	craneErr  error
)

// crane builds the crane CLI from the go-containerregistry module pinned in go.mod.
func crane(t *testing.T) string {
	t.Helper()
	craneOnce.Do(func() {
		dir, err := os.MkdirTemp("", "reprobuild-crane-")
		if err != nil {
			craneErr = err
			return
		}
		cranePath = filepath.Join(dir, "crane")
		out, err := exec.Command("go", "build", "-o", cranePath, "github.com/google/go-containerregistry/cmd/crane").CombinedOutput()
		if err != nil {
			craneErr = &exec.Error{Name: "go build crane: " + string(out), Err: err}
		}
	})
	if craneErr != nil {
		t.Fatalf("building crane from the pinned module: %v", craneErr)
	}
	return cranePath
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// localRegistry serves go-containerregistry's in-process registry on a free 127.0.0.1
// port; crane speaks plain HTTP to 127.0.0.1.
func localRegistry(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestInteropQuickstart reads the README's first output, a one-image OCI layout, back
// with reprobuild inspect, skopeo, umoci and crane, with no refs or platform flags except
// umoci's tag (umoci always names one), and the docker archive output with inspect and
// crane.
func TestInteropQuickstart(t *testing.T) {
	skopeo, umoci := tool(t, "skopeo"), tool(t, "umoci")
	out := filepath.Join(t.TempDir(), "quickstart")
	digest := buildExample(t, "quickstart", "oci:"+out)

	var idx struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(out, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != digest {
		t.Fatalf("index.json must list exactly the built image %s, got %s", digest, b)
	}

	stdout, _, err := run(t, "inspect", "oci:"+out, "--json")
	if err != nil {
		t.Fatalf("reprobuild inspect oci:%s: %v", out, err)
	}
	if !strings.Contains(stdout, `"linux-64"`) {
		t.Errorf("inspect printed no linux-64 record:\n%.400s", stdout)
	}

	var si struct{ Digest, Architecture, Os string }
	if err := json.Unmarshal([]byte(sh(t, skopeo, "inspect", "oci:"+out)), &si); err != nil {
		t.Fatal(err)
	}
	if si.Digest != digest || si.Os != "linux" || si.Architecture != "amd64" {
		t.Errorf("skopeo inspect oci:DIR = %+v, want %s linux/amd64", si, digest)
	}
	// skopeo writes an oci-archive of it, which reprobuild reads back.
	archive := filepath.Join(t.TempDir(), "q.tar")
	sh(t, skopeo, "copy", "oci:"+out, "oci-archive:"+archive)
	if _, _, err := run(t, "inspect", "oci-archive:"+archive); err != nil {
		t.Errorf("reprobuild inspect oci-archive:%s (written by skopeo): %v", archive, err)
	}

	bundle := filepath.Join(t.TempDir(), "bundle")
	sh(t, umoci, "unpack", "--rootless", "--image", out+":"+idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"], bundle)
	if _, err := os.Stat(filepath.Join(bundle, "rootfs", "opt", "reprobuild", "runtime.json")); err != nil {
		t.Errorf("umoci unpacked no runtime record: %v", err)
	}

	// The SBOM referrers are in the layout's blobs, listed beside it.
	refs, err := os.ReadFile(out + ".reprobuild/referrers.json")
	if err != nil {
		t.Fatal(err)
	}
	var ri struct {
		Manifests []struct{ Digest, ArtifactType string } `json:"manifests"`
	}
	if err := json.Unmarshal(refs, &ri); err != nil || len(ri.Manifests) != 2 {
		t.Fatalf("referrers.json = %s (%v), want the two SBOM referrers", refs, err)
	}
	for _, m := range ri.Manifests {
		blob, err := os.ReadFile(filepath.Join(out, "blobs", "sha256", strings.TrimPrefix(m.Digest, "sha256:")))
		if err != nil || !strings.Contains(string(blob), digest) {
			t.Errorf("referrer %s (%s) is not in the layout or names no subject %s: %v", m.Digest, m.ArtifactType, digest, err)
		}
	}

	cr, reg := crane(t), localRegistry(t)
	sh(t, cr, "push", out, reg+"/quickstart:1")
	if got := strings.TrimSpace(sh(t, cr, "digest", reg+"/quickstart:1")); got != digest {
		t.Errorf("crane push of the layout gave %s, want %s", got, digest)
	}

	// docker:FILE: read by inspect under both of its names and by crane as a tarball.
	tarFile := filepath.Join(t.TempDir(), "quickstart.tar")
	if d := buildExample(t, "quickstart", "docker:"+tarFile); d != digest {
		t.Errorf("docker archive build printed %s, want %s", d, digest)
	}
	cfgDigest := "sha256:" + sha256hex(t, sh(t, cr, "config", reg+"/quickstart:1"))
	for _, ref := range []string{"docker:" + tarFile, "docker-archive:" + tarFile} {
		stdout, _, err := run(t, "inspect", ref)
		if err != nil || !strings.Contains(stdout, "ID      "+cfgDigest) || !strings.Contains(stdout, "linux-64") {
			t.Errorf("reprobuild inspect %s: %v\n%s", ref, err, stdout)
		}
	}
	// A docker archive keeps no manifest, so the image is the same when its config (the
	// image ID, holding every layer's diff ID) is.
	if out, _, err := run(t, "verify", "-f", filepath.Join("..", "..", "examples", "quickstart", "reprobuild.hcl"), "--offline", "docker:"+tarFile); err != nil || !strings.Contains(out, "image ID "+cfgDigest) {
		t.Errorf("verify docker:%s: %v\n%s", tarFile, err, out)
	}
	sh(t, cr, "push", tarFile, reg+"/quickstart:tar")
	wantCfg := strings.TrimSpace(sh(t, cr, "config", reg+"/quickstart:1"))
	if got := strings.TrimSpace(sh(t, cr, "config", reg+"/quickstart:tar")); got != wantCfg {
		t.Errorf("crane push of the docker archive gave config\n%s\nwant\n%s", got, wantCfg)
	}
	sh(t, cr, "validate", "--remote", reg+"/quickstart:tar")
}

// TestInteropMultiarch reads the two-platform layout: index.json lists its one index, so
// skopeo and crane take the layout whole; a platform is chosen with their usual flags,
// and for umoci, which has none, with image --platform.
func TestInteropMultiarch(t *testing.T) {
	skopeo := tool(t, "skopeo")
	out := filepath.Join(t.TempDir(), "multiarch")
	digest := buildExample(t, "multiarch", "oci:"+out)

	raw := sh(t, skopeo, "inspect", "--raw", "oci:"+out)
	if !strings.Contains(raw, "arm64") || !strings.Contains(raw, "amd64") || strings.Contains(raw, "artifactType\":\"application/spdx") {
		t.Errorf("skopeo inspect --raw oci:DIR is not the two-platform index:\n%s", raw)
	}
	var si struct{ Architecture string }
	if err := json.Unmarshal([]byte(sh(t, skopeo, "--override-arch", "arm64", "inspect", "oci:"+out)), &si); err != nil || si.Architecture != "arm64" {
		t.Errorf("skopeo --override-arch arm64: %+v %v", si, err)
	}
	for _, p := range []string{"linux/arm64", "linux-64"} {
		if _, _, err := run(t, "inspect", "--platform", p, "oci:"+out); err != nil {
			t.Errorf("reprobuild inspect --platform %s: %v", p, err)
		}
	}
	if _, _, err := run(t, "inspect", "oci:"+out); err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Errorf("inspect of two platforms without --platform: %v, want the two platforms listed", err)
	}

	// umoci has no platform choice: one platform of the recipe, built alone with
	// --platform, is a one-image layout it unpacks (the same image as in the index).
	umoci := tool(t, "umoci")
	one := filepath.Join(t.TempDir(), "arm64")
	stdout, _, err := run(t, "image", "-f", filepath.Join("..", "..", "examples", "multiarch", "reprobuild.hcl"), "--offline", "--locked", "--platform", "linux-aarch64", "--output", "oci:"+one)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw, strings.TrimSpace(stdout)) {
		t.Errorf("--platform linux-aarch64 built %s, which the index does not list:\n%s", stdout, raw)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	sh(t, umoci, "unpack", "--rootless", "--image", one+":1", bundle)
	if _, err := os.Stat(filepath.Join(bundle, "rootfs", "opt", "reprobuild", "runtime.json")); err != nil {
		t.Errorf("umoci unpacked no runtime record: %v", err)
	}

	cr, reg := crane(t), localRegistry(t)
	sh(t, cr, "push", out, reg+"/multiarch:1")
	if got := strings.TrimSpace(sh(t, cr, "digest", reg+"/multiarch:1")); got != digest {
		t.Errorf("crane push of the layout gave %s, want %s", got, digest)
	}
	if m := sh(t, cr, "manifest", "--platform", "linux/arm64", reg+"/multiarch:1"); !strings.Contains(m, "layers") {
		t.Errorf("crane manifest --platform linux/arm64: %s", m)
	}
}

func sha256hex(t *testing.T, s string) string {
	t.Helper()
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
