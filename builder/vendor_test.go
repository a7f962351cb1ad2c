package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/channel"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// sourceChannel writes a file channel at dir/src holding the real-world test packages
// (as linux-64) and returns its repodata.json.
func sourceChannel(t *testing.T, dir string) []byte {
	t.Helper()
	from := "../testdata/conda/packages/real-world"
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	pk, pc := map[string]any{}, map[string]any{}
	sub := filepath.Join(dir, "src", "linux-64")
	os.MkdirAll(sub, 0o755)
	for i, e := range ents {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(sub, e.Name()), data, 0o644)
		h := sha256.Sum256(data)
		rec := map[string]any{"name": "pkg" + string(rune('a'+i)), "version": "1.0", "build": "0", "build_number": 0,
			"subdir": "linux-64", "sha256": hex.EncodeToString(h[:]), "size": len(data)}
		if strings.HasSuffix(e.Name(), ".conda") {
			pc[e.Name()] = rec
		} else {
			pk[e.Name()] = rec
		}
	}
	doc, _ := json.Marshal(map[string]any{"info": map[string]any{"subdir": "linux-64"}, "packages": pk, "packages.conda": pc})
	os.WriteFile(filepath.Join(sub, "repodata.json"), doc, 0o644)
	return doc
}

func TestVendorFromLock(t *testing.T) {
	dir := t.TempDir()
	doc := sourceChannel(t, dir)
	path := filepath.Join(dir, "reprobuild.hcl")
	testutil.WriteFile(t, path, "channel \"local\" {\n  url = \"./src\"\n  mirrors = [\"./gone\"]\n}\n")
	r, err := LoadRecipe(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The lock records the channel URL as the recipe gives it (relative).
	canon := r.Channels[0].URL
	src, err := conda.ParseRepodata(doc, canon)
	if err != nil {
		t.Fatal(err)
	}
	recs := src.Packages
	l := NewLock(r)
	l.Targets = []lock.Target{{Platform: "linux-64", Packages: recs}}

	chans := Channels(r)
	if len(chans) != 1 || chans[0].URL != canon || strings.Contains(canon, dir) || chans[0].Location != "file://"+filepath.Join(dir, "src") ||
		len(chans[0].Mirrors) != 1 || chans[0].Mirrors[0] != "file://"+filepath.Join(dir, "gone") {
		t.Fatalf("Channels = %+v", chans)
	}

	c, err := channel.New(channel.WithCacheDir(t.TempDir()), channel.WithOffline(true))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "vendored")
	res, err := Vendor(context.Background(), r, l, out, VendorOptions{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	if res.Packages != len(recs) {
		t.Fatalf("vendored %d packages, want %d", res.Packages, len(recs))
	}
	// The vendored directory is a channel with the same records.
	raw, err := os.ReadFile(filepath.Join(out, "linux-64", "repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	rd, err := conda.ParseRepodata(raw, canon)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(recs, rd.Packages); d != "" {
		t.Fatalf("vendored repodata (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(out, "noarch", "repodata.json")); err != nil {
		t.Fatalf("no empty noarch index: %v", err)
	}
	for _, rec := range recs {
		data, err := os.ReadFile(filepath.Join(out, "linux-64", rec.Fn))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != rec.SHA256 {
			t.Errorf("%s does not verify", rec.Fn)
		}
		if strings.Contains(string(raw), dir) {
			t.Fatal("vendored repodata mentions a host path")
		}
	}
	if _, err := Vendor(context.Background(), r, l, out, VendorOptions{Client: c, Platforms: []string{"osx-arm64"}}); err == nil || !strings.Contains(err.Error(), "osx-arm64") {
		t.Fatalf("unknown platform: %v", err)
	}
}
