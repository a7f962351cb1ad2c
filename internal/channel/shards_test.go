package channel

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/cas"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
	rbprogress "github.com/reprobuild/reprobuild/internal/progress"
)

// shardedChannel writes the conda-forge test subchannel as a sharded channel (full
// repodata beside it) and serves it on 127.0.0.1, counting the bytes served.
func shardedChannel(t *testing.T) (dir string, srv *httptest.Server, served *atomic.Int64, requests *atomic.Int64) {
	t.Helper()
	dir = t.TempDir()
	for _, sd := range []string{"linux-64", "noarch"} {
		raw := readTestdata(t, filepath.Join(forgeDir, sd, "repodata.json"))
		os.MkdirAll(filepath.Join(dir, sd), 0o755)
		os.WriteFile(filepath.Join(dir, sd, "repodata.json"), raw, 0o644)
		if _, err := pkgmaker.WriteShards(filepath.Join(dir, sd), raw); err != nil {
			t.Fatal(err)
		}
	}
	served, requests = new(atomic.Int64), new(atomic.Int64)
	fs := http.FileServer(http.Dir(dir))
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fs.ServeHTTP(&countingWriter{ResponseWriter: w, n: served}, r)
	}))
	t.Cleanup(srv.Close)
	return dir, srv, served, requests
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// TestShardedRepodata reads a sharded channel served on 127.0.0.1: only the shards of
// the names python reaches are fetched, the records equal full repodata's for those
// names, a warm run fetches only the index, an offline run reads the cache, and a
// channel without shards says so.
func TestShardedRepodata(t *testing.T) {
	dir, srv, served, requests := shardedChannel(t)
	ch := Channel{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge", Location: srv.URL}
	cache := t.TempDir()
	c := testClient(t, cache)
	var prog strings.Builder
	ctx := rbprogress.WithReporter(context.Background(), rbprogress.New(&prog, rbprogress.Plain, nil))
	got, err := c.ShardedRepodata(ctx, ch, []string{"linux-64", "noarch"}, []string{"python"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^shards ` + regexp.QuoteMeta(ch.URL) + `: done, [1-9][0-9]* shards$`).MatchString(prog.String()) {
		t.Errorf("no progress line counting the shards:\n%s", prog.String())
	}
	full := int64(0)
	names := map[string]bool{}
	for _, sd := range []string{"linux-64", "noarch"} {
		fi, _ := os.Stat(filepath.Join(dir, sd, "repodata.json"))
		full += fi.Size()
		want := mustParse(t, readTestdata(t, filepath.Join(forgeDir, sd, "repodata.json")), ch.URL, sd)
		byFn := map[string]conda.PackageRecord{}
		for _, r := range want.Packages {
			byFn[r.Fn] = r
		}
		rd := got[sd]
		if rd == nil {
			t.Fatalf("no records for %s", sd)
		}
		for _, r := range rd.Packages {
			names[r.Name] = true
			if w, ok := byFn[r.Fn]; !ok || !reflect.DeepEqual(w, r) {
				t.Fatalf("%s/%s: sharded record\n%+v\nwant the full repodata's\n%+v", sd, r.Fn, r, w)
			}
		}
		// Every record of a reached name is there.
		n := 0
		for _, r := range want.Packages {
			if names[r.Name] {
				n++
			}
		}
		if n != len(rd.Packages) {
			t.Errorf("%s: %d sharded records, full repodata has %d for the same names", sd, len(rd.Packages), n)
		}
	}
	for _, n := range []string{"python", "openssl", "libzlib", "pip"} {
		if !names[n] {
			t.Errorf("%s not reached from python", n)
		}
	}
	cold := served.Load()
	t.Logf("python reaches %d names; %d bytes served (full repodata.json: %d)", len(names), cold, full)
	if cold >= full {
		t.Errorf("sharded fetch served %d bytes, not less than the full repodata's %d", cold, full)
	}

	// Warm: shards are cached by hash, only the two indexes are revalidated (304, no
	// body); within a max age not even that.
	requests.Store(0)
	served.Store(0)
	if _, err := c.ShardedRepodata(context.Background(), ch, []string{"linux-64", "noarch"}, []string{"python"}); err != nil {
		t.Fatal(err)
	}
	if n, b := requests.Load(), served.Load(); n != 2 || b != 0 {
		t.Errorf("warm run made %d requests for %d bytes, want 2 revalidations of the indexes and no body", n, b)
	}
	requests.Store(0)
	now := time.Unix(1_800_000_000, 0)
	aged := testClient(t, cache, WithMaxAge(time.Hour, func() time.Time { return now }))
	if _, err := aged.ShardedRepodata(context.Background(), ch, []string{"linux-64", "noarch"}, []string{"python"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	requests.Store(0)
	if _, err := aged.ShardedRepodata(context.Background(), ch, []string{"linux-64", "noarch"}, []string{"python"}); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("a run within the max age made %d requests, want 0", n)
	}
	// Offline: everything from the cache.
	requests.Store(0)
	off := testClient(t, cache, WithOffline(true))
	if _, err := off.ShardedRepodata(context.Background(), ch, []string{"linux-64", "noarch"}, []string{"python"}); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("offline run made %d requests", n)
	}

	// A corrupted shard is refused (hash mismatch), never cached.
	shards, _ := filepath.Glob(filepath.Join(dir, "linux-64", "shards", "*.msgpack.zst"))
	for _, p := range shards {
		os.WriteFile(p, []byte("not a shard"), 0o644)
	}
	_, err = testClient(t, t.TempDir()).ShardedRepodata(context.Background(), ch, []string{"linux-64", "noarch"}, []string{"python"})
	var me *cas.MismatchError
	if !errors.As(err, &me) {
		t.Errorf("corrupted shards: got %v, want a hash mismatch", err)
	}

	// No index: ErrNoShards, so the caller reads full repodata.
	os.Remove(filepath.Join(dir, "noarch", "repodata_shards.msgpack.zst"))
	_, err = testClient(t, t.TempDir()).ShardedRepodata(context.Background(), ch, []string{"noarch"}, []string{"python"})
	if !errors.Is(err, ErrNoShards) || !strings.Contains(err.Error(), "noarch") {
		t.Errorf("missing index: got %v, want ErrNoShards naming the subdir", err)
	}
}

// TestStreamedRepodataLimit: a document streamed from a file (plain or zst) or a
// download is refused past the repodata limit, like one read whole.
func TestStreamedRepodataLimit(t *testing.T) {
	raw := readTestdata(t, filepath.Join(forgeDir, "linux-64", "repodata.json"))
	c := testClient(t, t.TempDir())
	var lr io.Reader = c.limitRepodata(bytes.NewReader(raw), "test")
	if n, err := io.Copy(io.Discard, lr); err != nil || n != int64(len(raw)) {
		t.Fatalf("within the limit: %d bytes, %v", n, err)
	}
	small := &limitReader{r: bytes.NewReader(raw), left: 1000, err: errors.New("too large")}
	if _, err := io.Copy(io.Discard, small); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("past the limit: got %v", err)
	}
}
