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
	t.Run("frozen without a lock", func(t *testing.T) {
		if err := os.Remove(filepath.Join(filepath.Dir(recipe), lock.Filename)); err != nil {
			t.Fatal(err)
		}
		_, _, err := run(t, "image", "-f", recipe, "--offline", "--frozen", "--output", "oci:"+out)
		if err == nil || !strings.HasPrefix(err.Error(), "--frozen: ") || !strings.Contains(err.Error(), "reprobuild lock -f "+recipe) {
			t.Errorf("error = %v, want a --frozen error with the lock hint", err)
		}
	})
}
