package image

import (
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"sync"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/reprobuild/reprobuild/internal/install"
)

// benchEntries is about 100 MB shaped like an installed environment: mostly text (Python
// sources, headers, metadata) with a share of incompressible binary data.
var benchEntries = sync.OnceValues(func() ([]install.Entry, int64) {
	r := rand.New(rand.NewSource(42))
	words := strings.Fields("import def return self class if else for in not None True False " +
		"numpy array dtype shape value index error raise with as from lambda yield")
	var entries []install.Entry
	var total int64
	for i := 0; total < 100<<20; i++ {
		size := 1024 + r.Intn(96<<10)
		data := make([]byte, 0, size)
		if i%5 == 0 {
			data = data[:size]
			r.Read(data)
		} else {
			for len(data) < size {
				data = append(data, words[r.Intn(len(words))]...)
				data = append(data, " \n"[r.Intn(2)])
			}
			data = data[:size]
		}
		entries = append(entries, install.Entry{
			Path: fmt.Sprintf("opt/env/lib/python3.11/site-packages/pkg%03d/mod%05d.py", i%300, i),
			Type: install.TypeFile, Mode: 0o644, Data: data,
		})
		total += int64(size)
	}
	return entries, total
})

func benchTar(b *testing.B) []byte {
	entries, _ := benchEntries()
	l, err := LayerFromEntries(entries, LayerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	rc, _ := l.Uncompressed()
	t, err := io.ReadAll(rc)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkLayerFromEntries measures the whole layer build (sort, tar, gzip, two sha256).
func BenchmarkLayerFromEntries(b *testing.B) {
	entries, total := benchEntries()
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	var size int64
	for i := 0; i < b.N; i++ {
		l, err := LayerFromEntries(entries, LayerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		size, _ = l.Size()
	}
	b.ReportMetric(float64(size)/float64(total), "ratio")
}

// BenchmarkGzip compresses the same tar bytes with plain gzip writers, for comparison
// with the layer build above.
func BenchmarkGzip(b *testing.B) {
	tarBytes := benchTar(b)
	type newWriter func(io.Writer) (io.WriteCloser, error)
	cases := []struct {
		name string
		new  newWriter
	}{
		{"stdlib-6", func(w io.Writer) (io.WriteCloser, error) { return stdgzip.NewWriterLevel(w, 6) }},
		{"klauspost-1", func(w io.Writer) (io.WriteCloser, error) { return kgzip.NewWriterLevel(w, 1) }},
		{"klauspost-6", func(w io.Writer) (io.WriteCloser, error) { return kgzip.NewWriterLevel(w, 6) }},
		{"klauspost-9", func(w io.Writer) (io.WriteCloser, error) { return kgzip.NewWriterLevel(w, 9) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(tarBytes)))
			b.ReportAllocs()
			var n countWriter
			for i := 0; i < b.N; i++ {
				n = 0
				w, err := c.new(&n)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.Write(tarBytes); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/float64(len(tarBytes)), "ratio")
		})
	}
}

func BenchmarkPlanLayers(b *testing.B) {
	pkgs := randomPkgs(rand.New(rand.NewSource(1)), 400)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		PlanLayers(pkgs, DefaultLayerBudget)
	}
}
