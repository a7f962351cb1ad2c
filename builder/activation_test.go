package builder

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/activate"
	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/install"
)

// TestActivationScriptsHardlinks: a hard-linked activation script is a regular file in
// the image (as BuildKit's tree shows it), so the embedded engine reads its content
// whichever path of the link group carries it in the layer; a symlink is not exact.
func TestActivationScriptsHardlinks(t *testing.T) {
	const dir = "opt/env/etc/conda/activate.d/"
	script := []byte("export GDAL_DATA=$CONDA_PREFIX/share/gdal\n")
	entries := []install.Entry{
		{Path: "opt", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env/etc", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env/etc/conda", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/env/etc/conda/activate.d", Type: install.TypeDir, Mode: 0o755},
		// "a-link.sh" sorts first, so the layer stores the content under it and z.sh as
		// a hard link to it; b.sh links to z.sh (a chain).
		{Path: dir + "z.sh", Type: install.TypeFile, Mode: 0o644, Data: script},
		{Path: dir + "a-link.sh", Type: install.TypeHardlink, Linkname: dir + "z.sh"},
		{Path: dir + "b.sh", Type: install.TypeHardlink, Linkname: dir + "a-link.sh"},
		{Path: dir + "sym.sh", Type: install.TypeSymlink, Mode: 0o777, Linkname: "z.sh"},
	}
	l, err := image.LayerFromEntries(entries, image.LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := activationScripts([]v1.Layer{l}, "/opt/env", layerCache{})
	if err != nil {
		t.Fatal(err)
	}
	want := []activate.Script{
		{Path: dir + "a-link.sh", Data: script},
		{Path: dir + "b.sh", Data: script},
		activate.NotRegular(dir+"sym.sh", "z.sh"),
		{Path: dir + "z.sh", Data: script},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("scripts (-want +got):\n%s", d)
	}
}
