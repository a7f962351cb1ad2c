package channel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/reprobuild/reprobuild/internal/conda"
)

const forgeDir = "../../testdata/conda/repodata/conda-forge-py39-subchannel-20240516"

func readTestdata(t testing.TB, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t testing.TB, raw []byte, ch, subdir string) *conda.Repodata {
	t.Helper()
	rd, err := conda.ParseRepodata(raw, ch, conda.WithSubdir(subdir))
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// serveForge publishes the real conda-forge linux-64 and noarch repodata under /forge.
func serveForge(t *testing.T, srv *channelServer, zst bool) []byte {
	raw := readTestdata(t, forgeDir+"/linux-64/repodata.json")
	srv.put("/forge/linux-64/repodata.json", raw)
	srv.put("/forge/noarch/repodata.json", readTestdata(t, forgeDir+"/noarch/repodata.json"))
	if zst {
		srv.put("/forge/linux-64/repodata.json.zst", readTestdata(t, forgeDir+"/linux-64/repodata.json.zst"))
	}
	return raw
}

func TestRepodataHTTPCaching(t *testing.T) {
	tests := []struct {
		name     string
		zst      bool
		etag     bool
		lastMod  bool
		fetched  string // the document a cold run downloads
		revalids int    // requests a warm run makes
	}{
		{name: "zst with etag", zst: true, etag: true, fetched: "/forge/linux-64/repodata.json.zst", revalids: 1},
		{name: "json with last-modified", lastMod: true, fetched: "/forge/linux-64/repodata.json", revalids: 1},
		{name: "json without validators", fetched: "/forge/linux-64/repodata.json", revalids: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newChannelServer(t)
			raw := serveForge(t, srv, tt.zst)
			for _, p := range []string{"/forge/linux-64/repodata.json", "/forge/linux-64/repodata.json.zst"} {
				if tt.etag {
					srv.etags[p] = `"abc"`
				}
				if tt.lastMod {
					srv.lastMod[p] = "Wed, 15 May 2024 10:00:00 GMT"
				}
			}
			canon := "https://conda.anaconda.org/conda-forge"
			ch := Channel{Name: "conda-forge", URL: canon, Location: srv.URL + "/forge"}
			want := mustParse(t, raw, canon, "linux-64")
			cache := t.TempDir()

			got, err := testClient(t, cache).Repodata(context.Background(), ch, "linux-64")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("cold repodata differs (-want +got):\n%s", d)
			}
			if srv.count(tt.fetched) != 1 {
				t.Fatalf("cold run fetched %s %d times", tt.fetched, srv.count(tt.fetched))
			}
			cold := srv.totalRequests()

			got, err = testClient(t, cache).Repodata(context.Background(), ch, "linux-64")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("warm repodata differs (-want +got):\n%s", d)
			}
			if n := srv.totalRequests() - cold; n != tt.revalids {
				t.Fatalf("warm run made %d requests, want %d", n, tt.revalids)
			}
			if !tt.zst && srv.count("/forge/linux-64/repodata.json.zst") != 1 {
				t.Fatalf("a server without .zst was asked for it %d times; once is enough", srv.count("/forge/linux-64/repodata.json.zst"))
			}

		})
	}
}

func TestRepodataMaxAgeAndOfflineMakeNoRequests(t *testing.T) {
	srv := newChannelServer(t)
	serveForge(t, srv, true)
	srv.etags["/forge/linux-64/repodata.json.zst"] = `"v1"`
	ch := Channel{URL: srv.URL + "/forge"}
	cache := t.TempDir()
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { return clock }
	if _, err := testClient(t, cache, WithMaxAge(time.Hour, now)).Repodata(context.Background(), ch, "linux-64"); err != nil {
		t.Fatal(err)
	}
	cold := srv.totalRequests()
	clock = clock.Add(30 * time.Minute)
	if _, err := testClient(t, cache, WithMaxAge(time.Hour, now)).Repodata(context.Background(), ch, "linux-64"); err != nil {
		t.Fatal(err)
	}
	if _, err := testClient(t, cache, WithOffline(true)).Repodata(context.Background(), ch, "linux-64"); err != nil {
		t.Fatal(err)
	}
	if n := srv.totalRequests() - cold; n != 0 {
		t.Fatalf("fresh cache and offline made %d requests", n)
	}
	clock = clock.Add(2 * time.Hour)
	if _, err := testClient(t, cache, WithMaxAge(time.Hour, now)).Repodata(context.Background(), ch, "linux-64"); err != nil {
		t.Fatal(err)
	}
	if n := srv.totalRequests() - cold; n != 1 {
		t.Fatalf("stale cache made %d requests, want 1 revalidation", n)
	}
	// Offline with nothing cached names what is missing.
	_, err := testClient(t, t.TempDir(), WithOffline(true)).Repodata(context.Background(), ch, "noarch")
	var oe *OfflineError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "/forge/noarch") {
		t.Fatalf("offline miss: %v", err)
	}
}

func TestRepodataChangedUpstreamIsRefetched(t *testing.T) {
	srv := newChannelServer(t)
	serveForge(t, srv, false)
	srv.etags["/forge/noarch/repodata.json"] = `"v1"`
	ch := Channel{URL: srv.URL + "/forge"}
	cache := t.TempDir()
	first, err := testClient(t, cache).Repodata(context.Background(), ch, "noarch")
	if err != nil {
		t.Fatal(err)
	}
	small := `{"info":{"subdir":"noarch"},"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0","build_number":0,"subdir":"noarch"}}}`
	srv.put("/forge/noarch/repodata.json", []byte(small))
	srv.etags["/forge/noarch/repodata.json"] = `"v2"`
	second, err := testClient(t, cache).Repodata(context.Background(), ch, "noarch")
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Packages) < 2 || len(second.Packages) != 1 || second.Packages[0].Name != "a" {
		t.Fatalf("changed repodata not picked up: %d then %d records", len(first.Packages), len(second.Packages))
	}
}

func TestRepodataMirrorFallbackKeepsCanonicalURL(t *testing.T) {
	for _, b := range []behaviour{serve500, serveTruncate, serveStall, "down"} {
		t.Run(string(b), func(t *testing.T) {
			srv := newChannelServer(t)
			raw := readTestdata(t, forgeDir+"/noarch/repodata.json")
			srv.put("/primary/noarch/repodata.json", raw)
			srv.put("/mirror/noarch/repodata.json", raw)
			primary := srv.URL + "/primary"
			if b == "down" {
				primary = "http://127.0.0.1:1/primary"
			} else {
				srv.set("/primary/noarch/repodata.json", b)
			}
			canon := "https://conda.anaconda.org/conda-forge"
			ch := Channel{URL: canon, Location: primary, Mirrors: []string{srv.URL + "/mirror"}}
			rd, err := testClient(t, t.TempDir()).Repodata(context.Background(), ch, "noarch")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(mustParse(t, raw, canon, "noarch"), rd); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
			for _, r := range rd.Packages {
				if !strings.HasPrefix(r.URL, canon+"/noarch/") || r.Channel != canon {
					t.Fatalf("record %s carries %s / %s, not the canonical channel", r.Fn, r.URL, r.Channel)
				}
			}
		})
	}
}

func TestRepodataFileChannel(t *testing.T) {
	dir := t.TempDir()
	raw := readTestdata(t, forgeDir+"/noarch/repodata.json")
	os.MkdirAll(filepath.Join(dir, "noarch"), 0o755)
	os.WriteFile(filepath.Join(dir, "noarch", "repodata.json"), raw, 0o644)
	// linux-64 only as .zst, to read the compressed form from disk.
	os.MkdirAll(filepath.Join(dir, "linux-64"), 0o755)
	z, _ := zstd.NewWriter(nil)
	os.WriteFile(filepath.Join(dir, "linux-64", "repodata.json.zst"), z.EncodeAll([]byte(`{"info":{"subdir":"linux-64"},"packages":{}}`), nil), 0o644)

	ch := Channel{Name: "local", URL: "./vendor", Location: "file://" + dir}
	cache := t.TempDir()
	c := testClient(t, cache, WithOffline(true))
	rd, err := c.Repodata(context.Background(), ch, "noarch")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(mustParse(t, raw, "./vendor", "noarch"), rd); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	for _, r := range rd.Packages {
		if strings.Contains(r.URL, dir) || strings.Contains(r.Channel, dir) || !strings.HasPrefix(r.URL, "./vendor/noarch/") {
			t.Fatalf("record %s leaks a host path or loses the canonical URL: %s", r.Fn, r.URL)
		}
	}
	// Warm: the unchanged file is neither re-read for hashing nor re-parsed.
	if _, err := c.Repodata(context.Background(), ch, "noarch"); err != nil {
		t.Fatal(err)
	}
	lrd, err := c.Repodata(context.Background(), ch, "linux-64")
	if err != nil || len(lrd.Packages) != 0 || lrd.Info.Subdir != "linux-64" {
		t.Fatalf("zst-only subdir: %+v, %v", lrd, err)
	}
	if _, err := c.Repodata(context.Background(), ch, "osx-64"); err == nil || !strings.Contains(err.Error(), "osx-64") {
		t.Fatalf("missing subdir: %v", err)
	}
	if _, err := c.Repodata(context.Background(), ch, "../etc"); err == nil {
		t.Fatal("a subdir with a path separator was accepted")
	}
}

func TestCompactRoundTrip(t *testing.T) {
	inputs := []struct{ name, path, subdir string }{
		{"conda-forge linux-64", forgeDir + "/linux-64/repodata.json", "linux-64"},
		{"conda-forge noarch", forgeDir + "/noarch/repodata.json", "noarch"},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			want := mustParse(t, readTestdata(t, in.path), "https://conda.anaconda.org/conda-forge", in.subdir)
			enc := encodeCompact(want)
			got, err := decodeCompact(enc)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
			for _, cut := range []int{0, 3, len(enc) / 2, len(enc) - 1} {
				if _, err := decodeCompact(enc[:cut]); err == nil {
					t.Errorf("truncated at %d decoded without error", cut)
				}
			}
		})
	}
	edge := &conda.Repodata{Info: conda.RepodataInfo{Subdir: "x", BaseURL: "https://b/"}, Packages: []conda.PackageRecord{
		{Name: "a", Depends: []string{}, Constrains: nil, TrackFeatures: []string{"f"}, BuildNumber: -1, Timestamp: 1 << 50},
		// fn is stored as the tail of url only when it is one.
		{Name: "b", Depends: []string{"x", "y"}, Fn: "b-1-0.conda", URL: "https://h/c/noarch/b-1-0.conda", Size: -5},
		{Name: "c", Depends: []string{"x", "y"}, Fn: "c-1-0.conda", URL: "https://h/c/noarch/xc-1-0.conda"},
		{Name: "d", Fn: "d.conda", URL: "d.conda"},
		{Name: "e", Fn: "", URL: "https://h/"},
	}, Removed: []string{}}
	got, err := decodeCompact(encodeCompact(edge))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(edge, got); d != "" {
		t.Fatalf("nil/empty lists, negative numbers or file names lost (-want +got):\n%s", d)
	}
	// Equal lists share storage; appending to one must not change another.
	b := got.Packages[1].Depends
	b = append(b, "z")
	if d := got.Packages[2].Depends; len(d) != 2 || b[2] != "z" {
		t.Fatalf("append to a shared list leaked into another record: %q", d)
	}
}

// A damaged compact cache entry is ignored and the JSON parsed again.
func TestDamagedCompactCacheIsReparsed(t *testing.T) {
	dir := t.TempDir()
	raw := readTestdata(t, forgeDir+"/noarch/repodata.json")
	os.MkdirAll(filepath.Join(dir, "noarch"), 0o755)
	os.WriteFile(filepath.Join(dir, "noarch", "repodata.json"), raw, 0o644)
	ch := Channel{URL: "file://" + dir}
	want := mustParse(t, raw, ch.URL, "noarch")
	good := encodeCompact(want)
	damages := map[string][]byte{
		"garbage":        []byte(compactMagic + "garbage"),
		"old format":     append([]byte("RBRD\x02"), good[len(compactMagic):]...),
		"truncated":      good[:len(good)/2],
		"header only":    good[:headerSize],
		"trailing bytes": append(append([]byte(nil), good...), 0),
		"empty":          {},
	}
	for name, bad := range damages {
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			c := testClient(t, cache)
			if _, err := c.Repodata(context.Background(), ch, "noarch"); err != nil {
				t.Fatal(err)
			}
			bins, _ := filepath.Glob(filepath.Join(cache, "repodata", "compact", "*.bin"))
			if len(bins) != 1 {
				t.Fatalf("compact cache entries: %v", bins)
			}
			os.WriteFile(bins[0], bad, 0o644)
			rd, err := c.Repodata(context.Background(), ch, "noarch")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, rd); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
			// The re-parse rewrote a good entry.
			if again, err := c.readCompact(bins[0]); err != nil || cmp.Diff(want, again) != "" {
				t.Fatalf("cache entry not repaired: %v", err)
			}
		})
	}
}

// A client maps each compact file once however often it loads it, and past the process
// budget it reads files instead of mapping them.
func TestCompactMappingsReusedAndBounded(t *testing.T) {
	rd := mustParse(t, readTestdata(t, forgeDir+"/noarch/repodata.json"), "https://conda.anaconda.org/conda-forge", "noarch")
	p := filepath.Join(t.TempDir(), "noarch.bin")
	os.WriteFile(p, encodeCompact(rd), 0o644)
	c := testClient(t, t.TempDir())
	before := mappedBytes.Load()
	for range 3 {
		got, err := c.readCompact(p)
		if err != nil || cmp.Diff(rd, got) != "" {
			t.Fatalf("load: %v", err)
		}
	}
	fi, _ := os.Stat(p)
	if runtime.GOOS == "linux" && (len(c.maps.byKey) != 1 || mappedBytes.Load()-before != fi.Size()) {
		t.Fatalf("3 loads: %d mappings, %d bytes mapped; want 1 and %d", len(c.maps.byKey), mappedBytes.Load()-before, fi.Size())
	}
	// With the budget spent, a second client still loads the file, by reading it.
	mappedBytes.Add(maxMapped)
	defer mappedBytes.Add(-maxMapped)
	c2 := testClient(t, t.TempDir())
	got, err := c2.readCompact(p)
	if err != nil || cmp.Diff(rd, got) != "" {
		t.Fatalf("load past the budget: %v", err)
	}
	if len(c2.maps.byKey) != 0 {
		t.Fatal("mapped past the budget")
	}
}

// readCompactByReading is readCompact without the memory mapping (the path taken off
// Linux or when mapping fails).
func (c *Client) readCompactByReading(path string) (*conda.Repodata, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return readCompactFile(f, fi.Size(), &c.scratch)
}

// Both ways of loading a compact file give the same records, reject damaged files,
// and what one load returned survives the next (the read path reuses a scratch buffer
// for the tables; strings must point only into each load's own blob or mapping).
func TestCompactLoaders(t *testing.T) {
	dir := t.TempDir()
	var wants []*conda.Repodata
	var paths []string
	for i, sub := range []string{"linux-64", "noarch", "linux-64"} {
		rd := mustParse(t, readTestdata(t, forgeDir+"/"+sub+"/repodata.json"), "https://conda.anaconda.org/conda-forge", sub)
		p := filepath.Join(dir, fmt.Sprint(i))
		os.WriteFile(p, encodeCompact(rd), 0o644)
		wants, paths = append(wants, rd), append(paths, p)
	}
	good := encodeCompact(wants[1])
	damaged := map[string][]byte{
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(append([]byte(nil), good...), 0),
		"header only":    good[:headerSize],
		"short":          good[:3],
		"bad list ref":   append(append([]byte(nil), good[:len(good)-recordSize+recDepends]...), append([]byte{0xff, 0xff, 0xff, 0x7f}, good[len(good)-recordSize+recDepends+4:]...)...),
	}
	c := testClient(t, t.TempDir())
	loaders := map[string]func(string) (*conda.Repodata, error){"mapped": c.readCompact, "read": c.readCompactByReading}
	for name, load := range loaders {
		t.Run(name, func(t *testing.T) {
			var gots []*conda.Repodata
			for _, p := range paths {
				rd, err := load(p)
				if err != nil {
					t.Fatal(err)
				}
				gots = append(gots, rd)
			}
			for i := range wants {
				if d := cmp.Diff(wants[i], gots[i]); d != "" {
					t.Fatalf("load %d wrong or changed by later loads (-want +got):\n%s", i, d)
				}
			}
			for what, data := range damaged {
				p := filepath.Join(t.TempDir(), "bad")
				os.WriteFile(p, data, 0o644)
				if rd, err := load(p); err == nil {
					t.Errorf("%s: loaded %d records from a damaged file", what, len(rd.Packages))
				}
			}
		})
	}
}

func FuzzDecodeCompact(f *testing.F) {
	small := &conda.Repodata{Info: conda.RepodataInfo{Subdir: "noarch"}, Packages: []conda.PackageRecord{
		{Name: "a", Version: "1", Depends: []string{"b >1"}, Fn: "a-1-0.conda"},
	}}
	f.Add(encodeCompact(small))
	small.Packages = append(small.Packages, conda.PackageRecord{Name: "b", Depends: []string{"b >1"}, Constrains: []string{},
		Fn: "b-1-0.conda", URL: "https://h/noarch/b-1-0.conda", Size: 7}, conda.PackageRecord{Name: "c", Fn: "x", URL: "y"})
	small.Removed = []string{"z"}
	f.Add(encodeCompact(small))
	f.Add([]byte(compactMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := decodeCompact(data)
		if err != nil {
			return
		}
		// Whatever decodes must encode back to something that decodes the same.
		again, err := decodeCompact(encodeCompact(rd))
		if err != nil {
			t.Fatalf("re-encoded form does not decode: %v", err)
		}
		if d := cmp.Diff(rd, again); d != "" {
			t.Fatalf("round trip differs:\n%s", d)
		}
	})
}

func TestMetaRoundTrip(t *testing.T) {
	full := repodataMeta{SHA256: strings.Repeat("ab", 32), URL: "https://h/c/linux-64/repodata.json",
		ETag: `W/"5f2a-\"x\""`, LastModified: "Tue, 24 Nov 2026 00:00:00 GMT", NoZstBase: "https://m/c",
		FetchedAt: 1764000000, Path: "/dir with space/new\nline/é/repodata.json", Size: 2281843,
		MtimeNs: -1, Ino: 1<<64 - 1}
	for _, m := range []repodataMeta{{}, full, {SHA256: "x", Path: "p"}} {
		if got := parseMeta(string(m.marshal())); got != m {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
	// Anything damaged or unknown is a cache miss, never a partial value.
	good := string(full.marshal())
	for _, bad := range []string{"", "{}", `{"sha256":"x"}`, good[:len(good)-3], strings.Replace(good, "size ", "size x", 1),
		good + "colour \"red\"\n", strings.Replace(good, metaHeader, "reprobuild-repodata-meta 2\n", 1), good + "noseparator\n"} {
		if got := parseMeta(bad); got != (repodataMeta{}) {
			t.Errorf("parseMeta(%q) = %+v, want the zero value", bad, got)
		}
	}
}
