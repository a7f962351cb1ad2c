package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// runcRuns numbers the containers of one test process, so their ids never collide.
var runcRuns atomic.Int64

// RuncSpec writes runc's default config.json into bundle, replacing one an earlier run
// left there.
func RuncSpec(t testing.TB, ctx context.Context, runc, bundle string) {
	t.Helper()
	os.Remove(filepath.Join(bundle, "config.json"))
	spec := exec.CommandContext(ctx, runc, "spec")
	spec.Dir = bundle
	if out, err := spec.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
}

// RuncRun lets edit change the bundle's config.json (the whole document and its
// "process" object; the terminal is already off), runs the bundle with runc, deletes
// the container and returns its stdout. The test fails, showing both streams, when the
// container does not exit 0.
func RuncRun(t testing.TB, ctx context.Context, runc, bundle string, edit func(spec, process map[string]any)) string {
	t.Helper()
	cfgPath := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("%s: %v", cfgPath, err)
	}
	proc, ok := spec["process"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no process object", cfgPath)
	}
	proc["terminal"] = false
	edit(spec, proc)
	if raw, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("reprobuild-test-%d-%d", os.Getpid(), runcRuns.Add(1))
	cmd := exec.CommandContext(ctx, runc, "run", "--bundle", bundle, id)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	exec.Command(runc, "delete", "-f", id).Run()
	if err != nil {
		t.Fatalf("runc run %v: %v\nstdout:\n%s\nstderr:\n%s", proc["args"], err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
