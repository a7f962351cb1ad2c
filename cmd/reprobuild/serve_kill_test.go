package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/catalog"
)

// stallingChannel serves the examples channel over HTTP on 127.0.0.1 but holds every
// package download until released, so a build can be caught half way.
type stallingChannel struct {
	URL      string
	hit      chan string
	release  chan struct{}
	hitOnce  sync.Once
	relOnce  sync.Once
	listener net.Listener
}

func startStallingChannel(t *testing.T) *stallingChannel {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sc := &stallingChannel{URL: "http://" + ln.Addr().String(), hit: make(chan string, 1), release: make(chan struct{}), listener: ln}
	files := http.FileServer(http.Dir(filepath.Join(examplesDir(t), "channel")))
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".conda") || strings.HasSuffix(r.URL.Path, ".tar.bz2") {
			sc.hitOnce.Do(func() { sc.hit <- r.URL.Path })
			select {
			case <-sc.release:
			case <-r.Context().Done():
				return
			}
		}
		files.ServeHTTP(w, r)
	})}
	go hs.Serve(ln)
	t.Cleanup(func() {
		sc.Release()
		hs.Close()
	})
	return sc
}

func (sc *stallingChannel) Release() { sc.relOnce.Do(func() { close(sc.release) }) }

// serveProcess runs `reprobuild serve` as a child process (this test binary, see
// TestMain) and returns once it listens.
type serveProcess struct {
	cmd    *exec.Cmd
	URL    string
	stderr *strings.Builder
	mu     *sync.Mutex
	done   chan struct{}
}

func startServeProcess(t *testing.T, args ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "REPROBUILD_TEST_AS_CLI=1")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, stderr: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			if a, ok := strings.CutPrefix(line, "serve: listening on "); ok {
				addr <- strings.Fields(a)[0]
			}
		}
		io.Copy(io.Discard, pipe)
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	select {
	case a := <-addr:
		p.URL = a
	case <-p.done:
		t.Fatalf("serve exited before listening:\n%s", p.Stderr())
	case <-time.After(5 * time.Minute):
		t.Fatalf("serve did not listen within 5 minutes:\n%s", p.Stderr())
	}
	return p
}

func (p *serveProcess) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func TestCatalogKillMidBuild(t *testing.T) {
	ch := startStallingChannel(t)
	data := t.TempDir()
	ex := examplesDir(t)
	args := []string{"--data", data, "--cache-dir", t.TempDir(), "--allow", ch.URL, "--allow", "oci:" + filepath.Join(ex, "bases"), "--workers", "1"}
	p := startServeProcess(t, args...)
	tok, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	c := &testCatalog{URL: p.URL, Admin: strings.TrimSpace(string(tok))}
	recipe := quickstartRecipe(t, ch.URL)
	if code := c.call(t, c.Admin, "POST", "/api/v1/namespaces/lab/environments/crash/versions", map[string]string{"recipe": recipe}, nil); code != 202 {
		t.Fatalf("submit: %d", code)
	}
	// The build is under way once the server asks the channel for a package.
	select {
	case path := <-ch.hit:
		t.Logf("build is downloading %s: killing the server", path)
	case <-time.After(10 * time.Minute):
		t.Fatalf("the build never fetched a package:\n%s", p.Stderr())
	}
	var v catalog.Version
	c.call(t, c.Admin, "GET", "/api/v1/namespaces/lab/environments/crash/versions/1", nil, &v)
	if v.Status != catalog.StatusBuilding {
		t.Fatalf("status mid-build %q, want building", v.Status)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done

	// Restarted, the server marks the build failed and its database is intact.
	p = startServeProcess(t, args...)
	c.URL = p.URL
	if !strings.Contains(p.Stderr(), "1 builds were interrupted") {
		t.Errorf("restart did not report the interrupted build:\n%s", p.Stderr())
	}
	c.call(t, c.Admin, "GET", "/api/v1/namespaces/lab/environments/crash/versions/1", nil, &v)
	if v.Status != catalog.StatusFailed || !strings.Contains(v.Builds[0].Error, "interrupted") {
		t.Errorf("after restart: status %s, build %+v", v.Status, v.Builds[0])
	}
	if entries, _ := os.ReadDir(filepath.Join(data, "builds")); len(entries) != 0 {
		t.Errorf("the killed build's partial work is still in %s: %v", filepath.Join(data, "builds"), entries)
	}
	st, err := catalog.OpenStore(context.Background(), "", data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.IntegrityCheck(context.Background()); err != nil {
		t.Errorf("integrity check after the kill: %v", err)
	}
	st.Close()

	// And it still builds: release the channel and submit again.
	ch.Release()
	if code := c.call(t, c.Admin, "POST", "/api/v1/namespaces/lab/environments/crash/versions", map[string]string{"recipe": recipe}, nil); code != 202 {
		t.Fatalf("submit after restart: %d", code)
	}
	v = c.waitVersion(t, "lab", "crash", 2)
	if v.Status != catalog.StatusSucceeded {
		t.Errorf("version 2 after restart: %s %s\n%s", v.Status, v.Builds[0].Error, p.Stderr())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		t.Errorf("serve did not stop on SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("serve exited %d on SIGTERM:\n%s", code, p.Stderr())
	}
}
