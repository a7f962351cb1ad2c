package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
)

// Buildkitd is a buildkitd running as root with the native snapshotter and the runc
// worker, listening on a unix socket in a temporary directory.
type Buildkitd struct {
	addr     string
	root     string
	svc      *service
	buildctl string
}

// Addr is the daemon address ("unix:///.../buildkitd.sock") for client.New or --addr.
func (b *Buildkitd) Addr() string { return b.addr }

// Root is the daemon's state directory.
func (b *Buildkitd) Root() string { return b.root }

// Logs returns what buildkitd has printed so far.
func (b *Buildkitd) Logs() string { return b.svc.logs.String() }

// Buildctl returns the path of the buildctl that matches this daemon, or "" when none
// was found.
func (b *Buildkitd) Buildctl() string { return b.buildctl }

// Client connects to the daemon; the connection is closed when the test ends.
func (b *Buildkitd) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(context.Background(), b.addr)
	if err != nil {
		t.Fatalf("connecting to buildkitd at %s: %v", b.addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// BuildkitdOption configures StartBuildkitd.
type BuildkitdOption func(*buildkitdOptions)

type buildkitdOptions struct {
	httpRegistries []string
}

// WithHTTPRegistry lets the daemon pull from and push to host over plain HTTP (as
// needed for a Registry from StartRegistry).
func WithHTTPRegistry(host string) BuildkitdOption {
	return func(o *buildkitdOptions) { o.httpRegistries = append(o.httpRegistries, host) }
}

// StartBuildkitd runs buildkitd (REPROBUILD_BUILDKITD, PATH, or the .ci cache) until the
// test ends; it then stops the daemon, unmounts what it left and removes its root.
func StartBuildkitd(t testing.TB, opts ...BuildkitdOption) *Buildkitd {
	t.Helper()
	var o buildkitdOptions
	for _, opt := range opts {
		opt(&o)
	}
	RequireRoot(t)
	bin := RequireBinary(t, "buildkitd", "REPROBUILD_BUILDKITD")
	if _, err := exec.LookPath("runc"); err != nil {
		Unavailable(t, "runc not found (apt-get install -y runc): %v", err)
	}
	buildctl, _ := LookBinary("buildctl", "REPROBUILD_BUILDCTL")

	// A short directory of our own: unix socket paths are limited to 108 bytes, and
	// t.TempDir cannot remove a root that still has mounts.
	dir, err := os.MkdirTemp("", "rb-bk-")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	sock := filepath.Join(dir, "buildkitd.sock")
	var cfg strings.Builder
	cfg.WriteString("[worker.oci]\n  enabled = true\n  snapshotter = \"native\"\n  gc = false\n")
	cfg.WriteString("[worker.containerd]\n  enabled = false\n")
	for _, h := range o.httpRegistries {
		fmt.Fprintf(&cfg, "[registry.%q]\n  http = true\n", h)
	}
	cfgPath := filepath.Join(dir, "buildkitd.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "unix://" + sock
	cmd := exec.Command(bin, "--root", root, "--addr", addr, "--config", cfgPath)
	svc, err := startService("buildkitd", cmd)
	if err != nil {
		os.RemoveAll(dir)
		Unavailable(t, "starting %s: %v", bin, err)
	}
	b := &Buildkitd{addr: addr, root: root, svc: svc, buildctl: buildctl}
	t.Cleanup(func() {
		svc.dumpOnFailure(t)
		svc.stop()
		if err := unmountUnder(dir); err != nil {
			t.Logf("unmounting leftovers under %s: %v", dir, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("removing buildkitd root: %v", err)
		}
	})
	if err := waitBuildkitd(svc, addr, 60*time.Second); err != nil {
		t.Logf("buildkitd output:\n%s", svc.logs.String())
		Unavailable(t, "buildkitd did not become ready at %s: %v", addr, err)
	}
	t.Logf("buildkitd %s ready at %s:\n%s", bin, addr, svc.firstLines(8))
	return b
}

// waitBuildkitd polls the daemon until it lists a worker, it exits, or the limit passes.
func waitBuildkitd(svc *service, addr string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var last error
	for {
		if svc.exited() {
			return fmt.Errorf("process exited: %v", svc.err)
		}
		if _, err := os.Stat(strings.TrimPrefix(addr, "unix://")); err == nil {
			c, err := client.New(ctx, addr)
			if err == nil {
				ws, err := c.ListWorkers(ctx)
				c.Close()
				if err == nil && len(ws) > 0 {
					return nil
				}
				last = fmt.Errorf("listing workers: %v (%d workers)", err, len(ws))
			} else {
				last = err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
