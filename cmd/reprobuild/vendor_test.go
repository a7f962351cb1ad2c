package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
)

// TestVendorCommand runs `reprobuild vendor` on a recipe whose channel is a relative
// directory holding a real package, and checks the vendored channel and the exit paths.
func TestVendorCommand(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../testdata/conda/packages/real-world/zlib-1.2.11-h7b6447c_3.conda")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "chan", "linux-64"), 0o755)
	os.WriteFile(filepath.Join(dir, "chan", "linux-64", "zlib-1.2.11-h7b6447c_3.conda"), data, 0o644)
	recipe := filepath.Join(dir, "reprobuild.hcl")
	os.WriteFile(recipe, []byte("channel \"local\" { url = \"./chan\" }\n"), 0o644)
	r, err := builder.LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	canon := r.Channels[0].URL
	l := builder.NewLock(r)
	l.Targets = []lock.Target{{Platform: "linux-64", Packages: []conda.PackageRecord{{
		Name: "zlib", Version: "1.2.11", Build: "h7b6447c_3", BuildNumber: 3, Subdir: "linux-64",
		Fn: "zlib-1.2.11-h7b6447c_3.conda", URL: canon + "/linux-64/zlib-1.2.11-h7b6447c_3.conda",
		Channel: canon, SHA256: hex.EncodeToString(h[:]),
	}}}}
	if err := builder.WriteLock(r, l); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) (string, string, error) {
		cmd := newRootCommand()
		var out, errb bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errb)
		cmd.SetArgs(args)
		err := cmd.Execute()
		return out.String(), errb.String(), err
	}
	out := filepath.Join(dir, "vendored")
	stdout, stderr, err := run("vendor", "-f", recipe, "--cache-dir", filepath.Join(dir, "cache"), "--offline", out)
	if err != nil {
		t.Fatalf("vendor: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "vendored 1 packages") || !strings.Contains(stderr, "fetched zlib-1.2.11-h7b6447c_3") {
		t.Fatalf("stdout %q, stderr %q", stdout, stderr)
	}
	got, err := os.ReadFile(filepath.Join(out, "linux-64", "zlib-1.2.11-h7b6447c_3.conda"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("vendored file: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "linux-64", "repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	rd, err := conda.ParseRepodata(raw, canon)
	if err != nil || len(rd.Packages) != 1 || rd.Packages[0].SHA256 != hex.EncodeToString(h[:]) {
		t.Fatalf("vendored repodata: %+v, %v", rd, err)
	}

	if _, _, err := run("vendor", "-f", recipe); err == nil {
		t.Fatal("vendor without DIR succeeded")
	}
	os.Remove(builder.LockPath(r))
	if _, _, err := run("vendor", "-f", recipe, "--cache-dir", filepath.Join(dir, "cache"), out); err == nil || !strings.Contains(err.Error(), "reprobuild lock") {
		t.Fatalf("vendor without a lock: %v", err)
	}
}
