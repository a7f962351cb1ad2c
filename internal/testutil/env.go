package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CIBuildkitDir is where .ci/buildkit.sh caches the pinned buildkitd and buildctl.
var CIBuildkitDir = filepath.Join("/root", ".cache", "reprobuild-ci", "buildkit-v0.34.2")

// InCI reports whether the tests run in CI, where a missing service is a failure.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable stops the test because a service it needs cannot run here: a failure in
// CI, a skip elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("CI=true and a required service is unavailable: %s", msg)
	}
	t.Skipf("skipping: %s (set CI=true to make this a failure)", msg)
}

// RequireRoot stops the test unless it runs as root (buildkitd with runc needs root).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root (uid is %d)", os.Geteuid())
	}
}

// LookBinary finds a service binary: the environment variable env if set, else PATH,
// else the .ci cache directory.
func LookBinary(name, env string) (string, error) {
	if env != "" {
		if p := os.Getenv(env); p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%s=%s: %w", env, p, err)
			}
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join(CIBuildkitDir, name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	hint := ""
	if env != "" {
		hint = fmt.Sprintf("set %s, ", env)
	}
	return "", fmt.Errorf("%s not found: %sput it on PATH, or run .ci/buildkit.sh to fill %s: %w",
		name, hint, CIBuildkitDir, errors.ErrUnsupported)
}

// RequireBinary returns the path of a binary or stops the test.
func RequireBinary(t testing.TB, name, env string) string {
	t.Helper()
	p, err := LookBinary(name, env)
	if err != nil {
		Unavailable(t, "%v", err)
	}
	return p
}
