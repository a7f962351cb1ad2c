package channel

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
	// As a fresh process would: the compact file is mapped anew for every load (the
	// client keeps mappings for the life of a process; here each is dropped once the
	// load's result is garbage).
	b.Run("warm-compact-new-mapping", func(b *testing.B) {
		c := testClient(b, b.TempDir())
		if _, err := c.Repodata(context.Background(), ch, "linux-64"); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			// A process that maps a file never unmaps it, so the unmapping of the
			// previous iteration's mapping is not timed.
			b.StopTimer()
			forgetMappings()
			b.StartTimer()
			if _, err := c.Repodata(context.Background(), ch, "linux-64"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// forgetMappings unmaps every compact file this process mapped. Only safe when no
// repodata loaded from them is still referenced, as in a benchmark that drops each
// result.
func forgetMappings() {
	mappings.Lock()
	defer mappings.Unlock()
	for k, m := range mappings.byKey {
		unmapFile(m)
		delete(mappings.byKey, k)
	}
	mappings.bytes = 0
}

// BenchmarkFetch100 downloads 100 packages (256 KiB each) over loopback with the
// client (verified into a fresh cache) and with curl (--parallel, same concurrency, no
// verification), alternating the two in every iteration so that load on a shared
// machine hits both alike. It reports each side's throughput and their ratio.
func BenchmarkFetch100(b *testing.B) {
	const n, size, par = 100, 256 << 10, 8
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Skip("curl not installed (apt-get install -y curl)")
	}
	// The server runs in a child process: in this process it would compete with our
	// client for the same scheduler slots but not with curl.
	pkgs := generatedPackages(n, size)
	root := b.TempDir()
	os.MkdirAll(filepath.Join(root, "linux-64"), 0o755)
	for _, p := range pkgs {
		os.WriteFile(filepath.Join(root, "linux-64", p.rec.Fn), p.data, 0o644)
	}
	addr, stop := startServerProcess(b, root)
	defer stop()
	var recs []conda.PackageRecord
	for _, p := range pkgs {
		r := p.rec
		r.URL = "http://" + addr + "/linux-64/" + r.Fn
		recs = append(recs, r)
	}
	var ds []Download
	for _, r := range recs {
		ds = append(ds, Download{Record: r})
	}
	var ours, theirs time.Duration
	runOurs := func() {
		cache, _ := os.MkdirTemp(b.TempDir(), "cache")
		c, err := New(WithCacheDir(cache), WithParallelism(par))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := c.Fetch(context.Background(), ds); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
	}
	runCurl := func() {
		out, _ := os.MkdirTemp(b.TempDir(), "curl")
		args := []string{"-sS", "--fail", "--parallel", "--parallel-max", strconv.Itoa(par)}
		for i, r := range recs {
			args = append(args, "-o", filepath.Join(out, fmt.Sprint(i)), r.URL)
		}
		cmd := exec.Command(curl, args...)
		start := time.Now()
		if outb, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("curl: %v\n%s", err, outb)
		}
		theirs += time.Since(start)
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			runOurs()
			runCurl()
		} else {
			runCurl()
			runOurs()
		}
		i++
	}
	mb := float64(n*size) / (1 << 20) * float64(i)
	b.ReportMetric(mb/ours.Seconds(), "reprobuild-MiB/s")
	b.ReportMetric(mb/theirs.Seconds(), "curl-MiB/s")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "ratio")
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

const serveEnv = "REPROBUILD_CHANNEL_BENCH_SERVE"

// TestHelperServe is not a test: a child process runs it to serve a directory over HTTP
// on loopback for the fetch benchmark, printing its address.
func TestHelperServe(t *testing.T) {
	dir := os.Getenv(serveEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(2)
	}
	fmt.Println(ln.Addr().String())
	http.Serve(ln, http.FileServer(http.Dir(dir)))
	os.Exit(0)
}

func startServerProcess(b *testing.B, dir string) (string, func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$")
	cmd.Env = append(os.Environ(), serveEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		b.Fatalf("file server: %v", err)
	}
	return strings.TrimSpace(line), func() { cmd.Process.Kill(); cmd.Wait() }
}
