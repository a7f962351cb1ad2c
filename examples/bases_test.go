package examples

import (
	"archive/tar"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

var updateBases = flag.Bool("update-bases", false, "rebuild examples/bases/busybox from this machine's /bin/busybox (Debian busybox-static)")

// busyboxApplets are linked to /bin/busybox so scripts in the examples can run.
var busyboxApplets = []string{"cat", "echo", "env", "ls", "sh", "test", "true"}

// TestBusyboxBase rebuilds the committed busybox base layout (only with -update-bases,
// since it depends on the Debian busybox-static binary of the machine) and otherwise
// checks the committed layout is a valid, single-manifest OCI layout.
func TestBusyboxBase(t *testing.T) {
	dir := filepath.Join("bases", "busybox")
	if *updateBases {
		bin, err := os.ReadFile("/bin/busybox")
		if err != nil {
			t.Fatalf("reading /bin/busybox (apt-get install busybox-static): %v", err)
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		epoch := time.Unix(0, 0).UTC()
		hdr := func(h *tar.Header) {
			h.ModTime, h.Format = epoch, tar.FormatPAX
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range []string{"bin/", "tmp/", "usr/", "usr/bin/"} {
			mode := int64(0o755)
			if d == "tmp/" {
				mode = 0o1777
			}
			hdr(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode})
		}
		hdr(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin))})
		if _, err := tw.Write(bin); err != nil {
			t.Fatal(err)
		}
		for _, a := range busyboxApplets {
			hdr(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox"})
		}
		hdr(&tar.Header{Typeflag: tar.TypeSymlink, Name: "usr/bin/env", Linkname: "/bin/busybox"})
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		layer := static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
		img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layer)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.ConfigFile(img, &v1.ConfigFile{
			Architecture: "amd64", OS: "linux", Created: v1.Time{Time: epoch},
			RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{mustDiffID(t, layer)}},
			Config: v1.Config{Env: []string{"PATH=/bin:/usr/bin"}, Cmd: []string{"/bin/sh"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		testutil.WriteLayout(t, dir, img)
	}
	idx, m := testutil.OCILayout(t, dir)
	if len(m.Manifests) != 1 {
		t.Fatalf("examples/bases/busybox has %d manifests, want 1", len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	t.Logf("busybox base digest %s", d)
	if d != m.Manifests[0].Digest {
		t.Fatalf("manifest digest %s does not match index entry %s", d, m.Manifests[0].Digest)
	}
}

func mustDiffID(t *testing.T, l v1.Layer) v1.Hash {
	t.Helper()
	h, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
