package install_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// benchPackage is a ~30 MB package: 28 one-MiB "binaries" of moderately compressible
// bytes and 200 text files with a prefix placeholder.
func benchPackage() (pkgmaker.Package, int64) {
	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: the same package every run
	alphabet := []byte("\x00\x01\x02\x03\x7fELF abcdefghijklmnopqrstuvwxyz0123456789_./")
	var files []pkgmaker.File
	var total int64
	for i := range 28 {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		files = append(files, pkgmaker.File{Path: fmt.Sprintf("lib/libbench%02d.so", i), Data: b, Mode: 0o755})
		total += int64(len(b))
	}
	text := strings.Repeat("prefix="+buildPrefix+"/share\n", 400)
	for i := range 200 {
		files = append(files, pkgmaker.File{Path: fmt.Sprintf("share/bench/f%03d.txt", i), Data: []byte(text), Placeholder: buildPrefix})
		total += int64(len(text))
	}
	return pkgmaker.Package{Record: conda.PackageRecord{Name: "bench", Version: "1", Build: "0", Subdir: "linux-64"}, Files: files}, total
}

var (
	benchOnce  sync.Once
	benchDir   string
	benchFiles map[pkgmaker.Format]string
	benchSize  int64
)

func benchArchives(b *testing.B) {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "install-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
		p, size := benchPackage()
		benchSize = size
		benchFiles = map[pkgmaker.Format]string{}
		for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
			rec, err := pkgmaker.Write(dir, p, f)
			if err != nil {
				b.Fatal(err)
			}
			benchFiles[f] = filepath.Join(dir, rec.Fn)
		}
	})
}

// BenchmarkLink measures Link (read, decompress, replace prefixes, build the tree)
// beside BenchmarkDecompress, the floor set by decompression alone on the same archive.
func BenchmarkLink(b *testing.B) {
	benchArchives(b)
	for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		b.Run(f.Ext(), func(b *testing.B) {
			b.SetBytes(benchSize)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := install.Link(context.Background(), install.Package{Archive: benchFiles[f]}, install.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecompress(b *testing.B) {
	benchArchives(b)
	for _, f := range []pkgmaker.Format{pkgmaker.Conda, pkgmaker.TarBz2} {
		b.Run(f.Ext(), func(b *testing.B) {
			b.SetBytes(benchSize)
			b.ReportAllocs()
			for b.Loop() {
				if err := decompressOnly(benchFiles[f]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// decompressOnly reads every tar member of an archive into io.Discard.
func decompressOnly(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	drain := func(r io.Reader) error {
		tr := tar.NewReader(r)
		for {
			_, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				return err
			}
		}
	}
	if strings.HasSuffix(file, ".tar.bz2") {
		return drain(bzip2.NewReader(bytes.NewReader(data)))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	defer dec.Close()
	for _, zf := range zr.File {
		if !strings.HasSuffix(zf.Name, ".tar.zst") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		if err := dec.Reset(rc); err != nil {
			return err
		}
		err = drain(dec)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkWriteTree measures materialising the linked bench package on disk.
func BenchmarkWriteTree(b *testing.B) {
	benchArchives(b)
	tr, err := install.Link(context.Background(), install.Package{Archive: benchFiles[pkgmaker.Conda]}, install.Options{})
	if err != nil {
		b.Fatal(err)
	}
	base := b.TempDir()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dir := filepath.Join(base, strconv.Itoa(i))
		i++
		if err := install.WriteTree(dir, []*install.PackageTree{tr}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// TestMain removes the benchmark archives, which are shared by several benchmarks and so
// cannot live in one benchmark's TempDir.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
