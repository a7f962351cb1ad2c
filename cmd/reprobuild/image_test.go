package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/lock"
)

// TestImageFlagErrors checks the builder's typed errors reach the user in the image
// command's flags.
func TestImageFlagErrors(t *testing.T) {
	recipe, _, _ := writeProject(t)
	out := filepath.Join(t.TempDir(), "x")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad output", []string{"image", "-f", recipe, "--offline", "--output", "tar:" + out}, `--output "tar:`},
		{"output without destination", []string{"image", "-f", recipe, "--offline", "--output", "oci"}, `--output "oci": want oci:DIR or docker:FILE`},
		{"push without tags", []string{"image", "-f", recipe, "--offline", "--push"}, "--push needs --tag REF or image.tags"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, tc.args...)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to start with %q", err, tc.want)
			}
		})
	}
	t.Run("locked without a lock", func(t *testing.T) {
		if err := os.Remove(filepath.Join(filepath.Dir(recipe), lock.Filename)); err != nil {
			t.Fatal(err)
		}
		_, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--output", "oci:"+out)
		if err == nil || !strings.HasPrefix(err.Error(), "--locked: ") || !strings.Contains(err.Error(), "reprobuild lock -f "+recipe) || exitCode(err) != exitStaleLock {
			t.Errorf("error = %v, want a --locked error with the lock hint, exit 3", err)
		}
		// --frozen uses the lock as it is, and there is none.
		_, _, err = run(t, "image", "-f", recipe, "--offline", "--frozen", "--output", "oci:"+out)
		if err == nil || !strings.Contains(err.Error(), "no lock at") {
			t.Errorf("--frozen without a lock: %v, want it to say there is no lock", err)
		}
	})
}
