package runc

import (
	"archive/tar"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// BenchmarkUnpack unpacks an image of 2,000 files of 4 KiB in 100 directories (about
// the shape of a small conda environment), through os.Root.
func BenchmarkUnpack(b *testing.B) {
	var entries []entry
	body := strings.Repeat("x", 4096)
	for d := 0; d < 100; d++ {
		entries = append(entries, entry{name: fmt.Sprintf("opt/env/d%03d/", d), typ: tar.TypeDir, mode: 0o755})
		for f := 0; f < 20; f++ {
			entries = append(entries, entry{name: fmt.Sprintf("opt/env/d%03d/f%02d", d, f), typ: tar.TypeReg, mode: 0o644, body: body})
		}
	}
	img, err := mutate.AppendLayers(empty.Image, layer(b, entries...))
	if err != nil {
		b.Fatal(err)
	}
	var _ v1.Image = img
	b.SetBytes(int64(2000 * len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Unpack(img, filepath.Join(b.TempDir(), "rootfs"), UnpackOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
