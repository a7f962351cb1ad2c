package channel

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// sameAsRepodata fails unless x gives, name by name, the records of rd.
func sameAsRepodata(t *testing.T, x *conda.RepodataIndex, rd *conda.Repodata) {
	t.Helper()
	if x.Info != rd.Info {
		t.Fatalf("index info %+v, repodata %+v", x.Info, rd.Info)
	}
	byName := map[string][]conda.PackageRecord{}
	for _, r := range rd.Packages {
		byName[r.Name] = append(byName[r.Name], r)
	}
	if x.Len() != len(byName) {
		t.Fatalf("%d names indexed, repodata has %d", x.Len(), len(byName))
	}
	for i := range x.Len() {
		got, err := x.Records(i)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, byName[x.Name(i)]) {
			t.Fatalf("%s: indexed records differ from Repodata's", x.Name(i))
		}
	}
}

// TestRepodataIndexSameAsRepodata: over HTTP (json and zst) and file:// (json, zst
// only, and a file that changes), cold and warm, the index gives Repodata's records,
// and a warm run reads its cached index.
func TestRepodataIndexSameAsRepodata(t *testing.T) {
	canon := "https://conda.anaconda.org/conda-forge"
	for _, zst := range []bool{false, true} {
		srv := newChannelServer(t)
		raw := serveForge(t, srv, zst)
		want := mustParse(t, raw, canon, "linux-64")
		ch := Channel{Name: "conda-forge", URL: canon, Location: srv.URL + "/forge"}
		cache := t.TempDir()
		for _, run := range []string{"cold", "warm"} {
			x, err := testClient(t, cache).RepodataIndex(context.Background(), ch, "linux-64")
			if err != nil {
				t.Fatalf("zst %v, %s: %v", zst, run, err)
			}
			sameAsRepodata(t, x, want)
		}
		idx, _ := filepath.Glob(filepath.Join(cache, "repodata", "index", "*.idx"))
		if len(idx) != 1 {
			t.Fatalf("zst %v: %d cached indexes, want 1", zst, len(idx))
		}
	}

	dir := t.TempDir()
	rawNoarch := readTestdata(t, forgeDir+"/noarch/repodata.json")
	rawLinux := readTestdata(t, forgeDir+"/linux-64/repodata.json")
	os.MkdirAll(filepath.Join(dir, "noarch"), 0o755)
	os.MkdirAll(filepath.Join(dir, "linux-64"), 0o755)
	p := filepath.Join(dir, "noarch", "repodata.json")
	os.WriteFile(p, rawNoarch, 0o644)
	z, _ := zstd.NewWriter(nil)
	os.WriteFile(filepath.Join(dir, "linux-64", "repodata.json.zst"), z.EncodeAll(rawLinux, nil), 0o644)
	ch := Channel{Name: "local", URL: "./vendor", Location: "file://" + dir}
	cache := t.TempDir()
	for _, run := range []string{"cold", "warm"} {
		c := testClient(t, cache, WithOffline(true))
		x, err := c.RepodataIndex(context.Background(), ch, "noarch")
		if err != nil {
			t.Fatal(err)
		}
		sameAsRepodata(t, x, mustParse(t, rawNoarch, "./vendor", "noarch"))
		x, err = c.RepodataIndex(context.Background(), ch, "linux-64")
		if err != nil {
			t.Fatalf("%s, zst only: %v", run, err)
		}
		sameAsRepodata(t, x, mustParse(t, rawLinux, "./vendor", "linux-64"))
		// The file was hashed as it was indexed: the cached index is named by its sha256.
		if idx, _ := filepath.Glob(filepath.Join(cache, "repodata", "index", hexSHA(rawNoarch)+"-*.idx")); len(idx) != 1 {
			t.Fatalf("%s: no cached index named by the file's sha256", run)
		}
	}
	// The file changes (another document, a later mtime): it is indexed again.
	os.WriteFile(p, rawLinux, 0o644)
	later := time.Now().Add(time.Hour)
	os.Chtimes(p, later, later)
	x, err := testClient(t, cache, WithOffline(true)).RepodataIndex(context.Background(), ch, "noarch")
	if err != nil {
		t.Fatal(err)
	}
	sameAsRepodata(t, x, mustParse(t, rawLinux, "./vendor", "noarch"))
}

// TestRepodataIndexDamagedCache: a damaged cached index is rebuilt, not trusted.
func TestRepodataIndexDamagedCache(t *testing.T) {
	srv := newChannelServer(t)
	raw := serveForge(t, srv, false)
	canon := "https://conda.anaconda.org/conda-forge"
	ch := Channel{Name: "conda-forge", URL: canon, Location: srv.URL + "/forge"}
	cache := t.TempDir()
	if _, err := testClient(t, cache).RepodataIndex(context.Background(), ch, "linux-64"); err != nil {
		t.Fatal(err)
	}
	idx, _ := filepath.Glob(filepath.Join(cache, "repodata", "index", "*.idx"))
	if len(idx) != 1 {
		t.Fatalf("%d cached indexes, want 1", len(idx))
	}
	data, _ := os.ReadFile(idx[0])
	os.WriteFile(idx[0], data[:len(data)/2], 0o644)
	x, err := testClient(t, cache).RepodataIndex(context.Background(), ch, "linux-64")
	if err != nil {
		t.Fatal(err)
	}
	sameAsRepodata(t, x, mustParse(t, raw, canon, "linux-64"))
	if fixed, _ := os.ReadFile(idx[0]); len(fixed) != len(data) {
		t.Fatalf("the damaged index was not rewritten (%d bytes, want %d)", len(fixed), len(data))
	}
}

// TestRepodataIndexDownloadedOddDocuments: a download indexed as it is stored gives,
// for a malformed document, Repodata's error (and stores the document all the same),
// and for a document naming a file twice, Repodata's records.
func TestRepodataIndexDownloadedOddDocuments(t *testing.T) {
	canon := "https://conda.example.org/c"
	bad := []byte(`{"info":{"subdir":"linux-64"},"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1"}}, "removed": []}`)
	dup := []byte(`{"info":{"subdir":"linux-64"},"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0"}},"packages":{"a-1-0.tar.bz2":{"name":"b","version":"2","build":"0"}}}`)
	for _, zst := range []bool{false, true} {
		srv := newChannelServer(t)
		put := func(path string, data []byte) {
			if zst {
				srv.put(path+".zst", zstOf(t, data))
			} else {
				srv.put(path, data)
			}
		}
		put("/bad/linux-64/repodata.json", bad)
		put("/dup/linux-64/repodata.json", dup)
		cache := t.TempDir()
		chBad := Channel{Name: "c", URL: canon, Location: srv.URL + "/bad"}
		_, err := testClient(t, cache).RepodataIndex(context.Background(), chBad, "linux-64")
		_, want := testClient(t, t.TempDir()).Repodata(context.Background(), chBad, "linux-64")
		if err == nil || want == nil || err.Error() != want.Error() {
			t.Fatalf("zst %v: malformed document: RepodataIndex error %v, Repodata error %v", zst, err, want)
		}
		if raw, err := testClient(t, cache, WithOffline(true)).RepodataRaw(context.Background(), chBad, "linux-64"); err != nil || string(raw) != string(bad) {
			t.Fatalf("zst %v: the malformed document was not stored whole: %v", zst, err)
		}
		chDup := Channel{Name: "c", URL: canon, Location: srv.URL + "/dup"}
		x, err := testClient(t, cache).RepodataIndex(context.Background(), chDup, "linux-64")
		if err != nil {
			t.Fatal(err)
		}
		sameAsRepodata(t, x, mustParse(t, dup, canon, "linux-64"))
	}
}
