package channel

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// behaviour is how the test server answers one path.
type behaviour string

const (
	serveOK       behaviour = "ok"
	serve500      behaviour = "500"
	serve404      behaviour = "404"
	serveStall    behaviour = "stall"    // headers and half the body, then nothing
	serveTruncate behaviour = "truncate" // full Content-Length, half the body, close
	serveWrong    behaviour = "wrong"    // other bytes of the same length
	serveNoHeader behaviour = "stall-headers"
)

// channelServer is an httptest channel whose paths misbehave on demand and which counts
// every request it receives.
type channelServer struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	behave   map[string]behaviour
	once     map[string]behaviour // applies to the first request of a path only
	etags    map[string]string
	lastMod  map[string]string
	requests map[string]int
	auth     map[string]string // path prefix -> required Authorization header
	seenAuth []string
	release  chan struct{}
	halfSent chan string
	total    int
}

func newChannelServer(t *testing.T) *channelServer {
	s := &channelServer{
		files: map[string][]byte{}, behave: map[string]behaviour{}, once: map[string]behaviour{},
		etags: map[string]string{}, lastMod: map[string]string{}, requests: map[string]int{},
		auth: map[string]string{}, release: make(chan struct{}), halfSent: make(chan string, 100),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.release)
		s.Server.CloseClientConnections()
		s.Server.Close()
	})
	return s
}

func (s *channelServer) put(path string, data []byte) {
	s.mu.Lock()
	s.files[path] = data
	s.mu.Unlock()
}

func (s *channelServer) set(path string, b behaviour) { s.mu.Lock(); s.behave[path] = b; s.mu.Unlock() }

func (s *channelServer) setOnce(path string, b behaviour) {
	s.mu.Lock()
	s.once[path] = b
	s.mu.Unlock()
}

func (s *channelServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

func (s *channelServer) totalRequests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.total }

func (s *channelServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p := r.URL.Path
	s.requests[p]++
	s.total++
	s.seenAuth = append(s.seenAuth, r.Header.Get("Authorization"))
	data, ok := s.files[p]
	b := s.behave[p]
	if ob, ok := s.once[p]; ok {
		b = ob
		delete(s.once, p)
	}
	etag, lm := s.etags[p], s.lastMod[p]
	var need string
	for prefix, h := range s.auth {
		if strings.HasPrefix(p, prefix) {
			need = h
		}
	}
	s.mu.Unlock()
	if need != "" && r.Header.Get("Authorization") != need {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if b == serve500 {
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	if !ok || b == serve404 {
		http.NotFound(w, r)
		return
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if lm != "" {
		w.Header().Set("Last-Modified", lm)
		if r.Header.Get("If-Modified-Since") == lm {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	switch b {
	case serveNoHeader:
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
		return
	case serveStall:
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		s.halfSent <- p
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
		return
	case serveTruncate:
		w.Write(data[:len(data)/2])
		return
	case serveWrong:
		other := append([]byte(nil), data...)
		for i := range other {
			other[i] ^= 0x5a
		}
		w.Write(other)
		return
	}
	w.Write(data)
}

// testPackage is a real package archive from the shared test data.
type testPackage struct {
	rec  conda.PackageRecord
	data []byte
}

func hexSHA(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
func hexMD5(b []byte) string { h := md5.Sum(b); return hex.EncodeToString(h[:]) }

// realPackages loads the real-world archives of the test data; the record's hashes come
// from the bytes, as an index would compute them.
func realPackages(t testing.TB) []testPackage {
	t.Helper()
	dir := "../../testdata/conda/packages/real-world"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []testPackage
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fn := e.Name()
		base := strings.TrimSuffix(strings.TrimSuffix(fn, ".conda"), ".tar.bz2")
		i := strings.LastIndexByte(base, '-')
		j := strings.LastIndexByte(base[:i], '-')
		out = append(out, testPackage{data: data, rec: conda.PackageRecord{
			Name: base[:j], Version: base[j+1 : i], Build: base[i+1:],
			Subdir: "linux-64", Fn: fn, SHA256: hexSHA(data), MD5: hexMD5(data), Size: int64(len(data)),
		}})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].rec.Fn < out[b].rec.Fn })
	return out
}

// generatedPackages makes n distinct archives of size bytes each (content only matters
// for hashing here).
func generatedPackages(n, size int) []testPackage {
	out := make([]testPackage, n)
	for i := range out {
		data := make([]byte, size)
		seed := uint32(i*2654435761 + 1)
		for j := range data {
			seed = seed*1664525 + 1013904223
			data[j] = byte(seed >> 24)
		}
		fn := fmt.Sprintf("gen%03d-1.0-0.conda", i)
		out[i] = testPackage{data: data, rec: conda.PackageRecord{
			Name: fmt.Sprintf("gen%03d", i), Version: "1.0", Build: "0", Subdir: "linux-64", Fn: fn,
			SHA256: hexSHA(data), Size: int64(size),
		}}
	}
	return out
}

// publish serves pkgs under /<prefix>/linux-64/ and returns their records with URLs
// on canonical (which need not be the server).
func (s *channelServer) publish(prefix, canonical string, pkgs []testPackage) []conda.PackageRecord {
	var recs []conda.PackageRecord
	for _, p := range pkgs {
		s.put("/"+prefix+"/"+p.rec.Subdir+"/"+p.rec.Fn, p.data)
		r := p.rec
		r.Channel = canonical
		r.URL = canonical + "/" + r.Subdir + "/" + r.Fn
		recs = append(recs, r)
	}
	return recs
}
