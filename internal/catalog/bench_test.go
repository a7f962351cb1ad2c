package catalog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

// idleBuilder is for benchmarks that only read: the worker pool is never started, so
// nothing is built.
type idleBuilder struct{}

func (idleBuilder) Engine() string { return "embedded" }
func (idleBuilder) Build(context.Context, BuildRequest) (*BuildResult, error) {
	return nil, errors.New("this benchmark does not build")
}

// seededServer is a server over SQLite with n environments in namespace lab, each with
// one version that has a lock.
func seededServer(b *testing.B, n int, db string) (*Server, string) {
	b.Helper()
	dir := b.TempDir()
	// The real clock, as serve has: the tests' fixedClock advances a second per call,
	// which expired the principal cache (10 s) every few requests and made nearly every
	// request hash and look up its token in the database.
	s, err := New(context.Background(), Options{DataDir: dir, DB: db, Builder: idleBuilder{}, Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	lock := "version 1\nrecipe-hash aa\n\ntarget linux-64\n  package a 1.0 h0\n    subdir linux-64\n"
	for i := range n {
		v, err := s.store.CreateVersion(context.Background(), "lab", fmt.Sprintf("env-%04d", i), "reprobuild.hcl", okRecipe, "bench", "embedded")
		if err != nil {
			b.Fatal(err)
		}
		bd := v.Builds[0]
		bd.Status, bd.Digest = StatusSucceeded, "sha256:"+strings.Repeat("ab", 32)
		if err := s.store.finishBuild(context.Background(), v.ID, bd, lock, "", nil); err != nil {
			b.Fatal(err)
		}
	}
	tok, err := os.ReadFile(s.AdminTokenPath)
	if err != nil {
		b.Fatal(err)
	}
	return s, strings.TrimSpace(string(tok))
}

// BenchmarkEnvironmentList renders the environment page with 1,000 environments, server
// side (query and template), through the HTTP handler. Target: <= 50 ms per render.
func BenchmarkEnvironmentList(b *testing.B) { forEachBenchDB(b, benchEnvironmentList) }

// forEachBenchDB runs a benchmark on SQLite and on a PostgreSQL started for it.
func forEachBenchDB(b *testing.B, f func(b *testing.B, db string)) {
	b.Run("sqlite", func(b *testing.B) { f(b, "") })
	b.Run("postgres", func(b *testing.B) {
		pg := testutil.StartPostgres(b)
		f(b, pg.NewDatabase(b))
	})
}

func benchEnvironmentList(b *testing.B, db string) {
	s, tok := seededServer(b, 1000, db)
	h := s.Handler()
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: tok})
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "env-0999") {
			b.Fatalf("list: %d", w.Code)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/render")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/render")
}

// BenchmarkAPIReadConcurrent is the loopback load test of API reads: 50 clients each
// send 40 GETs of one version through a real listener. Two loads:
//
//   - saturating: each client sends its next request as soon as the last one answered
//     (a closed loop). Latency is then mostly queueing: by Little's law the mean is 50
//     divided by the throughput the process gets from the machine, whatever the server
//     does per request.
//   - bounded: each client sends one request every 100 ms (500 requests/s in all, an
//     open loop, staggered starts); latency counts from when the request was due, so a
//     client that fell behind is charged for it.
//
// Each reports the p50 and p99 of all requests of the last run as the clients saw them,
// and the same inside the server's handler (from the handler's start to its return), so
// that time spent waiting for a core (the machine is shared) can be told apart from the
// server's own work. Target: p99 <= 5 ms.
//
// The clients run in this process, or ("external") in a child process (this test
// binary, see TestMain), so that the server's process does not also run them. The
// "floor" runs serve the same response from a handler that does nothing else (no token,
// no lookup): the latency the machine gives any Go HTTP server at that load.
func BenchmarkAPIReadConcurrent(b *testing.B) {
	for _, load := range []struct {
		name     string
		interval time.Duration
	}{{"saturating", 0}, {"bounded", 100 * time.Millisecond}} {
		b.Run(load.name, func(b *testing.B) {
			forEachBenchDB(b, func(b *testing.B, db string) { benchAPIRead(b, db, load.interval, false) })
			b.Run("sqlite-external", func(b *testing.B) { benchAPIRead(b, "", load.interval, true) })
			b.Run("floor", func(b *testing.B) { benchAPIRead(b, "floor", load.interval, false) })
		})
	}
}

const (
	loadClients, loadEach = 50, 40
	// loadGenEnv makes the test binary a load generator (see TestMain): URL, token and
	// interval in nanoseconds separated by spaces.
	loadGenEnv = "REPROBUILD_CATALOG_LOADGEN"
)

// TestMain runs the load generator instead of the tests in a child process started by
// BenchmarkAPIReadConcurrent.
func TestMain(m *testing.M) {
	if spec := os.Getenv(loadGenEnv); spec != "" {
		os.Exit(loadGenerator(spec))
	}
	os.Exit(m.Run())
}

// loadGenerator waits for "go" lines on stdin; for each it runs one load and writes the
// latencies (nanoseconds, one line, space separated) to stdout.
func loadGenerator(spec string) int {
	f := strings.Fields(spec)
	if len(f) != 3 {
		fmt.Fprintf(os.Stderr, "load generator: %s=%q: want URL TOKEN INTERVAL-NS\n", loadGenEnv, spec)
		return 2
	}
	ns, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load generator:", err)
		return 2
	}
	url, tok, interval := f[0], f[1], time.Duration(ns)
	lg := newLoad(url, tok, interval)
	lg.warm()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		lat, err := lg.run()
		if err != nil {
			fmt.Fprintln(os.Stderr, "load generator:", err)
			return 1
		}
		var b strings.Builder
		for i, d := range lat {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatInt(int64(d), 10))
		}
		fmt.Println(b.String())
	}
	return 0
}

type load struct {
	url, tok string
	interval time.Duration
	client   *http.Client
}

func newLoad(url, tok string, interval time.Duration) *load {
	tr := &http.Transport{MaxIdleConnsPerHost: loadClients, MaxConnsPerHost: loadClients}
	return &load{url: url, tok: tok, interval: interval, client: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (l *load) get() error {
	req, _ := http.NewRequest("GET", l.url, nil)
	req.Header.Set("Authorization", "Bearer "+l.tok)
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	_, err = io_copy(resp)
	if resp.StatusCode != 200 && err == nil {
		err = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return err
}

// warm opens the connections (and fills the caches) before measuring.
func (l *load) warm() {
	var wg sync.WaitGroup
	for range loadClients {
		wg.Go(func() { l.get() })
	}
	wg.Wait()
}

// run sends one load and returns every request's latency.
func (l *load) run() ([]time.Duration, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed error
	lat := make([]time.Duration, 0, loadClients*loadEach)
	start := time.Now()
	for c := range loadClients {
		wg.Go(func() {
			mine := make([]time.Duration, 0, loadEach)
			for i := range loadEach {
				due := time.Now()
				if l.interval > 0 {
					due = start.Add(time.Duration(c)*l.interval/loadClients + time.Duration(i)*l.interval)
					time.Sleep(time.Until(due))
				}
				err := l.get()
				mine = append(mine, time.Since(due))
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat, failed
}

func benchAPIRead(b *testing.B, db string, interval time.Duration, external bool) {
	var h http.Handler
	var tok string
	if db == "floor" {
		s, t := seededServer(b, 1, "")
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/api/v1/namespaces/lab/environments/env-0000/versions/1", nil)
		r.Header.Set("Authorization", "Bearer "+t)
		s.Handler().ServeHTTP(w, r)
		body := w.Body.Bytes()
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		})
	} else {
		var s *Server
		s, tok = seededServer(b, 1000, db)
		h = s.Handler()
	}
	var smu sync.Mutex
	var server []time.Duration
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(t0)
		smu.Lock()
		server = append(server, d)
		smu.Unlock()
	}))
	defer hs.Close()
	url := hs.URL + "/api/v1/namespaces/lab/environments/env-0500/versions/1"
	var run func() ([]time.Duration, error)
	if external {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", loadGenEnv, url, tok, int64(interval)))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { stdin.Close(); cmd.Wait() }()
		out := bufio.NewReader(stdout)
		run = func() ([]time.Duration, error) {
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				return nil, err
			}
			line, err := out.ReadString('\n')
			if err != nil {
				return nil, fmt.Errorf("load generator: %w", err)
			}
			var lat []time.Duration
			for _, f := range strings.Fields(line) {
				n, err := strconv.ParseInt(f, 10, 64)
				if err != nil {
					return nil, err
				}
				lat = append(lat, time.Duration(n))
			}
			return lat, nil
		}
	} else {
		lg := newLoad(url, tok, interval)
		defer lg.client.CloseIdleConnections()
		lg.warm()
		run = lg.run
	}
	var lat []time.Duration
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		smu.Lock()
		server = server[:0]
		smu.Unlock()
		var err error
		if lat, err = run(); err != nil {
			b.Fatal(err)
		}
	}
	// CPU of this process only: with external clients, the server's alone.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*loadClients*loadEach), "cpu-us/request")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	smu.Lock()
	defer smu.Unlock()
	slices.Sort(server)
	b.ReportMetric(float64(server[len(server)/2].Microseconds())/1000, "server-p50-ms")
	b.ReportMetric(float64(server[len(server)*99/100].Microseconds())/1000, "server-p99-ms")
}
