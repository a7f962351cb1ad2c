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

// TestNetworkFlags: the network limits reach the channel client from the CLI.
func TestNetworkFlags(t *testing.T) {
	recipe, _, chDir := writeProject(t)
	for _, sub := range []string{"linux-64", "noarch"} {
		if err := os.MkdirAll(filepath.Join(chDir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(chDir, sub, "repodata.json"), []byte(`{"info": {"subdir": "`+sub+`"}, "packages": {}, "packages.conda": {}}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(filepath.Dir(recipe), "reprobuild.lock"))
	_, _, err := run(t, "lock", "-f", recipe, "--offline", "--cache-dir", t.TempDir(), "--max-repodata-size", "10")
	if err == nil || !strings.Contains(err.Error(), "exceeds 10 bytes") || !strings.Contains(err.Error(), "--max-repodata-size") {
		t.Errorf("err = %v, want the repodata size limit of the flag", err)
	}
	_, _, err = run(t, "lock", "-f", recipe, "--offline", "--cache-dir", t.TempDir(), "--net-min-rate", "-5")
	if err == nil || !strings.Contains(err.Error(), "must not be negative") {
		t.Errorf("err = %v, want a refused negative limit", err)
	}
}
