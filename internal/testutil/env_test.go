package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUnescapeMount(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/tmp/a", "/tmp/a"},
		{`/tmp/with\040space`, "/tmp/with space"},
		{`/tmp/tab\011x`, "/tmp/tab\tx"},
		{`/tmp/bad\09x`, `/tmp/bad\09x`},
		{`/tmp/end\04`, `/tmp/end\04`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := unescapeMount(tc.in); got != tc.want {
				t.Errorf("unescapeMount(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLookBinaryPrefersEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "buildkitd")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REPROBUILD_TEST_BIN", p)
	got, err := LookBinary("no-such-binary-anywhere", "REPROBUILD_TEST_BIN")
	if err != nil || got != p {
		t.Fatalf("LookBinary = %q, %v; want %q", got, err, p)
	}
	t.Setenv("REPROBUILD_TEST_BIN", filepath.Join(t.TempDir(), "missing"))
	if _, err := LookBinary("no-such-binary-anywhere", "REPROBUILD_TEST_BIN"); err == nil {
		t.Error("LookBinary with a missing env path succeeded")
	}
	t.Setenv("REPROBUILD_TEST_BIN", "")
	if _, err := LookBinary("no-such-binary-anywhere", "REPROBUILD_TEST_BIN"); err == nil {
		t.Error("LookBinary found a binary that does not exist")
	}
}
