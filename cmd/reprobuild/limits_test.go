package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/install"
)

// TestMaxPackageSizeFlag: the per-package unpacked size cap is settable from the CLI,
// and a package over it is refused with nothing written at the output.
func TestMaxPackageSizeFlag(t *testing.T) {
	recipe, rec, _ := writeProject(t)
	cache := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	_, _, err := run(t, "image", "-f", recipe, "--frozen", "--offline", "--cache-dir", cache, "--output", "oci:"+out, "--max-package-size", "600")
	var se *install.SizeLimitError
	if !errors.As(err, &se) || se.Limit != 600 || !strings.Contains(err.Error(), rec.Fn) || !strings.Contains(err.Error(), "--max-package-size") {
		t.Fatalf("err = %v, want a size limit error naming %s and the flag", err, rec.Fn)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("output written despite the refusal")
	}
	if _, _, err := run(t, "image", "-f", recipe, "--frozen", "--offline", "--cache-dir", cache, "--output", "oci:"+out, "--max-package-size", "1000000"); err != nil {
		t.Fatalf("within the cap: %v", err)
	}
}
