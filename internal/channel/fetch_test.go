package channel

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// testClient is a client with short waits: failures move on quickly, but nothing in the
// tests asserts a duration.
func testClient(t testing.TB, cache string, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithCacheDir(cache), WithRetries(1, time.Millisecond), WithIdleTimeout(time.Second)}
	c, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return hexSHA(data)
}

func TestFetchSurvivesMisbehavingPrimary(t *testing.T) {
	pkgs := realPackages(t)
	for _, b := range []behaviour{serve500, serve404, serveStall, serveTruncate, serveWrong, serveNoHeader, "down"} {
		t.Run(string(b), func(t *testing.T) {
			srv := newChannelServer(t)
			canon := "https://conda.example.org/forge"
			primary := srv.URL + "/primary"
			recs := srv.publish("primary", canon, pkgs)
			srv.publish("mirror", canon, pkgs)
			if b == "down" {
				dead := httptest.NewServer(http.NotFoundHandler())
				primary = dead.URL + "/primary"
				dead.Close()
			} else {
				for _, r := range recs {
					srv.set("/primary/linux-64/"+r.Fn, b)
				}
			}
			ch := Channel{Name: "forge", URL: canon, Location: primary, Mirrors: []string{srv.URL + "/mirror"}}
			var ds []Download
			for _, r := range recs {
				ds = append(ds, ch.Download(r))
			}
			c := testClient(t, t.TempDir())
			paths, err := c.Fetch(context.Background(), ds)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			for i, p := range paths {
				if got := fileSHA(t, p); got != recs[i].SHA256 {
					t.Errorf("%s: cached sha256 %s, want %s", recs[i].Fn, got, recs[i].SHA256)
				}
				// A loaded machine may retry the mirror too, so only its use is asserted.
				if srv.count("/mirror/linux-64/"+recs[i].Fn) == 0 {
					t.Errorf("%s: the mirror was never asked", recs[i].Fn)
				}
			}
		})
	}
}

func TestFetchFailuresAreReportedAndNothingUnverifiedIsCached(t *testing.T) {
	pkg := realPackages(t)[0]
	tests := []struct {
		behave  behaviour
		wantAs  any
		wantMsg []string
	}{
		{behave: serveWrong, wantAs: new(*HashMismatchError), wantMsg: []string{pkg.rec.Name, pkg.rec.SHA256, "sha256 mismatch", "/linux-64/" + pkg.rec.Fn}},
		{behave: serve500, wantAs: new(*StatusError), wantMsg: []string{"HTTP 500", pkg.rec.Name}},
		{behave: serve404, wantAs: new(*StatusError), wantMsg: []string{"HTTP 404"}},
		{behave: serveTruncate, wantMsg: []string{"truncated"}},
		{behave: serveStall, wantMsg: []string{"stalled"}},
		{behave: serveNoHeader, wantMsg: []string{"no response within"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.behave), func(t *testing.T) {
			srv := newChannelServer(t)
			recs := srv.publish("c", srv.URL+"/c", []testPackage{pkg})
			srv.set("/c/linux-64/"+pkg.rec.Fn, tt.behave)
			cache := t.TempDir()
			c := testClient(t, cache)
			_, err := c.Fetch(context.Background(), []Download{{Record: recs[0]}})
			if err == nil {
				t.Fatal("Fetch succeeded against a broken server")
			}
			if tt.wantAs != nil && !errors.As(err, tt.wantAs) {
				t.Errorf("error %v is not %T", err, tt.wantAs)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if _, ok := c.Store().Path(pkg.rec.SHA256); ok {
				t.Error("an unverified download entered the cache")
			}
			objs, _ := filepath.Glob(filepath.Join(cache, "cas", "sha256", "*", "*"))
			if len(objs) != 0 {
				t.Errorf("cache holds %v", objs)
			}
		})
	}
}

func TestFetchMD5Mismatch(t *testing.T) {
	pkg := realPackages(t)[0]
	srv := newChannelServer(t)
	recs := srv.publish("c", srv.URL+"/c", []testPackage{pkg})
	recs[0].MD5 = strings.Repeat("0", 32)
	c := testClient(t, t.TempDir())
	_, err := c.Fetch(context.Background(), []Download{{Record: recs[0]}})
	var he *HashMismatchError
	if !errors.As(err, &he) || he.Algorithm != "md5" || he.Actual != pkg.rec.MD5 {
		t.Fatalf("err = %v", err)
	}
}

func TestFetchRetriesTransientFailureOnSameURL(t *testing.T) {
	pkg := realPackages(t)[0]
	srv := newChannelServer(t)
	recs := srv.publish("c", srv.URL+"/c", []testPackage{pkg})
	path := "/c/linux-64/" + pkg.rec.Fn
	srv.setOnce(path, serve500)
	c := testClient(t, t.TempDir())
	if _, err := c.Fetch(context.Background(), []Download{{Record: recs[0]}}); err != nil {
		t.Fatal(err)
	}
	if n := srv.count(path); n != 2 {
		t.Fatalf("requests = %d, want 2 (a failure, then a retry)", n)
	}
}

func TestWarmFetchMakesNoRequests(t *testing.T) {
	pkgs := append(realPackages(t), generatedPackages(20, 4096)...)
	srv := newChannelServer(t)
	recs := srv.publish("c", srv.URL+"/c", pkgs)
	var ds []Download
	for _, r := range recs {
		ds = append(ds, Download{Record: r})
	}
	cache := t.TempDir()
	first, err := testClient(t, cache).Fetch(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.totalRequests(); got != len(ds) {
		t.Fatalf("cold run made %d requests, want %d", got, len(ds))
	}
	second, err := testClient(t, cache).Fetch(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.totalRequests(); got != len(ds) {
		t.Fatalf("warm run made %d requests, want 0", got-len(ds))
	}
	if strings.Join(first, "\n") != strings.Join(second, "\n") {
		t.Fatal("warm run returned other paths")
	}
}

func TestFetchOffline(t *testing.T) {
	pkgs := realPackages(t)
	srv := newChannelServer(t)
	recs := srv.publish("c", srv.URL+"/c", pkgs)

	// A file:// channel works offline.
	dir := t.TempDir()
	for _, p := range pkgs {
		os.MkdirAll(filepath.Join(dir, "linux-64"), 0o755)
		os.WriteFile(filepath.Join(dir, "linux-64", p.rec.Fn), p.data, 0o644)
	}
	local := Channel{URL: "./local", Location: "file://" + dir}
	cache := t.TempDir()
	off := testClient(t, cache, WithOffline(true))
	var localDs []Download
	for _, p := range pkgs {
		r := p.rec
		r.URL = "./local/linux-64/" + r.Fn
		localDs = append(localDs, local.Download(r))
	}
	if _, err := off.Fetch(context.Background(), localDs); err != nil {
		t.Fatalf("offline fetch from file:// channel: %v", err)
	}

	// An http package that is not cached is a clear error naming it.
	extra := generatedPackages(1, 100)
	extraRecs := srv.publish("c", srv.URL+"/c", extra)
	_, err := off.Fetch(context.Background(), []Download{{Record: extraRecs[0]}})
	var oe *OfflineError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "gen000-1.0-0") {
		t.Fatalf("offline miss: %v", err)
	}
	// Cached http packages (same hashes as the local files) need no network.
	var ds []Download
	for _, r := range recs {
		ds = append(ds, Download{Record: r})
	}
	if _, err := off.Fetch(context.Background(), ds); err != nil {
		t.Fatalf("offline fetch of cached packages: %v", err)
	}
	if srv.totalRequests() != 0 {
		t.Fatalf("offline client made %d requests", srv.totalRequests())
	}
}

func TestFetchMissingSHA256(t *testing.T) {
	c := testClient(t, t.TempDir())
	_, err := c.Fetch(context.Background(), []Download{{Record: conda.PackageRecord{Name: "x", Version: "1", Build: "0", URL: "https://h/x.conda"}}})
	var me *MissingHashError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "x-1-0") {
		t.Fatalf("err = %v", err)
	}
}

func TestFetchRelativeWithoutLocation(t *testing.T) {
	c := testClient(t, t.TempDir())
	_, err := c.Fetch(context.Background(), []Download{{Record: conda.PackageRecord{Name: "x", Version: "1", Build: "0", SHA256: strings.Repeat("a", 64), URL: "./chan/linux-64/x.conda"}}})
	if err == nil || !strings.Contains(err.Error(), "relative channel path") {
		t.Fatalf("err = %v", err)
	}
}

func TestProgressPlainLines(t *testing.T) {
	pkgs := realPackages(t)[:2]
	srv := newChannelServer(t)
	recs := srv.publish("c", srv.URL+"/c", pkgs)
	var out bytes.Buffer
	c := testClient(t, t.TempDir(), WithProgress(&out, false), WithParallelism(1))
	if _, err := c.Fetch(context.Background(), []Download{{Record: recs[0]}, {Record: recs[1]}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("progress = %q", out.String())
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, "fetched "+recs[i].Name+"-") || strings.Contains(l, "\r") {
			t.Errorf("line %d = %q", i, l)
		}
	}
	var term bytes.Buffer
	c = testClient(t, t.TempDir(), WithProgress(&term, true))
	if _, err := c.Fetch(context.Background(), []Download{{Record: recs[0]}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(term.String(), "\r") || !strings.Contains(term.String(), "1/1 packages") {
		t.Errorf("terminal progress = %q", term.String())
	}
}

func TestFileMismatchIsNotRetried(t *testing.T) {
	pkg := realPackages(t)[0]
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "linux-64"), 0o755)
	os.WriteFile(filepath.Join(dir, "linux-64", pkg.rec.Fn), []byte("not the package"), 0o644)
	ch := Channel{URL: "./local", Location: "file://" + dir}
	r := pkg.rec
	r.URL = "./local/linux-64/" + r.Fn
	_, err := testClient(t, t.TempDir(), WithRetries(3, time.Millisecond)).Fetch(context.Background(), []Download{ch.Download(r)})
	var fe *FetchError
	var he *HashMismatchError
	if !errors.As(err, &fe) || !errors.As(err, &he) || len(fe.Attempts) != 1 {
		t.Fatalf("err = %v (attempts %d)", err, len(fe.Attempts))
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), r.SHA256) {
		t.Fatalf("error should name the file and the expected hash: %v", err)
	}
}
