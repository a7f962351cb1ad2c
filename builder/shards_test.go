package builder

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// TestLockShardedSameAsFull locks python 3.9, setuptools and openssl <3 against the real conda-forge
// subchannel served on 127.0.0.1 as sharded repodata, then with the shard indexes
// removed (full repodata.json): the two locks are byte-identical, and the sharded lock
// read fewer bytes.
func TestLockShardedSameAsFull(t *testing.T) {
	root := t.TempDir()
	chDir := filepath.Join(root, "channel")
	for _, sd := range []string{"linux-64", "noarch"} {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", "conda", "repodata", "conda-forge-py39-subchannel-20240516", sd, "repodata.json"))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(chDir, sd), 0o755)
		os.WriteFile(filepath.Join(chDir, sd, "repodata.json"), raw, 0o644)
		if _, err := pkgmaker.WriteShards(filepath.Join(chDir, sd), raw); err != nil {
			t.Fatal(err)
		}
	}
	var served atomic.Int64
	fs := http.FileServer(http.Dir(chDir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.ServeHTTP(&countWriter{ResponseWriter: w, n: &served}, r)
	}))
	defer srv.Close()
	recipe := filepath.Join(root, "reprobuild.hcl")
	os.WriteFile(recipe, []byte(`channel "conda-forge" {
  url = "`+srv.URL+`"
}
dependencies {
  conda = ["python 3.9.*", "setuptools", "openssl <3"]
}
platform {
  targets = ["linux-64"]
}
`), 0o644)
	lockOnce := func() []byte {
		t.Helper()
		os.Remove(filepath.Join(root, "reprobuild.lock"))
		res, err := Lock(context.Background(), LockOptions{Recipe: recipe, Channel: ChannelOptions{CacheDir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	sharded := lockOnce()
	shardBytes := served.Swap(0)
	for _, sd := range []string{"linux-64", "noarch"} {
		os.Remove(filepath.Join(chDir, sd, "repodata_shards.msgpack.zst"))
	}
	full := lockOnce()
	fullBytes := served.Load()
	if string(sharded) != string(full) {
		t.Fatalf("sharded lock differs from the full-repodata lock:\n%s\n---\n%s", sharded, full)
	}
	t.Logf("sharded: %d bytes served; full repodata: %d", shardBytes, fullBytes)
	if shardBytes >= fullBytes {
		t.Errorf("the sharded lock read %d bytes, the full one %d", shardBytes, fullBytes)
	}
}

type countWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}
