package examples

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// benchEnv writes a channel of n generated packages (each a few MB of text-like,
// compressible payload in many files, like a real library) and a recipe depending on all
// of them. It returns the recipe path and the archive paths.
func benchEnv(b *testing.B, n int) (string, []string) {
	b.Helper()
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("import numpy array def return class self value index data frame series float int cuda kernel matrix vector tensor module python conda reprobuild layer image")
	var pkgs []pkgmaker.Package
	var deps []string
	for i := range n {
		name := fmt.Sprintf("bench-pkg-%02d", i)
		p := pkgmaker.Package{Record: conda.PackageRecord{Name: name, Version: "1.0", Build: "0", Noarch: "generic", License: "MIT", Timestamp: 1767225600000}}
		for f := range 40 {
			var buf bytes.Buffer
			for buf.Len() < 64<<10+rng.IntN(64<<10) {
				buf.WriteString(words[rng.IntN(len(words))])
				buf.WriteByte(" \n"[rng.IntN(2)])
			}
			p.Files = append(p.Files, pkgmaker.File{Path: fmt.Sprintf("lib/%s/file%02d.py", name, f), Data: buf.Bytes()})
		}
		pkgs = append(pkgs, p)
		deps = append(deps, fmt.Sprintf("%q", name))
	}
	if err := pkgmaker.WriteChannel(filepath.Join(dir, "channel"), pkgs, pkgmaker.Conda); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "channel", "linux-64"), 0o755); err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "channel", "linux-64", "repodata.json"), []byte(`{"info":{"subdir":"linux-64"},"packages":{},"packages.conda":{}}`), 0o644)
	recipe := filepath.Join(dir, "reprobuild.hcl")
	src := fmt.Sprintf("channel \"bench\" {\n  url = \"channel\"\n}\ndependencies {\n  conda = [%s]\n}\n", strings.Join(deps, ", "))
	if err := os.WriteFile(recipe, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	archives, _ := filepath.Glob(filepath.Join(dir, "channel", "noarch", "*.conda"))
	return recipe, archives
}

// cpuTime is the CPU time (user + system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start: unlike wall time it hardly
// depends on what else runs on a shared machine (nor on how many cores the build uses).
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkColdBuild builds a 32-package environment with an empty cache each time
// (fetch from a file:// channel, verify, extract, link, layer, gzip, write a layout).
// Compare it with BenchmarkDecompressGzip on the same packages, in the same run.
func BenchmarkColdBuild(b *testing.B) {
	recipe, archives := benchEnv(b, 32)
	ctx := context.Background()
	if _, err := builder.Lock(ctx, builder.LockOptions{Recipe: recipe, Channel: builder.ChannelOptions{CacheDir: b.TempDir(), Offline: true}}); err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, a := range archives {
		fi, _ := os.Stat(a)
		total += fi.Size()
	}
	b.SetBytes(total)
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		cache := b.TempDir()
		out := filepath.Join(b.TempDir(), "oci")
		if _, err := builder.Image(ctx, builder.ImageOptions{Recipe: recipe, Locked: true, Output: "oci:" + out, Channel: builder.ChannelOptions{CacheDir: cache, Offline: true}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNoopRebuild rebuilds with the lock and the cache unchanged.
func BenchmarkNoopRebuild(b *testing.B) {
	recipe, _ := benchEnv(b, 32)
	ctx := context.Background()
	co := builder.ChannelOptions{CacheDir: b.TempDir(), Offline: true}
	out := filepath.Join(b.TempDir(), "oci")
	o := builder.ImageOptions{Recipe: recipe, Output: "oci:" + out, Channel: co}
	if _, err := builder.Image(ctx, o); err != nil {
		b.Fatal(err)
	}
	o.Locked = true
	b.ResetTimer()
	for b.Loop() {
		if _, err := builder.Image(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecompressGzip is the floor the cold build is compared with: decompress every
// package's zstd tars and gzip the bytes, as `zstd -d | gzip` would, at the level every
// image layer is pinned to (image.GzipLevel, which is also gzip(1)'s default, 6).
func BenchmarkDecompressGzip(b *testing.B) { benchDecompressGzip(b, image.GzipLevel) }

// BenchmarkDecompressGzipDefault is the same floor at klauspost's DefaultCompression,
// which that library maps to level 5 (cheaper than the pinned level 6); it is what
// BenchmarkDecompressGzip measured before, kept for comparison.
func BenchmarkDecompressGzipDefault(b *testing.B) {
	benchDecompressGzip(b, gzip.DefaultCompression)
}

func benchDecompressGzip(b *testing.B, level int) {
	_, archives := benchEnv(b, 32)
	var total int64
	for _, a := range archives {
		fi, _ := os.Stat(a)
		total += fi.Size()
	}
	b.SetBytes(total)
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		for _, a := range archives {
			zr, err := zip.OpenReader(a)
			if err != nil {
				b.Fatal(err)
			}
			for _, f := range zr.File {
				if !strings.HasSuffix(f.Name, ".tar.zst") {
					continue
				}
				rc, _ := f.Open()
				dec, _ := zstd.NewReader(rc)
				gz, _ := gzip.NewWriterLevel(io.Discard, level)
				if _, err := io.Copy(gz, dec); err != nil {
					b.Fatal(err)
				}
				gz.Close()
				dec.Close()
				rc.Close()
			}
			zr.Close()
		}
	}
}
