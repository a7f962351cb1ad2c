package index

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/pypi/pypitest"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newIndex(t *testing.T, mode string) *pypitest.Index {
	ix := pypitest.NewIndex()
	t.Cleanup(ix.Close)
	ix.Mode = mode
	ix.AddWheel(pypitest.Wheel{Name: "demo", Version: "1.0", RequiresPy: ">=3.8", Requires: []string{"dep>=2"}}, t0)
	f := ix.AddWheel(pypitest.Wheel{Name: "demo", Version: "1.1"}, t0.Add(time.Hour))
	f.Yanked = "broken build"
	ix.Add("demo", &pypitest.File{Filename: "demo-1.2.tar.gz", Body: []byte("sdist"), Uploaded: t0.Add(2 * time.Hour)})
	return ix
}

func TestProjectBothForms(t *testing.T) {
	for _, mode := range []string{"json", "html"} {
		t.Run(mode, func(t *testing.T) {
			srv := newIndex(t, mode)
			c, err := New(t.TempDir(), WithRetries(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			ix := Index{Name: "test", URL: srv.SimpleURL()}
			p, err := c.Project(context.Background(), ix, "Demo")
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Files) != 3 {
				t.Fatalf("%d files", len(p.Files))
			}
			f := p.Files[0]
			if f.Filename != "demo-1.0-py3-none-any.whl" || f.RequiresPython != ">=3.8" || len(f.SHA256) != 64 ||
				!f.HasMetadata || len(f.MetadataSHA256) != 64 || !strings.HasPrefix(f.URL, srv.URL+"/files/") {
				t.Errorf("file 0: %+v", f)
			}
			if !p.Files[1].Yanked || p.Files[1].YankedReason != "broken build" {
				t.Errorf("yanked: %+v", p.Files[1])
			}
			if mode == "json" && !p.Files[0].UploadTime.Equal(t0) {
				t.Errorf("upload time %v", p.Files[0].UploadTime)
			}
			m, err := c.Metadata(context.Background(), ix, f)
			if err != nil {
				t.Fatal(err)
			}
			if m.Version.String() != "1.0" || len(m.RequiresDist) != 1 {
				t.Errorf("metadata %+v", m)
			}
			path, err := c.Wheel(context.Background(), ix, f)
			if err != nil {
				t.Fatal(err)
			}
			if st, err := os.Stat(path); err != nil || st.Size() == 0 {
				t.Fatal(err)
			}
			// Where TestHostileIndex looks for unverified objects, this one is.
			if objs, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(path)))), "cas", "sha256", "*", "*")); len(objs) != 1 || objs[0] != path {
				t.Errorf("store objects %v, want [%s]", objs, path)
			}
		})
	}
}

func TestOfflineUsesCache(t *testing.T) {
	srv := newIndex(t, "")
	dir := t.TempDir()
	ix := Index{Name: "test", URL: srv.SimpleURL()}
	c, _ := New(dir, WithRetries(0, 0))
	p, err := c.Project(context.Background(), ix, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Metadata(context.Background(), ix, p.Files[0]); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	off, _ := New(dir, WithOffline(true))
	p2, err := off.Project(context.Background(), ix, "demo")
	if err != nil || len(p2.Files) != 3 {
		t.Fatalf("offline page: %v", err)
	}
	if _, err := off.Metadata(context.Background(), ix, p2.Files[0]); err != nil {
		t.Fatalf("offline metadata: %v", err)
	}
	_, err = off.Project(context.Background(), ix, "other")
	var oe *OfflineError
	if !errors.As(err, &oe) {
		t.Fatalf("offline miss: %v", err)
	}
}

func TestHostileIndex(t *testing.T) {
	srv := newIndex(t, "")
	srv.Garbage("junk", "this is not an index page {")
	srv.Garbage("badjson", "")
	srv.AddWheel(pypitest.Wheel{Name: "liar", Version: "1.0"}, t0).WrongHash = true
	dir := t.TempDir()
	c, _ := New(dir, WithRetries(1, time.Millisecond))
	ix := Index{Name: "test", URL: srv.SimpleURL()}
	ctx := context.Background()

	_, err := c.Project(ctx, ix, "junk")
	var fe *FormatError
	if !errors.As(err, &fe) || strings.Contains(err.Error(), "\n") {
		t.Errorf("garbage page: %v", err)
	}
	_, err = c.Project(ctx, ix, "missing")
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Errorf("missing project: %v", err)
	}
	p, err := c.Project(ctx, ix, "liar")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Wheel(ctx, ix, p.Files[0])
	var he *HashError
	if !errors.As(err, &he) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("hash mismatch: %v", err)
	}
	// Nothing unverified was cached: no object in the store, no metadata, and no page
	// for the garbage project.
	objs, _ := filepath.Glob(filepath.Join(dir, "cas", "sha256", "*", "*"))
	for _, o := range objs {
		if !strings.HasSuffix(o, ".lock") && !strings.Contains(o, "tmp") {
			t.Errorf("cached %s after a hash mismatch", o)
		}
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "pypi", "pages", "*.body"))
	if len(pages) != 1 { // only "liar"
		t.Errorf("%d pages cached, want 1 (garbage must not be cached)", len(pages))
	}
}

func TestParsePageGarbage(t *testing.T) {
	for _, c := range []struct{ body, ct string }{
		{`{"meta": {"api-version": "2.0"}, "files": []}`, "application/vnd.pypi.simple.v1+json"},
		{`{"meta": `, "application/vnd.pypi.simple.v1+json"},
		{`{"meta": {"api-version": "1.0"}, "files": [{"filename": "../x.whl", "url": "x"}]}`, "application/vnd.pypi.simple.v1+json"},
		{`plain text`, "text/plain"},
		{`random bytes`, "text/html"},
	} {
		if _, err := ParsePage([]byte(c.body), c.ct, "http://127.0.0.1/simple/x/"); err == nil {
			t.Errorf("accepted %q (%s)", c.body, c.ct)
		}
	}
}

func FuzzParsePage(f *testing.F) {
	f.Add([]byte(`{"meta": {"api-version": "1.1"}, "name": "x", "files": [{"filename": "x-1.0-py3-none-any.whl", "url": "../x.whl", "hashes": {"sha256": "ab"}, "yanked": "no", "core-metadata": {"sha256": "cd"}, "upload-time": "2024-01-01T00:00:00Z"}]}`), "application/vnd.pypi.simple.v1+json")
	f.Add([]byte(`<!DOCTYPE html><html><body><a href="x-1.0.tar.gz#sha256=ab" data-yanked="" data-requires-python="&gt;=3">x-1.0.tar.gz</a></body></html>`), "text/html")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		p, err := ParsePage(body, ct, "https://index.example/simple/x/")
		if err != nil {
			return
		}
		for _, fl := range p.Files {
			if strings.ContainsAny(fl.Filename, "/\\") || fl.URL == "" {
				t.Fatalf("accepted file %+v", fl)
			}
		}
	})
}
