package builder

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/install"
)

// BenchmarkActivationScan measures what finding activation scripts costs a build: one
// read of every package layer (64 MiB uncompressed, half of it incompressible).
func BenchmarkActivationScan(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	entries := []install.Entry{{Path: "opt", Type: install.TypeDir, Mode: 0o755}, {Path: "opt/env", Type: install.TypeDir, Mode: 0o755}, {Path: "opt/env/lib", Type: install.TypeDir, Mode: 0o755}}
	for i := range 64 {
		data := make([]byte, 1<<20)
		if i%2 == 0 {
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		}
		entries = append(entries, install.Entry{Path: fmt.Sprintf("opt/env/lib/f%02d", i), Type: install.TypeFile, Mode: 0o644, Data: data})
	}
	l, err := image.LayerFromEntries(entries, image.LayerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	// Read back from its compressed bytes, as a cached layer is.
	rc, err := l.Compressed()
	if err != nil {
		b.Fatal(err)
	}
	gz, err := io.ReadAll(rc)
	if err != nil {
		b.Fatal(err)
	}
	l, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(gz)), nil })
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 20)
	b.ResetTimer()
	for b.Loop() {
		if _, err := activationScripts([]v1.Layer{l}, "/opt/env", layerCache{}); err != nil {
			b.Fatal(err)
		}
	}
}
