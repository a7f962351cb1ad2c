package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVMOutputNotWithBuildKit: a VM output with the buildkit engine is a clear error
// before anything is built, and nothing is written.
func TestVMOutputNotWithBuildKit(t *testing.T) {
	dir := t.TempDir()
	for _, out := range []string{"vm:" + filepath.Join(dir, "d.qcow2"), "kubevirt:" + filepath.Join(dir, "cd")} {
		_, _, err := run(t, "image", "--engine", "buildkit", "-f", filepath.Join(dir, "none.hcl"), "--output", out)
		if err == nil || !strings.Contains(err.Error(), "not supported yet") {
			t.Fatalf("%s: error %v, want \"not supported yet\"", out, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %s behind", ents[0].Name())
	}
}
