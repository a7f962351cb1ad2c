package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPyPIIndexPolicy: a recipe whose pypi index the server does not allow is refused
// with the reason, through the API (422 with the diagnostic) and through the page's
// submit form (the diagnostic rendered); an allowed one is accepted; nothing refused is
// recorded.
func TestPyPIIndexPolicy(t *testing.T) {
	s, err := New(context.Background(), Options{
		DataDir: t.TempDir(), Builder: idleBuilder{}, Now: time.Now,
		Policy: Policy{Allow: []string{"file:///srv/channel", "oci:/srv/bases"}, AllowPyPI: []string{"https://pypi.org/simple"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	tok, err := os.ReadFile(s.AdminTokenPath)
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(tok))
	// The worker pool is not started: an accepted version stays queued.
	refused := strings.Replace(pipRecipe, "https://mirror.example/pypi/simple", "https://mirror.example/pypi-evil/simple", 1)
	accepted := strings.Replace(pipRecipe, `  mirrors = ["https://mirror.example/pypi/simple"]`+"\n", "", 1)

	post := func(recipe string) (int, RecipeError) {
		js, _ := json.Marshal(map[string]string{"filename": "reprobuild.hcl", "recipe": recipe})
		req, _ := http.NewRequest("POST", hs.URL+"/api/v1/namespaces/lab/environments/pip/versions", bytes.NewReader(js))
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var re RecipeError
		json.NewDecoder(resp.Body).Decode(&re)
		return resp.StatusCode, re
	}
	code, re := post(refused)
	if code != http.StatusUnprocessableEntity || len(re.Diagnostics) != 1 {
		t.Fatalf("API: %d %+v, want 422 with one diagnostic", code, re)
	}
	if d := re.Diagnostics[0]; d.Summary != "Package index not allowed" || d.Line != 8 || !strings.Contains(d.Detail, "https://mirror.example/pypi-evil/simple") || !strings.Contains(d.Detail, "allowed indexes: https://pypi.org/simple") {
		t.Errorf("API diagnostic %+v", d)
	}

	form := url.Values{"namespace": {"lab"}, "environment": {"pip"}, "filename": {"reprobuild.hcl"}, "recipe": {refused}}
	req, _ := http.NewRequest("POST", hs.URL+"/submit", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: admin})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := html.UnescapeString(string(body))
	for _, want := range []string{`class="diagnostics"`, "Package index not allowed", "reprobuild.hcl:8:1", "https://mirror.example/pypi-evil/simple", "PyPI indexes under <code>https://pypi.org/simple</code>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page (HTTP %d) lacks %q", resp.StatusCode, want)
		}
	}
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("page: HTTP %d, want 422", resp.StatusCode)
	}

	if n, err := s.Store().Versions(context.Background(), "lab", "pip"); err == nil && len(n) != 0 {
		t.Fatalf("refused submissions recorded %d versions", len(n))
	}
	if code, re := post(accepted); code != http.StatusAccepted {
		t.Errorf("allowed index: %d %+v", code, re)
	}
	form.Set("recipe", accepted)
	req, _ = http.NewRequest("POST", hs.URL+"/submit", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: admin})
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ns/lab/pip/2" {
		t.Errorf("page submit of an allowed recipe: HTTP %d to %q, want 303 to /ns/lab/pip/2", resp.StatusCode, resp.Header.Get("Location"))
	}
}
