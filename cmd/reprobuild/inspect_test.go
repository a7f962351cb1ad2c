package main

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// recordImage builds a real image whose top layer holds the runtime record of the
// committed clean recipe and lock.
func recordImage(t *testing.T) (v1.Image, *record.RuntimeRecord) {
	t.Helper()
	r, err := builder.LoadRecipe(copyRecipe(t, "clean"), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := builder.LoadLock(r)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := record.Runtime(r, l, record.BuildInfo{ReprobuildVersion: "v0.1.0", Engine: "embedded"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := rr.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: record.Path, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
	tw.Close()
	tb := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb)), nil })
	if err != nil {
		t.Fatal(err)
	}
	base, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	return img, rr
}

func TestInspectCommand(t *testing.T) {
	img, rr := recordImage(t)

	dir := t.TempDir()
	testutil.WriteLayout(t, dir, img)

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/lab/clean:1.0"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}

	for _, src := range []string{"oci:" + dir, ref} {
		t.Run(src, func(t *testing.T) {
			out, _, err := run(t, "inspect", src)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{"Record  /" + record.Path, "Packages (3)", "libgomp", "12.3.0", rr.LockHash, "linux/amd64 (conda linux-64)"} {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			js, _, err := run(t, "inspect", "--json", src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := record.ParseRuntime([]byte(js))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rr, got); diff != "" {
				t.Errorf("--json record (-want +got):\n%s", diff)
			}
		})
	}
	if _, _, err := run(t, "inspect"); err == nil {
		t.Error("inspect without an argument succeeded")
	}
}
