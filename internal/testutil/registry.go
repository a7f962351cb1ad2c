package testutil

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Registry is a docker-registry (the reference distribution server) on 127.0.0.1,
// speaking plain HTTP, with its storage in a temporary directory.
type Registry struct {
	host string
	svc  *service
}

// Host is "127.0.0.1:PORT", the registry part of an image reference.
func (r *Registry) Host() string { return r.host }

// Logs returns what the registry has printed so far.
func (r *Registry) Logs() string { return r.svc.logs.String() }

// StartRegistry runs /usr/bin/docker-registry (or REPROBUILD_REGISTRY, or
// docker-registry on PATH) until the test ends.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	bin := os.Getenv("REPROBUILD_REGISTRY")
	if bin == "" {
		p, err := exec.LookPath("docker-registry")
		if err != nil {
			Unavailable(t, "docker-registry not found (apt-get install -y docker-registry): %v", err)
		}
		bin = p
	}
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		Unavailable(t, "no free port on 127.0.0.1: %v", err)
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), host)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	svc, err := startService("docker-registry", exec.Command(bin, "serve", cfgPath))
	if err != nil {
		Unavailable(t, "starting %s: %v", bin, err)
	}
	r := &Registry{host: host, svc: svc}
	t.Cleanup(func() {
		svc.dumpOnFailure(t)
		svc.stop()
	})
	if err := waitHTTP(svc, "http://"+host+"/v2/", 30*time.Second); err != nil {
		svc.stop()
		t.Logf("docker-registry output:\n%s", svc.logs.String())
		Unavailable(t, "docker-registry did not become ready on %s: %v", host, err)
	}
	t.Logf("docker-registry %s ready on %s:\n%s", bin, host, svc.firstLines(3))
	return r
}

// freePort asks the kernel for an unused port. Another process could take it before the
// service binds it; a failed start then says so plainly.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200, the service exits, or the limit passes.
func waitHTTP(svc *service, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if svc.exited() {
			return fmt.Errorf("process exited: %v", svc.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
