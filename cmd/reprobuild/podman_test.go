package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

// TestDockerArchivePodman loads the quickstart's docker: output with podman, the closest
// real reader of the docker-archive format here (`docker load` needs a Docker engine,
// which this machine does not have), as `docker load` would be used: no flags about the
// format. The loaded image has our config digest as its id, the recipe's tag, our
// config, and runs with runc.
func TestDockerArchivePodman(t *testing.T) {
	testutil.RequireRoot(t)
	podman := tool(t, "podman")
	runc := testutil.RequireBinary(t, "runc", "REPROBUILD_RUNC")
	archive := filepath.Join(t.TempDir(), "quickstart.tar")
	buildExample(t, "quickstart", "docker:"+archive)
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfgDigest, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}

	// Private storage (vfs needs no kernel support), no system service, no network.
	dir := t.TempDir()
	global := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"--tmpdir", filepath.Join(dir, "tmp"), "--runtime", runc}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	pm := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(podman, append(append([]string{}, global...), args...)...)
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF=/dev/null", "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	const tag = "localhost/reprobuild/quickstart:1" // image.tags in the recipe
	if out := pm("load", "-i", archive); !strings.Contains(out, "Loaded image: "+tag) {
		t.Errorf("podman load printed %q, want it to name %s", out, tag)
	}
	var inspected []struct {
		ID       string
		RepoTags []string
		Config   struct {
			Env []string
			Cmd []string
		}
		Architecture, Os string
	}
	if err := json.Unmarshal([]byte(pm("image", "inspect", tag)), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect: %v (%d images)", err, len(inspected))
	}
	got := inspected[0]
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if "sha256:"+got.ID != cfgDigest.String() {
		t.Errorf("podman's image id %s, our config digest %s", got.ID, cfgDigest)
	}
	if fmt.Sprint(got.Config.Env) != fmt.Sprint(cf.Config.Env) || fmt.Sprint(got.Config.Cmd) != fmt.Sprint(cf.Config.Cmd) ||
		got.Architecture != cf.Architecture || got.Os != cf.OS {
		t.Errorf("podman sees env %q cmd %q %s/%s; our config has %q %q %s/%s",
			got.Config.Env, got.Config.Cmd, got.Os, got.Architecture, cf.Config.Env, cf.Config.Cmd, cf.OS, cf.Architecture)
	}
	// podman's default limits (nofile 1048576) can exceed a CI container's hard limits,
	// which runc then cannot set: ask for small ones.
	out := pm("run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", tag)
	if !strings.Contains(out, "hello from reprobuild, installed in /opt/env") {
		t.Errorf("podman run %s printed %q", tag, out)
	}
}
