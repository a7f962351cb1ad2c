package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/record"
)

// copyRecipe copies builder/testdata/audit/NAME (recipe, and lock when committed) into a
// temporary directory and returns the recipe path.
func copyRecipe(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "builder", "testdata", "audit", name)
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "reprobuild.hcl")
}

func TestAuditCommand(t *testing.T) {
	for _, tc := range []struct {
		name, recipe string
		json         bool
		wantExit     int
		wantOut      []string
	}{
		{"clean", "clean", false, 0, []string{"3. Threats (0)", `level "bitwise" is met`}},
		{"clean json", "clean", true, 0, []string{`"level_met": true`}},
		{"risky without lock", "risky", false, 4, []string{record.ThreatLockMissing, record.ThreatBaseUnpinned, record.ThreatGPUWithoutCUDA, "is NOT met"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"audit", "-f", copyRecipe(t, tc.recipe)}
			if tc.json {
				args = append(args, "--json")
			}
			out, _, err := run(t, args...)
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tc.wantExit {
				t.Fatalf("exit %d (%v), want %d\n%s", code, err, tc.wantExit, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.json {
				var rep record.Report
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Errorf("--json output does not decode: %v", err)
				}
			}
			if err != nil && !strings.Contains(err.Error(), "not met") {
				t.Errorf("error %q does not say the level is not met", err)
			}
		})
	}
}

func TestAuditCommandErrors(t *testing.T) {
	_, _, err := run(t, "audit", "-f", filepath.Join(t.TempDir(), "missing.hcl"))
	if err == nil || !strings.Contains(err.Error(), "missing.hcl") {
		t.Errorf("missing recipe: %v", err)
	}
	if code := exitCode(err); code != exitError {
		t.Errorf("a missing recipe exits %d, want %d", code, exitError)
	}
	var ce *codeError
	if errors.As(err, &ce) {
		t.Errorf("a missing recipe is an error, not a level verdict: %v", err)
	}
}
