package channel

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/conda"
)

const helperEnv = "REPROBUILD_CHANNEL_TEST_HELPER"

// TestMain runs one of the package's child-process roles instead of the tests when
// its variable is set: a fetch to be killed mid-download, or a file server and a timed
// repodata load for the benchmarks.
func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		helperFetch(spec)
	}
	if dir := os.Getenv(serveEnv); dir != "" {
		helperServe(dir)
	}
	if args := strings.Fields(os.Getenv(loadEnv)); len(args) == 3 {
		helperLoad(args)
	}
	os.Exit(m.Run())
}

// helperFetch fetches one download (given as JSON) into a cache, so the parent can
// SIGKILL it mid-download.
func helperFetch(spec string) {
	var in struct {
		Cache  string
		Record conda.PackageRecord
	}
	if err := json.Unmarshal([]byte(spec), &in); err != nil {
		os.Exit(2)
	}
	c, err := New(WithCacheDir(in.Cache))
	if err != nil {
		os.Exit(2)
	}
	c.Fetch(context.Background(), []Download{{Record: in.Record}})
	os.Exit(3)
}

func TestDownloadKilledMidwayLeavesUsableCache(t *testing.T) {
	pkg := generatedPackages(1, 1<<20)[0]
	srv := newChannelServer(t)
	recs := srv.publish("c", srv.URL+"/c", []testPackage{pkg})
	path := "/c/linux-64/" + pkg.rec.Fn
	srv.setOnce(path, serveStall)
	cache := t.TempDir()
	spec, _ := json.Marshal(map[string]any{"Cache": cache, "Record": recs[0]})

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(spec))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.halfSent:
	case <-time.After(time.Minute): // only a guard against a hung child, not a measurement
		cmd.Process.Kill()
		t.Fatal("child never started downloading")
	}
	// Give the child a moment to write part of the body into its temp file.
	tmp := filepath.Join(cache, "cas", "tmp")
	for i := 0; i < 200; i++ {
		if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
			if fi, err := ents[0].Info(); err == nil && fi.Size() > 0 {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()

	ents, _ := os.ReadDir(tmp)
	if len(ents) == 0 {
		t.Fatal("the killed child left no partial file; the test did not kill it mid-way")
	}
	c := testClient(t, cache)
	if _, ok := c.Store().Path(pkg.rec.SHA256); ok {
		t.Fatal("a partial download is visible in the cache")
	}
	paths, err := c.Fetch(context.Background(), []Download{{Record: recs[0]}})
	if err != nil {
		t.Fatalf("fetch after a killed download: %v", err)
	}
	if got := fileSHA(t, paths[0]); got != pkg.rec.SHA256 {
		t.Fatalf("cached sha256 %s, want %s", got, pkg.rec.SHA256)
	}
	if n := srv.count(path); n != 2 {
		t.Fatalf("server saw %d requests, want 2", n)
	}
	if err := c.Store().Clean(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("Clean left %v", ents)
	}
}
