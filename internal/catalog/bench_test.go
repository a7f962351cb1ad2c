package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
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
	s, err := New(context.Background(), Options{DataDir: dir, DB: db, Builder: idleBuilder{}, Now: fixedClock()})
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

// BenchmarkAPIReadConcurrent is a bounded loopback load test: 50 clients each send 40
// GETs of one version through a real listener; it reports the p50 and p99 latency of all
// requests of the last run. Target: p99 <= 5 ms.
func BenchmarkAPIReadConcurrent(b *testing.B) { forEachBenchDB(b, benchAPIReadConcurrent) }

func benchAPIReadConcurrent(b *testing.B, db string) {
	s, tok := seededServer(b, 1000, db)
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	const clients, each = 50, 40
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	url := hs.URL + "/api/v1/namespaces/lab/environments/env-0500/versions/1"
	var lat []time.Duration
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		lat = lat[:0]
		var mu sync.Mutex
		var wg sync.WaitGroup
		var failed error
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := make([]time.Duration, 0, each)
				for range each {
					req, _ := http.NewRequest("GET", url, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					t0 := time.Now()
					resp, err := client.Do(req)
					if err == nil {
						_, err = io_copy(resp)
						if resp.StatusCode != 200 && err == nil {
							err = fmt.Errorf("HTTP %d", resp.StatusCode)
						}
					}
					mine = append(mine, time.Since(t0))
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
			}()
		}
		wg.Wait()
		if failed != nil {
			b.Fatal(failed)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*clients*each), "cpu-us/request")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat)), "requests/run")
}
