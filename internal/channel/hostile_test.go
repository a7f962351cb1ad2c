package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// dripServer sends the headers of a file and then one byte every tick, forever: the idle
// timeout never fires, only the minimum rate or the deadline stop it.
func dripServer(t *testing.T, size int) *httptest.Server {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusOK)
		for {
			if _, err := w.Write([]byte{'x'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(func() { close(done); srv.CloseClientConnections(); srv.Close() })
	return srv
}

func noObjects(t *testing.T, cache string) {
	t.Helper()
	objs, _ := filepath.Glob(filepath.Join(cache, "cas", "sha256", "*", "*"))
	if len(objs) != 0 {
		t.Errorf("cache holds unverified objects %v", objs)
	}
}

// TestHostileNetwork is the corpus of servers that misbehave in ways a timeout per read
// does not catch. Each case asserts the exact outcome: survived through the mirror (and
// the file cached is the verified one) or refused naming every location tried, with
// nothing unverified cached.
func TestHostileNetwork(t *testing.T) {
	pkg := generatedPackages(1, 64<<10)[0]
	ctx := context.Background()

	t.Run("drip then mirror", func(t *testing.T) {
		drip := dripServer(t, len(pkg.data))
		srv := newChannelServer(t)
		recs := srv.publish("mirror", "https://conda.example.org/c", []testPackage{pkg})
		ch := Channel{Name: "c", URL: "https://conda.example.org/c", Location: drip.URL + "/c", Mirrors: []string{srv.URL + "/mirror"}}
		c := testClient(t, t.TempDir(), WithMinRate(1000, 300*time.Millisecond))
		paths, err := c.Fetch(ctx, []Download{ch.Download(recs[0])})
		if err != nil {
			t.Fatalf("the mirror should have served it: %v", err)
		}
		if got := fileSHA(t, paths[0]); got != pkg.rec.SHA256 {
			t.Errorf("cached %s, want %s", got, pkg.rec.SHA256)
		}
	})
	t.Run("drip alone is refused", func(t *testing.T) {
		drip := dripServer(t, len(pkg.data))
		rec := pkg.rec
		rec.URL = drip.URL + "/c/linux-64/" + rec.Fn
		cache := t.TempDir()
		c := testClient(t, cache, WithMinRate(1000, 300*time.Millisecond), WithRetries(0, 0))
		_, err := c.Fetch(ctx, []Download{{Record: rec}})
		if err == nil || !strings.Contains(err.Error(), "slower than 1000 bytes/s") || !strings.Contains(err.Error(), rec.URL) {
			t.Fatalf("err = %v, want a minimum-rate failure naming %s", err, rec.URL)
		}
		noObjects(t, cache)
	})
	t.Run("deadline", func(t *testing.T) {
		drip := dripServer(t, len(pkg.data))
		rec := pkg.rec
		rec.URL = drip.URL + "/c/linux-64/" + rec.Fn
		cache := t.TempDir()
		c := testClient(t, cache, WithMinRate(0, 0), WithDeadline(500*time.Millisecond), WithRetries(0, 0))
		_, err := c.Fetch(ctx, []Download{{Record: rec}})
		if err == nil || !strings.Contains(err.Error(), "download deadline of 500ms") {
			t.Fatalf("err = %v, want a deadline failure", err)
		}
		noObjects(t, cache)
	})
	t.Run("every location named", func(t *testing.T) {
		srv := newChannelServer(t)
		recs := srv.publish("a", "https://conda.example.org/c", []testPackage{pkg})
		srv.publish("b", "https://conda.example.org/c", []testPackage{pkg})
		srv.set("/a/linux-64/"+pkg.rec.Fn, serve500)
		srv.set("/b/linux-64/"+pkg.rec.Fn, serveWrong)
		ch := Channel{Name: "c", URL: "https://conda.example.org/c", Location: srv.URL + "/a", Mirrors: []string{srv.URL + "/b"}}
		cache := t.TempDir()
		c := testClient(t, cache)
		_, err := c.Fetch(ctx, []Download{ch.Download(recs[0])})
		if err == nil {
			t.Fatal("accepted")
		}
		for _, want := range []string{srv.URL + "/a/linux-64/" + pkg.rec.Fn, "HTTP 500", srv.URL + "/b/linux-64/" + pkg.rec.Fn, "sha256 mismatch"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not name %q: %v", want, err)
			}
		}
		noObjects(t, cache)
	})
}

// zstOf compresses data.
func zstOf(t *testing.T, data []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(data, nil)
}

// TestRepodataBomb: a small repodata.json.zst (or a plain one, or a local file) that
// inflates past the limit is refused at the limit, the mirror is used, and nothing of
// the bomb is cached.
func TestRepodataBomb(t *testing.T) {
	good := []byte(`{"info": {"subdir": "linux-64"}, "packages": {}, "packages.conda": {}}`)
	bomb := append([]byte(`{"packages": {}`), bytes.Repeat([]byte(" "), 8<<20)...)
	bomb = append(bomb, '}')
	z := zstOf(t, bomb)
	if len(z) > 64<<10 {
		t.Fatalf("bomb compresses to %d bytes", len(z))
	}
	const limit = 1 << 20
	for _, variant := range []string{".zst", "plain", "file"} {
		t.Run(variant, func(t *testing.T) {
			srv := newChannelServer(t)
			switch variant {
			case ".zst":
				srv.put("/evil/linux-64/repodata.json.zst", z)
			case "plain":
				srv.put("/evil/linux-64/repodata.json", bomb)
			}
			srv.put("/good/linux-64/repodata.json", good)
			loc := srv.URL + "/evil"
			if variant == "file" {
				dir := t.TempDir()
				if err := os.MkdirAll(filepath.Join(dir, "linux-64"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "linux-64", "repodata.json.zst"), z, 0o644); err != nil {
					t.Fatal(err)
				}
				loc = "file://" + dir
			}
			cache := t.TempDir()
			c := testClient(t, cache, WithMaxRepodataSize(limit))
			ch := Channel{Name: "c", URL: "https://conda.example.org/c", Location: loc}
			_, err := c.RepodataRaw(context.Background(), ch, "linux-64")
			var re *RepodataSizeError
			if !errors.As(err, &re) || re.Limit != limit {
				t.Fatalf("err = %v, want *RepodataSizeError", err)
			}
			noObjects(t, cache)
			// Indexed as it is downloaded: the same refusal, nothing stored.
			_, err = c.RepodataIndex(context.Background(), ch, "linux-64")
			if !errors.As(err, &re) || re.Limit != limit {
				t.Fatalf("RepodataIndex: err = %v, want *RepodataSizeError", err)
			}
			noObjects(t, cache)
			if variant == "file" {
				return // a local channel has no mirrors
			}
			if n := srv.count("/evil/linux-64/repodata.json.zst") + srv.count("/evil/linux-64/repodata.json"); n > 4 {
				t.Errorf("the bomb was fetched %d times in two calls; a refused size is not retried", n)
			}
			ch.Mirrors = []string{srv.URL + "/good"}
			raw, err := c.RepodataRaw(context.Background(), ch, "linux-64")
			if err != nil || !bytes.Equal(raw, good) {
				t.Fatalf("mirror: %v (%q)", err, raw)
			}
		})
	}
}

// authServer records the Authorization header and path of every request.
type authServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "path auth"
}

func newAuthServer(t *testing.T, tls bool, h func(s *authServer, w http.ResponseWriter, r *http.Request)) *authServer {
	s := &authServer{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.URL.Path+" "+r.Header.Get("Authorization"))
		s.mu.Unlock()
		h(s, w, r)
	})
	if tls {
		s.Server = httptest.NewTLSServer(handler)
	} else {
		s.Server = httptest.NewServer(handler)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *authServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func urlHost(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestRedirectCredentials: credentials follow a redirect only to the same scheme, host
// and port; a redirect to another port of the same host loses them; https -> http is
// refused.
func TestRedirectCredentials(t *testing.T) {
	pkg := generatedPackages(1, 1024)[0]
	other := newAuthServer(t, false, func(s *authServer, w http.ResponseWriter, r *http.Request) {
		w.Write(pkg.data)
	})
	primary := newAuthServer(t, false, func(s *authServer, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same/" + pkg.rec.Fn:
			http.Redirect(w, r, "/final/"+pkg.rec.Fn, http.StatusFound)
		case "/final/" + pkg.rec.Fn:
			w.Write(pkg.data)
		case "/port/" + pkg.rec.Fn:
			http.Redirect(w, r, other.URL+"/x/"+pkg.rec.Fn, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	env := []string{EnvPrefix + envKey(urlHost(t, primary.URL)) + "=bearer s3cret"}
	creds, err := CredentialsFromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path       string
		primaryHit []string
		otherHit   []string
	}{
		{"/same/", []string{"/same/" + pkg.rec.Fn + " Bearer s3cret", "/final/" + pkg.rec.Fn + " Bearer s3cret"}, nil},
		{"/port/", []string{"/port/" + pkg.rec.Fn + " Bearer s3cret"}, []string{"/x/" + pkg.rec.Fn + " "}},
	} {
		t.Run(tt.path, func(t *testing.T) {
			primary.mu.Lock()
			primary.seen = nil
			primary.mu.Unlock()
			other.mu.Lock()
			other.seen = nil
			other.mu.Unlock()
			rec := pkg.rec
			rec.URL = primary.URL + tt.path + rec.Fn
			c := testClient(t, t.TempDir(), WithCredentials(creds))
			if _, err := c.Fetch(context.Background(), []Download{{Record: rec}}); err != nil {
				t.Fatal(err)
			}
			if got := primary.requests(); fmt.Sprint(got) != fmt.Sprint(tt.primaryHit) {
				t.Errorf("primary saw %q, want %q", got, tt.primaryHit)
			}
			if got := other.requests(); fmt.Sprint(got) != fmt.Sprint(tt.otherHit) {
				t.Errorf("other port saw %q, want %q (credentials must not cross ports)", got, tt.otherHit)
			}
		})
	}

	t.Run("https to http", func(t *testing.T) {
		secure := newAuthServer(t, true, func(s *authServer, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/x/"+pkg.rec.Fn, http.StatusFound)
		})
		rec := pkg.rec
		rec.URL = secure.URL + "/down/" + rec.Fn
		cache := t.TempDir()
		c := testClient(t, cache, WithHTTPClient(secure.Client()))
		_, err := c.Fetch(context.Background(), []Download{{Record: rec}})
		var re *RedirectError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "leaves https") {
			t.Fatalf("err = %v, want a refused redirect", err)
		}
		if n := len(secure.requests()); n != 1 {
			t.Errorf("a refused redirect was retried: %d requests", n)
		}
		noObjects(t, cache)
	})
}

// TestCondaToken: an anaconda.org-style token configured as a credential is sent as the
// /t/TOKEN/ path prefix, so the plain channel URL works, and the token appears in no
// error message.
func TestCondaToken(t *testing.T) {
	pkg := generatedPackages(1, 1024)[0]
	const token = "tk-0123456789"
	srv := newAuthServer(t, false, func(s *authServer, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/t/"+token+"/private/linux-64/"+pkg.rec.Fn {
			w.Write(pkg.data)
			return
		}
		http.NotFound(w, r)
	})
	creds, err := CredentialsFromEnv([]string{EnvPrefix + envKey(urlHost(t, srv.URL)) + "=conda-token " + token})
	if err != nil {
		t.Fatal(err)
	}
	rec := pkg.rec
	rec.URL = srv.URL + "/private/linux-64/" + rec.Fn
	c := testClient(t, t.TempDir(), WithCredentials(creds))
	if _, err := c.Fetch(context.Background(), []Download{{Record: rec}}); err != nil {
		t.Fatalf("token channel: %v", err)
	}
	// A wrong file 404s; the message must not carry the token.
	missing := rec
	missing.URL = srv.URL + "/private/linux-64/nothing.conda"
	missing.SHA256 = strings.Repeat("0", 64)
	_, err = c.Fetch(context.Background(), []Download{{Record: missing}})
	if err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("err = %v: want a 404 that does not show the token", err)
	}
	if _, err := CredentialsFromEnv([]string{EnvPrefix + "X=conda-token a/b"}); err == nil {
		t.Error("a token with '/' was accepted")
	}
}
