package examples

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

// runStderr runs the CLI as run does and returns its stdout and stderr.
func runStderr(t *testing.T, o runOpts, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(cli, args...)
	cmd.Dir = o.dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, o.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("reprobuild %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// TestBuildKitPlatformAndProgress builds the multiarch example with the BuildKit engine
// through the CLI: `--platform linux/arm64` gives exactly the arm64 image of the full
// build's index; off a terminal each BuildKit step is a line when it starts and one when
// it ends (as the embedded engine's phases are), and -q prints nothing but the digest.
func TestBuildKitPlatformAndProgress(t *testing.T) {
	testutil.RequireRoot(t)
	bk := testutil.StartBuildkitd(t)
	ws := workspace(t)
	o := runOpts{dir: filepath.Join(ws, "multiarch"), env: []string{"REPROBUILD_CACHE=" + t.TempDir(), "BUILDKIT_HOST=" + bk.Addr()}}

	full := filepath.Join(t.TempDir(), "full")
	_, stderr := runStderr(t, o, "image", "--offline", "--locked", "--engine", "buildkit", "--output", "oci:"+full)
	for _, re := range []string{
		`(?m)^\[reprobuild\] link hello-reprobuild [^\n]* \.\.\.$`,
		`(?m)^\[reprobuild\] link hello-reprobuild [^\n]*: done in `,
		`(?m)^\[reprobuild\] assemble image root[^\n]*: done in `,
	} {
		if !regexp.MustCompile(re).MatchString(stderr) {
			t.Errorf("BuildKit progress off a terminal lacks %s:\n%s", re, stderr)
		}
	}
	if strings.Contains(stderr, "\r") || strings.Contains(stderr, "#1 ") {
		t.Errorf("off a terminal, without -v, the progress is BuildKit's display, not step lines:\n%s", stderr)
	}
	want := platformImages(t, full)["linux-aarch64"]
	wantDigest, err := want.Digest()
	if err != nil {
		t.Fatal(err)
	}

	for _, p := range []string{"linux/arm64", "linux-aarch64"} {
		one := filepath.Join(t.TempDir(), "one")
		stdout, qerr := runStderr(t, o, "image", "-q", "--offline", "--locked", "--engine", "buildkit", "--platform", p, "--output", "oci:"+one)
		if got := strings.TrimSpace(stdout); got != wantDigest.String() {
			t.Errorf("--platform %s: %s, want the full build's arm64 image %s", p, got, wantDigest)
		}
		if qerr != "" {
			t.Errorf("-q with --engine buildkit printed on stderr:\n%s", qerr)
		}
	}
}
