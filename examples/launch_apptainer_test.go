package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestApptainerRunsSIF runs the quickstart's SIF file with Apptainer itself. Opt-in:
// Apptainer is not packaged for Debian 12 and its Go module builds only with its own
// build system and with GONOSUMDB (see docs/launch.md), so the test runs only when
// REPROBUILD_APPTAINER names an apptainer binary (.ci/apptainer.sh sets it when an
// install is cached). As root it runs with --no-privs (a sandbox may withhold
// capabilities Apptainer would otherwise request).
func TestApptainerRunsSIF(t *testing.T) {
	bin := os.Getenv("REPROBUILD_APPTAINER")
	if bin == "" {
		t.Skip("skipping: REPROBUILD_APPTAINER is not set (an apptainer binary; opt-in, see docs/launch.md)")
	}
	ws := workspace(t)
	o := runOpts{dir: filepath.Join(ws, "quickstart"), env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	sif := filepath.Join(t.TempDir(), "quickstart.sif")
	mustRun(t, o, "image", "--offline", "--output", "sif:"+sif)
	args := []string{"run"}
	if os.Geteuid() == 0 {
		args = append(args, "--no-privs")
	}
	cmd := exec.Command(bin, append(args, sif)...)
	cmd.Dir = t.TempDir()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("apptainer run: %v\n%s", err, stderr.String())
	}
	if string(out) != "hello from reprobuild, installed in /opt/env\n" {
		t.Fatalf("apptainer run printed %q (stderr %s)", out, stderr.String())
	}
}
