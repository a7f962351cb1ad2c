package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/reprobuild/reprobuild/internal/lock"
)

// examplesCopy copies the examples a recipe refers to into a temporary directory, so a
// test may relock or edit them, and returns that copy's examples directory.
func examplesCopy(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "examples")
	for _, d := range []string{"channel", "bases", "quickstart", "multiarch"} {
		if err := os.CopyFS(filepath.Join(dst, d), os.DirFS(filepath.Join("..", "..", "examples", d))); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("REPROBUILD_CACHE", filepath.Join(t.TempDir(), "cache"))
	return dst
}

// editQuickstart adds a dependency to the quickstart recipe, which makes its lock stale.
func editQuickstart(t *testing.T, recipe string) {
	t.Helper()
	src, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), `"test-package",`, `"test-package", "_r-mutex",`, 1)
	if edited == string(src) {
		t.Fatal("could not edit the quickstart recipe")
	}
	if err := os.WriteFile(recipe, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
}

func codeOf(err error) int {
	if err == nil {
		return 0
	}
	return exitCode(err)
}

// TestExitCodes checks the documented exit codes: usage 2, stale lock 3 (audit 4 and
// verify 5 are checked by their own tests).
func TestExitCodes(t *testing.T) {
	ex := examplesCopy(t)
	recipe := filepath.Join(ex, "quickstart", "reprobuild.hcl")
	editQuickstart(t, recipe)
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"unknown command", []string{"nosuchcommand"}, exitUsage},
		{"unknown flag", []string{"image", "--nosuchflag"}, exitUsage},
		{"missing argument", []string{"inspect"}, exitUsage},
		{"extra argument", []string{"lock", "-f", recipe, "extra"}, exitUsage},
		{"exclusive flags", []string{"image", "-f", recipe, "--locked", "--frozen", "--output", "oci:" + out}, exitUsage},
		{"lock --check stale", []string{"lock", "-f", recipe, "--check"}, exitStaleLock},
		{"image --locked stale", []string{"image", "-f", recipe, "--offline", "--locked", "--output", "oci:" + out}, exitStaleLock},
		{"broken recipe", []string{"lock", "-f", filepath.Join(ex, "nosuch.hcl"), "--check"}, exitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, tc.args...)
			if got := codeOf(err); got != tc.want {
				t.Errorf("%v: exit %d (%v), want %d", tc.args, got, err, tc.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused build left %s behind", out)
	}
}

// TestLockedAndFrozen: --locked refuses a stale lock, --frozen builds from it unchecked,
// as pixi, uv and cargo mean the two flags.
func TestLockedAndFrozen(t *testing.T) {
	ex := examplesCopy(t)
	recipe := filepath.Join(ex, "quickstart", "reprobuild.hcl")
	lockFile := filepath.Join(ex, "quickstart", "reprobuild.lock")
	fresh, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--output", "oci:"+filepath.Join(t.TempDir(), "a"))
	if err != nil {
		t.Fatalf("--locked with an up-to-date lock: %v", err)
	}
	before, _ := os.ReadFile(lockFile)
	editQuickstart(t, recipe)
	if _, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--output", "oci:"+filepath.Join(t.TempDir(), "b")); codeOf(err) != exitStaleLock || !strings.Contains(err.Error(), "--locked") {
		t.Errorf("--locked with a stale lock: %v, want exit 3 naming --locked", err)
	}
	frozen, _, err := run(t, "image", "-f", recipe, "--offline", "--frozen", "--output", "oci:"+filepath.Join(t.TempDir(), "c"))
	if err != nil {
		t.Fatalf("--frozen with a stale lock: %v", err)
	}
	if frozen != fresh {
		t.Errorf("--frozen built %s from the unchanged lock, want %s", frozen, fresh)
	}
	if after, _ := os.ReadFile(lockFile); string(after) != string(before) {
		t.Error("--frozen rewrote the lock")
	}
}

func TestLockCheckJSONAndShow(t *testing.T) {
	ex := examplesCopy(t)
	recipe := filepath.Join(ex, "quickstart", "reprobuild.hcl")
	var res struct {
		Path     string   `json:"path"`
		UpToDate bool     `json:"up_to_date"`
		Reasons  []string `json:"reasons"`
	}
	out, _, err := run(t, "lock", "-f", recipe, "--check", "--json")
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || !res.UpToDate || len(res.Reasons) != 0 {
		t.Fatalf("lock --check --json on a fresh lock: %v\n%s", err, out)
	}

	out, _, err = run(t, "show", "-f", recipe, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var l lock.Lock
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Targets) != 1 || len(l.Targets[0].Packages) != 3 {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	if p := l.Targets[0].Packages[0]; p.Name != "hello-reprobuild" || len(p.SHA256) != 64 {
		t.Errorf("show --json first package = %+v", p)
	}
	if out, _, err := run(t, "show", "-f", recipe); err != nil || !strings.Contains(out, "linux-64 (3 packages)") || !strings.Contains(out, "small-executable") {
		t.Errorf("show: %v\n%s", err, out)
	}
	if _, _, err := run(t, "show", "-f", recipe, "--platform", "osx-64"); err == nil || !strings.Contains(err.Error(), "linux-64") {
		t.Errorf("show --platform osx-64: %v, want the targets listed", err)
	}

	editQuickstart(t, recipe)
	out, _, err = run(t, "lock", "-f", recipe, "--check", "--json")
	if codeOf(err) != exitStaleLock {
		t.Errorf("lock --check --json on a stale lock: exit %d (%v), want 3", codeOf(err), err)
	}
	res = struct {
		Path     string   `json:"path"`
		UpToDate bool     `json:"up_to_date"`
		Reasons  []string `json:"reasons"`
	}{}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.UpToDate || len(res.Reasons) == 0 {
		t.Errorf("lock --check --json on a stale lock printed %q (%v), want JSON with reasons", out, err)
	}
}

func TestLockUpdateUnknownName(t *testing.T) {
	ex := examplesCopy(t)
	recipe := filepath.Join(ex, "quickstart", "reprobuild.hcl")
	_, _, err := run(t, "lock", "-f", recipe, "--offline", "--update", "nosuchname")
	if err == nil || !strings.Contains(err.Error(), "nosuchname") {
		t.Errorf("lock --update nosuchname: %v, want an error naming it", err)
	}
	if _, _, err := run(t, "lock", "-f", recipe, "--offline", "--update", "test-package"); err != nil {
		t.Errorf("lock --update test-package: %v", err)
	}
}

// TestImagePlatformChecks: a target the base has no image for, and non-linux targets,
// are refused before anything is built; the lock still holds non-linux targets.
func TestImagePlatformChecks(t *testing.T) {
	ex := examplesCopy(t)
	write := func(dir, from, to string) string {
		t.Helper()
		src, err := os.ReadFile(filepath.Join(ex, dir, "reprobuild.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(src), from, to, 1)
		if edited == string(src) {
			t.Fatalf("could not edit %s", dir)
		}
		p := filepath.Join(ex, dir, "edited.hcl")
		if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The quickstart's busybox base is an amd64 image only.
	arm := write("quickstart", `targets = ["linux-64"]`, `targets = ["linux-64", "linux-aarch64"]`)
	out := filepath.Join(t.TempDir(), "arm")
	_, _, err := run(t, "image", "-f", arm, "--offline", "--output", "oci:"+out)
	if err == nil || !strings.Contains(err.Error(), "linux-aarch64 needs linux/arm64") || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("arm64 target on an amd64 base: %v, want a refusal naming both platforms", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused build wrote %s", out)
	}

	osx := write("multiarch", `targets = ["linux-64", "linux-aarch64"]`, `targets = ["linux-64", "osx-arm64", "win-64"]`)
	if _, _, err := run(t, "lock", "-f", osx, "--offline"); err != nil {
		t.Fatalf("locking osx-arm64 and win-64 targets: %v", err)
	}
	_, _, err = run(t, "image", "-f", osx, "--offline", "--locked", "--output", "oci:"+filepath.Join(t.TempDir(), "osx"))
	if err == nil || !strings.Contains(err.Error(), "osx-arm64, win-64") || !strings.Contains(err.Error(), "linux only") {
		t.Errorf("osx/win targets: %v, want a refusal naming them", err)
	}
	// --platform picks the linux target of such a lock.
	if _, _, err := run(t, "image", "-f", osx, "--offline", "--locked", "--platform", "linux-64", "--output", "oci:"+filepath.Join(t.TempDir(), "linux")); err != nil {
		t.Errorf("--platform linux-64 of a lock with osx and win targets: %v", err)
	}
}

// TestImagePlatformFlag: --platform builds one target, and its image is the one the
// full multi-platform build holds for that platform.
func TestImagePlatformFlag(t *testing.T) {
	t.Setenv("REPROBUILD_CACHE", t.TempDir())
	recipe := filepath.Join("..", "..", "examples", "multiarch", "reprobuild.hcl")
	full := filepath.Join(t.TempDir(), "full")
	if _, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--output", "oci:"+full); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(full)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := idx.IndexManifest()
	inner, err := idx.ImageIndex(top.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := inner.IndexManifest()
	want := map[string]string{}
	for _, d := range im.Manifests {
		want[d.Platform.String()] = d.Digest.String()
	}
	for _, p := range []string{"linux-aarch64", "linux/amd64"} {
		out, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--platform", p, "--output", "oci:"+filepath.Join(t.TempDir(), "one"))
		if err != nil {
			t.Fatalf("--platform %s: %v", p, err)
		}
		oci := map[string]string{"linux-aarch64": "linux/arm64", "linux/amd64": "linux/amd64"}[p]
		if got := strings.TrimSpace(out); got != want[oci] {
			t.Errorf("--platform %s built %s; the full build's %s image is %s", p, got, oci, want[oci])
		}
	}
	if _, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--platform", "linux-ppc64le", "--output", "oci:"+filepath.Join(t.TempDir(), "x")); err == nil ||
		!strings.Contains(err.Error(), "linux-64, linux-aarch64") {
		t.Errorf("--platform linux-ppc64le: %v, want the targets listed", err)
	}
}

// TestExportExplicitAbsolute: an explicit export of a recipe with a relative file://
// channel names every package by an absolute URL that exists, with its sha256 (or md5
// with --hash md5), so conda can install it from any directory.
func TestExportExplicitAbsolute(t *testing.T) {
	ex := examplesCopy(t)
	recipe := filepath.Join(ex, "quickstart", "reprobuild.hcl")
	l := mustLoadLock(t, recipe)
	for _, hash := range []string{"sha256", "md5"} {
		out, _, err := run(t, "export", "-f", recipe, "--format", "explicit", "--hash", hash)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(out, "\n") {
			if line == "" || strings.HasPrefix(line, "#") || line == "@EXPLICIT" {
				continue
			}
			n++
			u, frag, _ := strings.Cut(line, "#")
			p, ok := strings.CutPrefix(u, "file://")
			if !ok || !filepath.IsAbs(p) {
				t.Errorf("line %q: want an absolute file:// URL", line)
				continue
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("line %q: %v", line, err)
				continue
			}
			var want string
			for _, pk := range l.Targets[0].Packages {
				if filepath.Base(p) == pk.Fn {
					want = "sha256:" + pk.SHA256
					if hash == "md5" {
						want = pk.MD5
					}
				}
			}
			if frag != want || want == "" {
				t.Errorf("line %q: fragment %q, want %q", line, frag, want)
			}
			if hash == "sha256" && frag != "sha256:"+sha256hex(t, string(data)) {
				t.Errorf("line %q: the file's sha256 differs", line)
			}
		}
		if n != len(l.Targets[0].Packages) {
			t.Errorf("--hash %s: %d package lines, want %d", hash, n, len(l.Targets[0].Packages))
		}
	}
}

func mustLoadLock(t *testing.T, recipe string) *lock.Lock {
	t.Helper()
	out, _, err := run(t, "show", "-f", recipe, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var l lock.Lock
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	return &l
}

// TestCompletions checks cobra's value completion for the flags with fixed values.
func TestCompletions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"image", "--engine", ""}, []string{"embedded", "buildkit"}},
		{[]string{"image", "--output", ""}, []string{"oci:", "docker:"}},
		{[]string{"export", "--format", ""}, []string{"explicit", "conda-lock", "environment"}},
		{[]string{"inspect", "--platform", ""}, []string{"linux-64", "linux/arm64"}},
		{[]string{"inspect", ""}, []string{"oci:", "docker:", "oci-archive:"}},
	} {
		out, _, err := run(t, append([]string{cobraCompleteCmd}, tc.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		lines := strings.Split(out, "\n")
		for _, w := range tc.want {
			if !slices.Contains(lines, w) {
				t.Errorf("completing %v: %q lacks %q", tc.args, out, w)
			}
		}
	}
}

const cobraCompleteCmd = "__complete"

// TestCacheInfoPrune: layers another reprobuild version wrote are reported and pruned,
// this version's stay (a rebuild reuses them); --older-than removes old entries.
func TestCacheInfoPrune(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("REPROBUILD_CACHE", cache)
	recipe := filepath.Join("..", "..", "examples", "quickstart", "reprobuild.hcl")
	digest, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--output", "oci:"+filepath.Join(t.TempDir(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	type kind struct {
		Name  string
		Files int
		Stale int
	}
	info := func() map[string]kind {
		t.Helper()
		out, _, err := run(t, "cache", "info", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var ci struct{ Kinds []kind }
		if err := json.Unmarshal([]byte(out), &ci); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		m := map[string]kind{}
		for _, k := range ci.Kinds {
			m[k.Name] = k
		}
		return m
	}
	layers := info()["layers"]
	if layers.Files == 0 || layers.Stale != 0 {
		t.Fatalf("after a build: layers = %+v, want files and none stale", layers)
	}
	// An entry as an older reprobuild left it: another binary hash in its key and meta.
	all, _ := filepath.Glob(filepath.Join(cache, "layers", "*", "*.json"))
	var metas []string // layer entries only: activation and envcheck records have no blob
	for _, m := range all {
		if _, err := os.Stat(strings.TrimSuffix(m, ".json") + ".blob"); err == nil {
			metas = append(metas, m)
		}
	}
	if len(metas) == 0 {
		t.Fatal("no layer cache entries")
	}
	mb, _ := os.ReadFile(metas[0])
	var m map[string]any
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	m["binary"] = strings.Repeat("0", 64)
	old, _ := json.Marshal(m)
	oldDir := filepath.Join(cache, "layers", "ff")
	os.MkdirAll(oldDir, 0o755)
	os.WriteFile(filepath.Join(oldDir, strings.Repeat("f", 64)+".json"), old, 0o644)
	os.WriteFile(filepath.Join(oldDir, strings.Repeat("f", 64)+".blob"), []byte("old layer"), 0o644)
	if got := info()["layers"]; got.Stale != 2 || got.Files != layers.Files+2 {
		t.Errorf("with an old entry: layers = %+v, want 2 stale files of %d", got, layers.Files+2)
	}
	out, _, err := run(t, "cache", "prune")
	if err != nil || !strings.Contains(out, "removed 2 files") {
		t.Errorf("cache prune: %v, %q", err, out)
	}
	if got := info()["layers"]; got != layers {
		t.Errorf("after prune: layers = %+v, want %+v", got, layers)
	}
	again, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--output", "oci:"+filepath.Join(t.TempDir(), "b"))
	if err != nil || again != digest {
		t.Errorf("rebuild after prune: %s %v, want %s", again, err, digest)
	}

	// Make every entry a year old: --older-than 30d removes them all.
	past := time.Now().Add(-365 * 24 * time.Hour)
	filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			os.Chtimes(p, past, past)
		}
		return nil
	})
	if _, _, err := run(t, "cache", "prune", "--older-than", "30d"); err != nil {
		t.Fatal(err)
	}
	if got := info()["layers"]; got.Files != 0 {
		t.Errorf("after prune --older-than 30d: layers = %+v", got)
	}
	if _, _, err := run(t, "cache", "prune", "--older-than", "soon"); codeOf(err) != exitUsage {
		t.Errorf("--older-than soon: %v, want a usage error", err)
	}
}

// TestVerifyNoCache: a layer cache entry that is self-consistent but wrong (another
// layer's bytes under this key) fools a verify that trusts the cache; verify without an
// image, and --no-cache, rebuild from the package archives and catch it.
func TestVerifyNoCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("REPROBUILD_CACHE", cache)
	recipe := filepath.Join("..", "..", "examples", "quickstart", "reprobuild.hcl")
	good := filepath.Join(t.TempDir(), "good")
	if _, _, err := run(t, "image", "-f", recipe, "--offline", "--locked", "--output", "oci:"+good); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "verify", "-f", recipe, "--offline"); err != nil {
		t.Fatalf("verify with a sound cache: %v", err)
	}
	// Poison: give every entry the bytes and metadata of the first one.
	all, _ := filepath.Glob(filepath.Join(cache, "layers", "*", "*.json"))
	var metas []string // layer entries only: activation and envcheck records have no blob
	for _, m := range all {
		if _, err := os.Stat(strings.TrimSuffix(m, ".json") + ".blob"); err == nil {
			metas = append(metas, m)
		}
	}
	if len(metas) < 2 {
		t.Fatalf("want several layer cache entries, have %d", len(metas))
	}
	src := strings.TrimSuffix(metas[0], ".json")
	for _, m := range metas[1:] {
		dst := strings.TrimSuffix(m, ".json")
		for _, ext := range []string{".json", ".blob"} {
			b, err := os.ReadFile(src + ext)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst+ext, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, _, err := run(t, "verify", "-f", recipe, "--offline")
	if codeOf(err) != exitMismatch || !strings.Contains(err.Error(), "layer cache") {
		t.Errorf("verify without an image over a poisoned cache: exit %d (%v), want 5 naming the layer cache", codeOf(err), err)
	}
	if _, _, err := run(t, "verify", "-f", recipe, "--offline", "oci:"+good); codeOf(err) != exitMismatch {
		t.Errorf("verify oci:good trusting a poisoned cache: exit %d (%v), want 5", codeOf(err), err)
	}
	if out, _, err := run(t, "verify", "-f", recipe, "--offline", "--no-cache", "oci:"+good); err != nil || !strings.Contains(out, "verified") {
		t.Errorf("verify --no-cache oci:good: %v\n%s", err, out)
	}
}

// TestPixiImportExport: init --from a real pixi.lock writes a lock holding its packages;
// export --format pixi writes them back as a pixi.lock that reads the same.
func TestPixiImportExport(t *testing.T) {
	out := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "conda", "lockfiles", "pixi", "simple-calculator", "pixi.lock")
	if _, _, err := run(t, "init", "--from", src, "-o", out); err != nil {
		t.Fatalf("init --from pixi.lock: %v", err)
	}
	recipe := filepath.Join(out, "reprobuild.hcl")
	l := mustLoadLock(t, recipe)
	if len(l.Targets) != 4 {
		t.Fatalf("imported %d targets, want 4", len(l.Targets))
	}
	var py *lock.Target
	for i := range l.Targets {
		if l.Targets[i].Platform == "linux-64" {
			py = &l.Targets[i]
		}
	}
	found := false
	for _, p := range py.Packages {
		if p.Name == "python" && p.Version == "3.13.3" && p.SHA256 == "" {
			t.Errorf("python has no sha256")
		}
		found = found || p.Name == "python"
	}
	if !found {
		t.Fatal("no python in linux-64")
	}

	exported, _, err := run(t, "export", "-f", recipe, "--format", "pixi")
	if err != nil {
		t.Fatal(err)
	}
	back, err := lock.ImportPixi([]byte(exported), "default")
	if err != nil {
		t.Fatalf("the export does not read as a pixi.lock: %v", err)
	}
	for i, tg := range back.Targets {
		if d := cmp.Diff(l.Targets[i].Packages, tg.Packages); d != "" {
			t.Errorf("%s after export (-lock +pixi.lock):\n%s", tg.Platform, d)
		}
	}
}

// TestProgressModes: plain lines for every phase when stderr is not a terminal, nothing
// with -q, every step with -v.
func TestProgressModes(t *testing.T) {
	ex := examplesCopy(t)
	recipe := filepath.Join(ex, "quickstart", "reprobuild.hcl")
	os.Remove(filepath.Join(ex, "quickstart", "reprobuild.lock"))
	_, stderr, err := run(t, "lock", "-f", recipe, "--offline")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"repodata examples linux-64 ...", "repodata examples linux-64: done", "solve linux-64 ...", "solve linux-64: done"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("lock progress lacks %q:\n%s", w, stderr)
		}
	}
	out := "oci:" + filepath.Join(t.TempDir(), "out")
	stdout, stderr, err := run(t, "image", "-f", recipe, "--offline", "--output", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"build linux-64 ...", "link and compress: done, ", "build linux-64: done", "write " + out + ": done"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("image progress lacks %q:\n%s", w, stderr)
		}
	}
	ref := localRegistry(t) + "/quickstart:1"
	_, perr, err := run(t, "image", "-f", recipe, "--offline", "--push", "--tag", ref)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`push ` + regexp.QuoteMeta(ref) + `: done, [0-9.]+ [KM]iB/[0-9.]+ [KM]iB`).MatchString(perr) {
		t.Errorf("push progress lacks the bytes pushed:\n%s", perr)
	}
	qout, qerr, err := run(t, "image", "-q", "-f", recipe, "--offline", "--output", out)
	if err != nil || qerr != "" || qout != stdout {
		t.Errorf("image -q: stderr %q, stdout %q (%v), want only the digest %q", qerr, qout, err, stdout)
	}
	_, verr, err := run(t, "lock", "-v", "-f", recipe, "--offline", "--update", "test-package")
	if err != nil || !strings.Contains(verr, "  repodata examples linux-64: noarch") {
		t.Errorf("lock -v lacks the steps (%v):\n%s", err, verr)
	}
	if _, _, err := run(t, "image", "-q", "-v", "-f", recipe, "--output", out); codeOf(err) != exitUsage {
		t.Errorf("-q -v: %v, want a usage error", err)
	}
}
