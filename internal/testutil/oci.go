package testutil

import (
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// OCILayout opens the OCI image layout in dir and returns its top-level index and
// manifest.
func OCILayout(t testing.TB, dir string) (v1.ImageIndex, *v1.IndexManifest) {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return idx, im
}

// WriteLayout writes an OCI image layout at dir whose index lists img alone.
func WriteLayout(t testing.TB, dir string, img v1.Image) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
}

// LayoutImage is the image of an OCI layout that reprobuild image wrote: its first
// entry, or for a multi-platform output the image for this machine's architecture in
// the nested index.
func LayoutImage(t testing.TB, dir string) v1.Image {
	t.Helper()
	idx, m := OCILayout(t, dir)
	if len(m.Manifests) == 0 {
		t.Fatalf("the OCI layout %s is empty", dir)
	}
	d := m.Manifests[0]
	if !d.MediaType.IsIndex() {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	inner, err := idx.ImageIndex(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := inner.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range im.Manifests {
		if c.Platform == nil || c.Platform.Architecture == runtime.GOARCH {
			img, err := inner.Image(c.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no %s image in %s", runtime.GOARCH, dir)
	return nil
}

// OCIArchive unpacks an OCI archive (BuildKit's type=oci output) into a temporary
// directory and returns its top-level index and manifest.
func OCIArchive(t testing.TB, tarPath string) (v1.ImageIndex, *v1.IndexManifest) {
	t.Helper()
	dir := t.TempDir()
	if err := ExtractTar(tarPath, dir); err != nil {
		t.Fatal(err)
	}
	return OCILayout(t, dir)
}

// OCIArchiveImage is the single image of an OCI archive.
func OCIArchiveImage(t testing.TB, tarPath string) v1.Image {
	t.Helper()
	idx, im := OCIArchive(t, tarPath)
	if len(im.Manifests) != 1 {
		t.Fatalf("OCI archive %s has %d manifests, want 1", tarPath, len(im.Manifests))
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
