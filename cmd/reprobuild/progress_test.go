package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

// httpChannelProject serves a copy of the examples' channel over HTTP on 127.0.0.1 and
// writes the quickstart recipe over it (no lock yet); it returns the recipe and the
// channel's URL.
func httpChannelProject(t *testing.T) (recipe, url string) {
	t.Helper()
	ex := examplesCopy(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(ex, "channel"))))
	t.Cleanup(srv.Close)
	dir := filepath.Join(ex, "quickstart")
	src, err := os.ReadFile(filepath.Join(dir, "reprobuild.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), `url = "../channel"`, `url = "`+srv.URL+`"`, 1)
	if edited == string(src) {
		t.Fatal("the quickstart recipe no longer has url = \"../channel\"")
	}
	recipe = filepath.Join(dir, "reprobuild.hcl")
	if err := os.WriteFile(recipe, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "reprobuild.lock"))
	return recipe, srv.URL
}

// TestRepodataDownloadProgress: off a terminal, each repodata download is a plain line
// when it starts and one with its bytes and total when it ends; with -q there is none.
func TestRepodataDownloadProgress(t *testing.T) {
	recipe, url := httpChannelProject(t)
	_, stderr, err := run(t, "lock", "-f", recipe)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, sd := range []string{"linux-64", "noarch"} {
		u := regexp.QuoteMeta(url + "/" + sd + "/repodata.json")
		start := regexp.MustCompile(`(?m)^download ` + u + ` \.\.\.$`)
		end := regexp.MustCompile(`(?m)^download ` + u + `: done, ([0-9.]+ K?i?B)/([0-9.]+ K?i?B)`)
		m := end.FindStringSubmatch(stderr)
		if !start.MatchString(stderr) || m == nil || m[1] != m[2] {
			t.Errorf("no download lines for %s with bytes equal to the total:\n%s", sd, stderr)
		}
	}
	if strings.Contains(stderr, "\r") {
		t.Errorf("off a terminal the progress redraws lines:\n%q", stderr)
	}
	// A new cache: the documents are downloaded again, and -q says nothing.
	t.Setenv("REPROBUILD_CACHE", t.TempDir())
	os.Remove(filepath.Join(filepath.Dir(recipe), "reprobuild.lock"))
	if _, qerr, err := run(t, "lock", "-q", "-f", recipe); err != nil || qerr != "" {
		t.Errorf("lock -q: %v, stderr %q, want nothing", err, qerr)
	}
}

// TestRepodataDownloadProgressTTY runs the CLI in a pseudo-terminal (util-linux's
// script(1)): the downloads are drawn in place on the status line, with bytes.
func TestRepodataDownloadProgressTTY(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		testutil.Unavailable(t, "script (util-linux) is not installed: %v", err)
	}
	bin := filepath.Join(testutil.RequireStaticBinaries(t), "reprobuild")
	recipe, url := httpChannelProject(t)
	cmd := exec.Command(script, "-qec", bin+" lock -f "+recipe, "/dev/null")
	cmd.Env = append(os.Environ(), "TERM=xterm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "\r\033[K") || !regexp.MustCompile(`… [^\r]*download `+regexp.QuoteMeta(url)+`/[a-z0-9-]+/repodata\.json [0-9.]+ K?i?B`).MatchString(s) {
		t.Errorf("no status line with download bytes in the terminal output:\n%q", s)
	}
	if !strings.Contains(s, "✔ download "+url+"/noarch/repodata.json: done, ") {
		t.Errorf("no finished download line in the terminal output:\n%q", s)
	}
}
