package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/catalog"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// TestMain lets a test run this binary as the reprobuild CLI in a child process (the
// kill-mid-build test needs a server it can SIGKILL).
func TestMain(m *testing.M) {
	if os.Getenv("REPROBUILD_TEST_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func examplesDir(t testing.TB) string {
	d, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// quickstartRecipe is examples/quickstart with the channel URL replaced by channelURL
// (default: the examples channel as a file:// URL) and the base as an absolute oci: path,
// as a catalogue needs them.
func quickstartRecipe(t testing.TB, channelURL string) string {
	ex := examplesDir(t)
	src, err := os.ReadFile(filepath.Join(ex, "quickstart", "reprobuild.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if channelURL == "" {
		channelURL = "file://" + filepath.Join(ex, "channel")
	}
	s := strings.Replace(string(src), `url = "../channel"`, fmt.Sprintf("url = %q", channelURL), 1)
	s = strings.Replace(s, `oci:../bases/busybox`, "oci:"+filepath.Join(ex, "bases", "busybox"), 1)
	if s == string(src) || !strings.Contains(s, channelURL) {
		t.Fatal("examples/quickstart/reprobuild.hcl changed shape: update quickstartRecipe")
	}
	return s
}

type testCatalog struct {
	srv   *catalog.Server
	http  *httptest.Server
	URL   string
	Admin string
	Data  string
}

func startCatalog(t testing.TB, db string, workers int) *testCatalog {
	t.Helper()
	return startCatalogWith(t, db, workers, "")
}

func startCatalogWith(t testing.TB, db string, workers int, registry string) *testCatalog {
	t.Helper()
	ex := examplesDir(t)
	data := t.TempDir()
	cb, err := newCatalogBuilder(builder.ChannelOptions{Offline: true, CacheDir: t.TempDir()}, "embedded", "", registry, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := catalog.New(ctx, catalog.Options{
		DataDir: data, DB: db, Builder: cb, Workers: workers, Registry: registry,
		Policy: catalog.Policy{Allow: []string{"file://" + filepath.Join(ex, "channel"), "oci:" + filepath.Join(ex, "bases")}},
		Now:    time.Now,
		Logf:   t.Logf,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv.Start(ctx)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		srv.Close()
	})
	tok, err := os.ReadFile(srv.AdminTokenPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(srv.AdminTokenPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token mode %v, want 0600", fi.Mode().Perm())
	}
	return &testCatalog{srv: srv, http: hs, URL: hs.URL, Admin: strings.TrimSpace(string(tok)), Data: data}
}

// call does an API request and decodes a JSON answer into out (when not nil).
func (c *testCatalog) call(t testing.TB, token, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, c.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

func (c *testCatalog) token(t testing.TB, ns, role string) string {
	var out struct{ Token string }
	if code := c.call(t, c.Admin, "POST", "/api/v1/tokens", map[string]string{"name": role + "-of-" + ns, "namespace": ns, "role": role}, &out); code != 201 {
		t.Fatalf("creating a %s token: %d", role, code)
	}
	return out.Token
}

// waitVersion polls until the version's build finished.
func (c *testCatalog) waitVersion(t testing.TB, ns, env string, n int64) catalog.Version {
	t.Helper()
	deadline := time.Now().Add(15 * time.Minute)
	for {
		var v catalog.Version
		c.call(t, c.Admin, "GET", fmt.Sprintf("/api/v1/namespaces/%s/environments/%s/versions/%d", ns, env, n), nil, &v)
		if v.Status == catalog.StatusSucceeded || v.Status == catalog.StatusFailed {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s@%d still %s", ns, env, n, v.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func forEachCatalogDB(t *testing.T, f func(t *testing.T, db string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "") })
	t.Run("postgres", func(t *testing.T) {
		pg := testutil.StartPostgres(t)
		f(t, pg.NewDatabase(t))
	})
}

func TestCatalogAPI(t *testing.T) {
	forEachCatalogDB(t, func(t *testing.T, db string) {
		c := startCatalog(t, db, 2)
		dir := t.TempDir()
		recipe := quickstartRecipe(t, "")
		file := filepath.Join(dir, "reprobuild.hcl")
		os.WriteFile(file, []byte(recipe), 0o644)

		// Submit through the CLI and wait: the digest is the CLI's own build's.
		out, stderr, err := run(t, "submit", "-f", file, "--to", c.URL+"/lab/quick", "--token", c.Admin, "--wait")
		if err != nil {
			t.Fatalf("submit: %v\n%s", err, stderr)
		}
		digest := strings.TrimSpace(out)
		if !strings.HasPrefix(digest, "sha256:") {
			t.Fatalf("submit printed %q", out)
		}
		local := t.TempDir()
		os.WriteFile(filepath.Join(local, "reprobuild.hcl"), []byte(recipe), 0o644)
		res, err := builder.Image(context.Background(), builder.ImageOptions{Recipe: filepath.Join(local, "reprobuild.hcl"), Output: "oci:" + filepath.Join(local, "out"), Channel: builder.ChannelOptions{Offline: true, CacheDir: t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Digest != digest {
			t.Errorf("catalogue build %s, local build of the same recipe %s", digest, res.Digest)
		}

		// A rebuild from the recorded lock gives the same digest; a viewer may not ask
		// for one (checked below).
		var rb struct{ Build int64 }
		if code := c.call(t, c.Admin, "POST", "/api/v1/namespaces/lab/environments/quick/versions/1/builds", nil, &rb); code != 202 || rb.Build == 0 {
			t.Fatalf("rebuild: %d %+v", code, rb)
		}
		rv := c.waitVersion(t, "lab", "quick", 1)
		if len(rv.Builds) != 2 || rv.Builds[1].Status != catalog.StatusSucceeded || rv.Builds[1].Digest != digest {
			t.Errorf("rebuild of v1: %+v (first build %s)", rv.Builds, digest)
		}

		// A second version without one package: the diff says so.
		v2 := strings.Replace(recipe, `    "test-package",`+"\n", "", 1)
		os.WriteFile(file, []byte(v2), 0o644)
		if _, stderr, err := run(t, "submit", "-f", file, "--to", c.URL+"/lab/quick", "--token", c.Admin, "--wait"); err != nil {
			t.Fatalf("submit v2: %v\n%s", err, stderr)
		}
		var d catalog.Diff
		c.call(t, c.Admin, "GET", "/api/v1/namespaces/lab/environments/quick/versions/2/diff", nil, &d)
		if len(d.Removed) != 1 || d.Removed[0].Name != "test-package" || len(d.Added) != 0 || d.From != 1 {
			t.Errorf("diff v1..v2: %+v", d)
		}

		// pull writes the recipe and lock of a version.
		pulled := t.TempDir()
		if _, stderr, err := run(t, "pull", c.URL+"/lab/quick@1", "-o", pulled, "--token", c.Admin); err != nil {
			t.Fatalf("pull: %v\n%s", err, stderr)
		}
		gotRecipe, _ := os.ReadFile(filepath.Join(pulled, "reprobuild.hcl"))
		gotLock, _ := os.ReadFile(filepath.Join(pulled, "reprobuild.lock"))
		wantLock, _ := os.ReadFile(filepath.Join(local, "reprobuild.lock"))
		if string(gotRecipe) != recipe || string(gotLock) != string(wantLock) {
			t.Errorf("pull @1: recipe equal %v, lock equal %v", string(gotRecipe) == recipe, string(gotLock) == string(wantLock))
		}

		// A viewer cannot submit.
		viewer := c.token(t, "lab", catalog.RoleViewer)
		var e struct{ Error string }
		if code := c.call(t, viewer, "POST", "/api/v1/namespaces/lab/environments/quick/versions", map[string]string{"recipe": recipe}, &e); code != 403 || !strings.Contains(e.Error, "may not submit") {
			t.Errorf("viewer submit: %d %q", code, e.Error)
		}
		if code := c.call(t, viewer, "POST", "/api/v1/namespaces/lab/environments/quick/versions/1/builds", nil, nil); code != 403 {
			t.Errorf("viewer rebuild: %d", code)
		}
		if _, _, err := run(t, "submit", "-f", file, "--to", c.URL+"/lab/quick", "--token", viewer); err == nil || !strings.Contains(err.Error(), "may not submit") {
			t.Errorf("submit with a viewer token: %v", err)
		}
		var envs []catalog.Environment
		c.call(t, viewer, "GET", "/api/v1/environments", nil, &envs)
		if len(envs) != 1 || envs[0].Latest != 2 {
			t.Errorf("viewer sees %+v", envs)
		}

		// Another namespace's environments are invisible.
		other := c.token(t, "other", catalog.RoleEditor)
		envs = nil
		c.call(t, other, "GET", "/api/v1/environments", nil, &envs)
		if len(envs) != 0 {
			t.Errorf("a token of namespace other sees %+v", envs)
		}
		for _, p := range []string{"/api/v1/namespaces/lab/environments", "/api/v1/namespaces/lab/environments/quick", "/api/v1/namespaces/lab/environments/quick/versions/1", "/api/v1/namespaces/lab/environments/quick/versions/1/lock"} {
			if code := c.call(t, other, "GET", p, nil, nil); code != 404 {
				t.Errorf("GET %s with a token of namespace other: %d, want 404", p, code)
			}
		}
		if code := c.call(t, other, "POST", "/api/v1/namespaces/lab/environments/quick/versions", map[string]string{"recipe": recipe}, nil); code != 403 {
			t.Errorf("submit to lab with a token of other: %d", code)
		}
		if code := c.call(t, "rbt_bogus", "GET", "/api/v1/environments", nil, nil); code != 401 {
			t.Errorf("unknown token: %d", code)
		}

		// A channel the server does not allow is refused with the reason; nothing is recorded.
		var re catalog.RecipeError
		bad := strings.Replace(recipe, "file://"+filepath.Join(examplesDir(t), "channel"), "https://conda.anaconda.org/conda-forge", 1)
		if code := c.call(t, c.Admin, "POST", "/api/v1/namespaces/lab/environments/quick/versions", map[string]string{"recipe": bad}, &re); code != 422 || !strings.Contains(re.Message, "does not allow") || !strings.Contains(re.Message, "conda-forge") {
			t.Errorf("disallowed channel: %d %+v", code, re)
		}
		// So is a PyPI index the server does not allow (--allow-pypi), with its own reason.
		re = catalog.RecipeError{}
		pip := strings.Replace(recipe, "dependencies {", "pypi \"pypi\" {\n  url = \"https://pypi.org/simple\"\n}\ndependencies {\n  pip = [\"requests\"]", 1)
		if code := c.call(t, c.Admin, "POST", "/api/v1/namespaces/lab/environments/quick/versions", map[string]string{"recipe": pip}, &re); code != 422 || !strings.Contains(re.Message, "https://pypi.org/simple, which this server does not allow as a package index") {
			t.Errorf("disallowed PyPI index: %d %+v", code, re)
		}

		// A malformed recipe gets the CLI's diagnostics, rendered the same way.
		broken := strings.Replace(recipe, "solver {", "solver {\n  wibble = 1", 1)
		os.WriteFile(file, []byte(broken), 0o644)
		_, _, lockErr := run(t, "lock", "-f", file, "--offline")
		if lockErr == nil {
			t.Fatal("reprobuild lock accepted the malformed recipe")
		}
		cliErr := lockErr.Error()
		_, subErr, err := run(t, "submit", "-f", file, "--to", c.URL+"/lab/quick", "--token", c.Admin)
		if err == nil || !strings.Contains(err.Error(), "reprobuild.hcl has 1 error") {
			t.Errorf("malformed submit: %v", err)
		}
		re = catalog.RecipeError{}
		c.call(t, c.Admin, "POST", "/api/v1/namespaces/lab/environments/quick/versions", map[string]string{"filename": "reprobuild.hcl", "recipe": broken}, &re)
		if len(re.Diagnostics) == 0 || re.Diagnostics[0].File != "reprobuild.hcl" || re.Diagnostics[0].Line != 26 || re.Diagnostics[0].Summary == "" {
			t.Errorf("diagnostics %+v", re.Diagnostics)
		}
		// The rendering is the CLI's, with the submitted file name in place of the path.
		if want := strings.ReplaceAll(cliErr, file, "reprobuild.hcl"); !strings.Contains(want, strings.TrimSpace(subErr)) || subErr == "" {
			t.Errorf("submit printed\n%s\nthe CLI printed\n%s", subErr, cliErr)
		}
		vs := 0
		var env struct{ Versions []catalog.Version }
		c.call(t, c.Admin, "GET", "/api/v1/namespaces/lab/environments/quick", nil, &env)
		vs = len(env.Versions)
		if vs != 2 {
			t.Errorf("%d versions after refused submissions, want 2", vs)
		}

		// The audit log shows who did what, to admins only.
		var log []catalog.AuditEntry
		c.call(t, c.Admin, "GET", "/api/v1/audit-log", nil, &log)
		actions := map[string]int{}
		for _, e := range log {
			actions[e.Action]++
		}
		if actions["submit"] != 2 || actions["token.create"] != 3 || actions["rebuild"] != 1 {
			t.Errorf("audit log actions %v", actions)
		}
		if code := c.call(t, viewer, "GET", "/api/v1/audit-log", nil, nil); code != 403 {
			t.Errorf("viewer reads the audit log: %d", code)
		}
		// Revoking a token takes effect at once, cache or not.
		var toks []catalog.Token
		c.call(t, c.Admin, "GET", "/api/v1/tokens", nil, &toks)
		for _, tk := range toks {
			if tk.Name == "viewer-of-lab" {
				if code := c.call(t, c.Admin, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", tk.ID), nil, nil); code != 204 {
					t.Errorf("revoke: %d", code)
				}
			}
		}
		if code := c.call(t, viewer, "GET", "/api/v1/environments", nil, nil); code != 401 {
			t.Errorf("a revoked token still reads: %d", code)
		}
		if err := c.srv.Store().IntegrityCheck(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func TestCatalogConcurrentSubmissions(t *testing.T) {
	forEachCatalogDB(t, func(t *testing.T, db string) {
		c := startCatalog(t, db, 4)
		recipe := quickstartRecipe(t, "")
		const n = 20
		var wg sync.WaitGroup
		nums := make([]int64, n)
		codes := make([]int, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var v catalog.Version
				codes[i] = c.call(t, c.Admin, "POST", "/api/v1/namespaces/lab/environments/many/versions", map[string]string{"recipe": recipe}, &v)
				nums[i] = v.Number
			}()
		}
		wg.Wait()
		for i, code := range codes {
			if code != 202 {
				t.Fatalf("submission %d: HTTP %d", i, code)
			}
		}
		sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
		for i, x := range nums {
			if x != int64(i+1) {
				t.Fatalf("version numbers %v: want 1..%d, each once", nums, n)
			}
		}
		digests := map[string]int{}
		for i := range n {
			v := c.waitVersion(t, "lab", "many", int64(i+1))
			if v.Status != catalog.StatusSucceeded {
				t.Errorf("version %d: %s: %s", v.Number, v.Status, v.Builds[0].Error)
			}
			digests[v.Builds[0].Digest]++
		}
		if len(digests) != 1 {
			t.Errorf("20 builds of one recipe gave %d digests: %v", len(digests), digests)
		}
		var env struct{ Versions []catalog.Version }
		c.call(t, c.Admin, "GET", "/api/v1/namespaces/lab/environments/many", nil, &env)
		if len(env.Versions) != n {
			t.Errorf("%d versions listed, want %d", len(env.Versions), n)
		}
		if err := c.srv.Store().IntegrityCheck(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// TestCatalogRegistry: with --registry the server pushes each build to
// REGISTRY/NAMESPACE/ENV:vN (a real docker-registry on 127.0.0.1) and the page's run
// lines name the image by digest.
func TestCatalogRegistry(t *testing.T) {
	reg := testutil.StartRegistry(t)
	c := startCatalogWith(t, "", 1, reg.Host()+"/catalog")
	if code := c.call(t, c.Admin, "POST", "/api/v1/namespaces/lab/environments/pushed/versions", map[string]string{"recipe": quickstartRecipe(t, "")}, nil); code != 202 {
		t.Fatalf("submit: %d", code)
	}
	v := c.waitVersion(t, "lab", "pushed", 1)
	if v.Status != catalog.StatusSucceeded {
		t.Fatalf("build: %s %s", v.Status, v.Builds[0].Error)
	}
	ref, err := name.ParseReference(reg.Host() + "/catalog/lab/pushed:v1")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatalf("the registry has no %s: %v", ref, err)
	}
	if desc.Digest.String() != v.Builds[0].Digest {
		t.Errorf("registry has %s, the catalogue recorded %s", desc.Digest, v.Builds[0].Digest)
	}
	req, _ := http.NewRequest("GET", c.URL+"/ns/lab/pushed/1", nil)
	req.AddCookie(&http.Cookie{Name: "reprobuild_token", Value: c.Admin})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "reprobuild launch --to kubernetes --image " + reg.Host() + "/catalog/lab/pushed@" + v.Builds[0].Digest; !strings.Contains(string(page), want) {
		t.Errorf("the version page lacks %q", want)
	}

	// The recipe and lock went beside the image as an artifact referring to it, and the
	// SBOM referrers the push attached are recorded too, all by digest.
	digest := v.Builds[0].Digest
	repo := reg.Host() + "/catalog/lab/pushed@sha256:"
	var lockRef string
	sboms := map[string]string{}
	for _, a := range v.Builds[0].Registry {
		if !strings.HasPrefix(a.Ref, repo) || a.Subject == "" {
			t.Errorf("registry artifact %+v: want a ref %s... and a subject", a, repo)
		}
		switch {
		case a.Name == "reprobuild.lock":
			lockRef = a.Ref
			if a.ArtifactType != lockArtifactType || a.Subject != digest {
				t.Errorf("lock artifact %+v: want type %s, subject %s", a, lockArtifactType, digest)
			}
		case strings.Contains(a.Name, "sbom"):
			sboms[a.Name] = a.Ref
		}
	}
	for _, a := range v.Builds[0].Registry {
		t.Logf("pushed %s %s (%s, subject %s)", a.Name, a.Ref, a.ArtifactType, a.Subject)
	}
	if lockRef == "" || len(sboms) < 2 {
		t.Fatalf("the version records %+v: want the lock artifact and the SPDX and CycloneDX SBOMs", v.Builds[0].Registry)
	}
	idx, err := remote.Referrers(ref.Context().Digest(digest))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	listed := false
	for _, d := range im.Manifests {
		listed = listed || (d.ArtifactType == lockArtifactType && strings.HasSuffix(lockRef, "@"+d.Digest.String()))
	}
	if !strings.Contains(string(page), lockRef) {
		t.Errorf("the version page does not show the lock artifact %s", lockRef)
	}
	if !listed {
		t.Errorf("the registry's referrers of %s do not list the lock artifact %s: %+v", digest, lockRef, im.Manifests)
	}

	// pull reads the recipe, the lock and the SBOMs back from the registry.
	dir := t.TempDir()
	_, stderr, err := run(t, "pull", c.URL+"/lab/pushed@1", "-o", dir, "--sboms", "--token", c.Admin)
	if err != nil {
		t.Fatalf("pull --sboms: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "from "+lockRef) {
		t.Errorf("pull did not read from the registry:\n%s", stderr)
	}
	for file, want := range map[string]string{"reprobuild.hcl": v.Recipe, "reprobuild.lock": v.Lock} {
		if got, _ := os.ReadFile(filepath.Join(dir, file)); string(got) != want {
			t.Errorf("pulled %s differs from the catalogue's", file)
		}
	}
	for name := range sboms {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("pull --sboms did not write %s: %v", name, err)
		}
		req, _ := http.NewRequest("GET", c.URL+"/api/v1/namespaces/lab/environments/pushed/versions/1/artifacts/"+name, nil)
		req.Header.Set("Authorization", "Bearer "+c.Admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Errorf("%s from the registry (%d bytes) differs from the catalogue's (HTTP %d, %d bytes)", name, len(got), resp.StatusCode, len(want))
		}
	}

	// A rebuild pushes the same artifact: its bytes depend only on recipe, lock and image.
	if code := c.call(t, c.Admin, "POST", "/api/v1/namespaces/lab/environments/pushed/versions/1/builds", nil, nil); code != 202 {
		t.Fatalf("rebuild: %d", code)
	}
	rv := c.waitVersion(t, "lab", "pushed", 1)
	if len(rv.Builds) != 2 || rv.Builds[1].Status != catalog.StatusSucceeded {
		t.Fatalf("rebuild: %+v", rv.Builds)
	}
	again := ""
	for _, a := range rv.Builds[1].Registry {
		if a.Name == "reprobuild.lock" {
			again = a.Ref
		}
	}
	if again != lockRef {
		t.Errorf("the rebuild pushed the lock artifact %s, the first build %s", again, lockRef)
	}

	// A catalogue whose lock no longer matches the registry's is caught by pull.
	if _, err := c.srv.Store().DB().Exec(`UPDATE versions SET lock = lock || '# changed' WHERE number = 1`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "pull", c.URL+"/lab/pushed", "-o", t.TempDir(), "--token", c.Admin); err == nil || !strings.Contains(err.Error(), "does not hold the catalogue's recipe and lock") {
		t.Errorf("pull of a lock changed behind the registry's back: %v", err)
	}
}
