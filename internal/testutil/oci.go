package testutil

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// OCIArchive unpacks an OCI archive (BuildKit's type=oci output) into a temporary
// directory and returns its top-level index and manifest.
func OCIArchive(t testing.TB, tarPath string) (v1.ImageIndex, *v1.IndexManifest) {
	t.Helper()
	dir := t.TempDir()
	if err := ExtractTar(tarPath, dir); err != nil {
		t.Fatal(err)
	}
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
