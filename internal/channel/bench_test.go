package channel

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// BenchmarkRepodataLoad compares the cold JSON parse of conda-forge linux-64 repodata
// with a warm load through the client (file identity check + compact cache decode).
func BenchmarkRepodataLoad(b *testing.B) {
	raw := readTestdata(b, forgeDir+"/linux-64/repodata.json")
	dir := b.TempDir()
	os.MkdirAll(filepath.Join(dir, "linux-64"), 0o755)
	os.WriteFile(filepath.Join(dir, "linux-64", "repodata.json"), raw, 0o644)
	ch := Channel{URL: "https://conda.anaconda.org/conda-forge", Location: "file://" + dir}
	b.Run("cold-json-parse", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := conda.ParseRepodata(raw, ch.URL, conda.WithSubdir("linux-64")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm-compact", func(b *testing.B) {
		c := testClient(b, b.TempDir())
		if _, err := c.Repodata(context.Background(), ch, "linux-64"); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := c.Repodata(context.Background(), ch, "linux-64"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFetch100 downloads 100 packages over loopback with the client (verified into
// the cache) and with curl (--parallel, same concurrency, no verification) in the same
// run, so the two throughputs can be compared on a noisy machine.
func BenchmarkFetch100(b *testing.B) {
	const n, size, par = 100, 256 << 10, 8
	pkgs := generatedPackages(n, size)
	srv := newChannelServer(&testing.T{})
	defer srv.Close()
	recs := srv.publish("c", srv.URL+"/c", pkgs)
	var ds []Download
	for _, r := range recs {
		ds = append(ds, Download{Record: r})
	}
	b.Run("reprobuild", func(b *testing.B) {
		b.SetBytes(n * size)
		for b.Loop() {
			b.StopTimer()
			cache, _ := os.MkdirTemp(b.TempDir(), "cache")
			c, err := New(WithCacheDir(cache), WithParallelism(par))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := c.Fetch(context.Background(), ds); err != nil {
				b.Fatal(err)
			}
		}
	})
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Log("curl not installed; skipping the comparison")
		return
	}
	b.Run("curl", func(b *testing.B) {
		b.SetBytes(n * size)
		for b.Loop() {
			b.StopTimer()
			out, _ := os.MkdirTemp(b.TempDir(), "curl")
			args := []string{"-sS", "--fail", "--parallel", "--parallel-max", strconv.Itoa(par)}
			for i, r := range recs {
				args = append(args, "-o", filepath.Join(out, fmt.Sprint(i)), r.URL)
			}
			cmd := exec.Command(curl, args...)
			b.StartTimer()
			if outb, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("curl: %v\n%s", err, outb)
			}
		}
	})
}

// reportCPU adds the process CPU time (user+system, GC included) per operation: on a
// shared, loaded machine it varies far less than wall time.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
