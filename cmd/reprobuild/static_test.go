package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/builder"
)

// TestDefaultBuildIsStatic builds the CLI as `go install ./cmd/reprobuild` does, with
// the environment's defaults (cgo on where a C compiler is installed), and checks the
// BuildKit engine accepts the binary as its linker.
func TestDefaultBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "reprobuild")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/reprobuild: %v\n%s", err, out)
	}
	cgo, _ := exec.Command("go", "env", "CGO_ENABLED").Output()
	if _, err := builder.LinkerDir(bin); err != nil {
		t.Errorf("with CGO_ENABLED=%s: %v", cgo, err)
	}
}
