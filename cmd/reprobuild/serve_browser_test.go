package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

// screenshotDir is where the browser test leaves its screenshots:
// $REPROBUILD_TEST_ARTIFACTS/catalog when set, else a fixed directory under the system
// temp dir, so they outlive the test for a person to look at.
func screenshotDir(t *testing.T) string {
	base := os.Getenv("REPROBUILD_TEST_ARTIFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "reprobuild-test-artifacts")
	}
	dir := filepath.Join(base, "catalog")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func chromiumPath(t *testing.T) string {
	if p := os.Getenv("REPROBUILD_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	testutil.Unavailable(t, "chromium not found: install it (.ci/catalog.sh) or set REPROBUILD_CHROMIUM")
	return ""
}

// TestCatalogBrowser drives Debian's chromium (headless) through the page: sign in,
// submit a recipe, watch the live log until the build finishes, submit a second version,
// open the diff and the runtime record, and submit a malformed recipe to see the
// diagnostics. Screenshots of each page are saved for people to look at.
func TestCatalogBrowser(t *testing.T) {
	exe := chromiumPath(t)
	c := startCatalog(t, "", 2)
	shots := screenshotDir(t)
	t.Logf("screenshots in %s", shots)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first call starts the browser and must not carry a timeout (it would stop the
	// browser); later ones do.
	if err := chromedp.Do(bctx); err != nil {
		testutil.Unavailable(t, "starting chromium %s: %v", exe, err)
	}
	// Each step has its own limit, so a page that never shows what a step waits for fails
	// that step by name instead of hanging the test.
	step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(bctx, 5*time.Minute) }

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := step()
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser, %s: %v", what, err)
		}
	}
	text := func(css string) string {
		t.Helper()
		ctx, cancel := step()
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
		if err != nil {
			t.Fatalf("browser, text of %s: %v", css, err)
		}
		return s
	}
	// capture takes a screenshot, trying again when the page is being replaced (the live
	// log reloads the page when a build ends, which can fall between two protocol calls).
	capture := func(name string, a chromedp.Action[[]byte]) {
		t.Helper()
		var err error
		for try := 0; try < 10; try++ {
			ctx, cancel := step()
			var png []byte
			png, err = chromedp.Run(ctx, a)
			cancel()
			if err == nil {
				if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Fatalf("screenshot %s: %v", name, err)
	}
	shot := func(name string) {
		t.Helper()
		capture(name, chromedp.FullScreenshot(100))
		// And what a person sees first: the viewport.
		capture(strings.TrimSuffix(name, ".png")+"-top.png", chromedp.CaptureScreenshot())
	}
	recipe := quickstartRecipe(t, "")
	submit := func(env, recipeText string) {
		t.Helper()
		do("submitting "+env,
			chromedp.Navigate(c.URL+"/submit"),
			chromedp.WaitVisible(chromedp.ID("recipe")),
			chromedp.SetValue(chromedp.ID("namespace"), "lab"),
			chromedp.SetValue(chromedp.ID("environment"), env),
			chromedp.SetValue(chromedp.ID("recipe"), recipeText),
			chromedp.Click(chromedp.ID("submit")),
		)
	}

	// Sign in with the keyboard: type the token and press Enter.
	do("signing in",
		chromedp.Navigate(c.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), c.Admin+"\n"),
		chromedp.WaitVisible(chromedp.CSS("nav .who")), // only on pages of a signed-in user
	)
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}

	submit("web", recipe)
	do("opening the version", chromedp.WaitVisible(chromedp.ID("log")))
	shot("1-version-building.png")
	// app.js polls the log and reloads the page when the build ends.
	do("waiting for the build", chromedp.WaitVisible(chromedp.CSS("#status.s-succeeded")), chromedp.WaitVisible(chromedp.ID("digest")))
	status, digest, auditText := text("#status"), text("#digest"), text("ul.audit")
	shot("2-version-succeeded.png")

	submit("web", strings.Replace(recipe, `    "test-package",`+"\n", "", 1))
	do("opening the diff",
		chromedp.WaitVisible(chromedp.CSS("#status.s-succeeded")),
		chromedp.WaitVisible(chromedp.ID("digest")),
		chromedp.Click(chromedp.ID("diff-link")),
		chromedp.WaitVisible(chromedp.CSS("table.diff")),
	)
	diffText := text("table.diff")
	shot("3-diff.png")

	// Rebuild version 1 from its lock: the second build must give the same digest.
	do("rebuilding",
		chromedp.Navigate(c.URL+"/ns/lab/web/1"),
		chromedp.WaitVisible(chromedp.ID("rebuild")),
		chromedp.Click(chromedp.ID("rebuild")),
		chromedp.WaitVisible(chromedp.CSS("table.builds .mark")),
	)
	buildsText := text("table.builds")
	shot("4-rebuilt.png")
	if !strings.Contains(buildsText, "✔ yes") {
		t.Errorf("the rebuild did not give the first build's digest:\n%s", buildsText)
	}

	do("opening the record",
		chromedp.Navigate(c.URL+"/ns/lab/web/1#record"),
		chromedp.WaitVisible(chromedp.CSS("table.record")),
	)
	recordText := text("table.record")
	shot("5-record.png")

	submit("broken", strings.Replace(recipe, "solver {", "solver {\n  wibble = 1", 1))
	do("waiting for diagnostics", chromedp.WaitVisible(chromedp.CSS(".diagnostics")))
	diagText := text(".diagnostics")
	shot("6-diagnostics.png")

	// A PyPI index the server does not allow: refused on the page with the reason.
	submit("pip", strings.Replace(recipe, "dependencies {", "pypi \"pypi\" {\n  url = \"https://pypi.org/simple\"\n}\ndependencies {\n  pip = [\"requests\"]", 1))
	do("waiting for the index refusal", chromedp.WaitVisible(chromedp.CSS(".diagnostics")))
	indexText := text(".diagnostics")
	shot("6b-index-refused.png")

	do("listing", chromedp.Navigate(c.URL+"/"), chromedp.WaitVisible(chromedp.CSS("table")))
	shot("7-environments.png")
	do("audit log", chromedp.Navigate(c.URL+"/admin/audit-log"), chromedp.WaitVisible(chromedp.CSS("table")))
	shot("8-audit-log.png")

	if title != "Environments · reprobuild catalogue" {
		t.Errorf("after sign-in the title is %q", title)
	}
	var v struct {
		Builds []struct{ Digest string }
	}
	c.call(t, c.Admin, "GET", "/api/v1/namespaces/lab/environments/web/versions/1", nil, &v)
	if status != "succeeded" || digest == "" || digest != v.Builds[0].Digest {
		t.Errorf("page shows %q %q; the API says %q", status, digest, v.Builds[0].Digest)
	}
	for _, want := range []string{"1. Objectives and scope", "4. Mitigations", "pass"} {
		if !strings.Contains(auditText, want) {
			t.Errorf("audit on the page lacks %q:\n%s", want, auditText)
		}
	}
	if !strings.Contains(diffText, "removed") || !strings.Contains(diffText, "test-package") || strings.Contains(diffText, "added\tlinux-64") {
		t.Errorf("diff page:\n%s", diffText)
	}
	if !strings.Contains(recordText, "hello-reprobuild") {
		t.Errorf("record table lacks the package hello-reprobuild:\n%.2000s", recordText)
	}
	if !strings.Contains(indexText, "Package index not allowed") || !strings.Contains(indexText, "https://pypi.org/simple, which this server does not allow as a package index") {
		t.Errorf("index refusal on the page:\n%s", indexText)
	}
	if !strings.Contains(diagText, "reprobuild.hcl:26") || !strings.Contains(diagText, "Unsupported argument") {
		t.Errorf("diagnostics on the page:\n%s", diagText)
	}
}
