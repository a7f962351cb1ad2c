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
	"slices"
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
	// As a fresh process would: the compact file is mapped anew for every load. The
	// client keeps its mappings for the life of the process; here each iteration's
	// mapping is set aside (still mapped, as in a process that never unmaps) and all are
	// unmapped at the end, untimed, once no result refers to them.
	b.Run("warm-compact-new-mapping", func(b *testing.B) {
		c := testClient(b, b.TempDir())
		if _, err := c.Repodata(context.Background(), ch, "linux-64"); err != nil {
			b.Fatal(err)
		}
		var old [][]byte
		defer func() {
			for _, m := range old {
				unmapFile(m)
				mappedBytes.Add(-int64(len(m)))
			}
		}()
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			old = append(old, c.dropMappings()...)
			if _, err := c.Repodata(context.Background(), ch, "linux-64"); err != nil {
				b.Fatal(err)
			}
		}
		old = append(old, c.dropMappings()...)
	})
}

// BenchmarkRepodataIndex is BenchmarkRepodataLoad for the index by name that a lock
// uses: cold (index and hash a changed file), warm (identity check + cached index),
// and warm plus decoding the records of python and its dependencies' names.
func BenchmarkRepodataIndex(b *testing.B) {
	raw := readTestdata(b, forgeDir+"/linux-64/repodata.json")
	dir := b.TempDir()
	os.MkdirAll(filepath.Join(dir, "linux-64"), 0o755)
	p := filepath.Join(dir, "linux-64", "repodata.json")
	os.WriteFile(p, raw, 0o644)
	ch := Channel{URL: "https://conda.anaconda.org/conda-forge", Location: "file://" + dir}
	b.Run("cold-index-and-hash", func(b *testing.B) {
		c := testClient(b, b.TempDir())
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			os.RemoveAll(filepath.Join(c.dir, "repodata"))
			if _, err := c.RepodataIndex(context.Background(), ch, "linux-64"); err != nil {
				b.Fatal(err)
			}
		}
	})
	c := testClient(b, b.TempDir())
	if _, err := c.RepodataIndex(context.Background(), ch, "linux-64"); err != nil {
		b.Fatal(err)
	}
	b.Run("warm-index", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := c.RepodataIndex(context.Background(), ch, "linux-64"); err != nil {
				b.Fatal(err)
			}
		}
	})
	reached := []string{"python", "openssl", "libzlib", "ncurses", "readline", "sqlite", "tk", "xz", "libffi", "bzip2", "libgcc-ng", "ld_impl_linux-64"}
	b.Run("warm-index-decode-12-names", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		defer reportCPU(b)()
		var recs int
		for b.Loop() {
			x, err := c.RepodataIndex(context.Background(), ch, "linux-64")
			if err != nil {
				b.Fatal(err)
			}
			recs = 0
			for i := range x.Len() {
				if slices.Contains(reached, x.Name(i)) {
					r, err := x.Records(i)
					if err != nil {
						b.Fatal(err)
					}
					recs += len(r)
				}
			}
		}
		b.ReportMetric(float64(recs), "records")
	})
}

// dropMappings makes c forget its mappings, so that its next load maps the file anew,
// and returns them, still mapped, for the caller to unmap once nothing refers to them.
func (c *Client) dropMappings() [][]byte {
	c.maps.mu.Lock()
	defer c.maps.mu.Unlock()
	var ms [][]byte
	for k, m := range c.maps.byKey {
		ms = append(ms, m)
		delete(c.maps.byKey, k)
	}
	return ms
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

// helperServe serves a directory over HTTP on loopback for the fetch benchmark,
// printing its address.
func helperServe(dir string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(2)
	}
	fmt.Println(ln.Addr().String())
	http.Serve(ln, http.FileServer(http.Dir(dir)))
	os.Exit(0)
}

func startServerProcess(b *testing.B, dir string) (string, func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
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

const loadEnv = "REPROBUILD_CHANNEL_BENCH_LOAD"

// helperLoad times one repodata load in a fresh process (new heap, nothing mapped),
// printing the nanoseconds it took. The value of loadEnv is "cold|warm dir cache":
// cold parses dir/linux-64/repodata.json after reading it; warm loads it through a
// client whose cache already holds it.
func helperLoad(args []string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ch := Channel{URL: "https://conda.anaconda.org/conda-forge", Location: "file://" + args[1]}
	var elapsed time.Duration
	switch args[0] {
	case "cold":
		raw, err := os.ReadFile(filepath.Join(args[1], "linux-64", "repodata.json"))
		if err != nil {
			fail(err)
		}
		start := time.Now()
		if _, err := conda.ParseRepodata(raw, ch.URL, conda.WithSubdir("linux-64")); err != nil {
			fail(err)
		}
		elapsed = time.Since(start)
	case "warm":
		c, err := New(WithCacheDir(args[2]), WithRetries(1, time.Millisecond), WithIdleTimeout(time.Second))
		if err != nil {
			fail(err)
		}
		start := time.Now()
		if _, err := c.Repodata(context.Background(), ch, "linux-64"); err != nil {
			fail(err)
		}
		elapsed = time.Since(start)
	}
	fmt.Println(elapsed.Nanoseconds())
	os.Exit(0)
}

// BenchmarkRepodataLoadFreshProcess times one cold parse and one warm load per
// iteration, each in its own new process as a CLI run would do it (first-touch page
// faults and mapping included), and reports the medians and their ratio.
func BenchmarkRepodataLoadFreshProcess(b *testing.B) {
	raw := readTestdata(b, forgeDir+"/linux-64/repodata.json")
	dir, cache := b.TempDir(), b.TempDir()
	os.MkdirAll(filepath.Join(dir, "linux-64"), 0o755)
	os.WriteFile(filepath.Join(dir, "linux-64", "repodata.json"), raw, 0o644)
	ch := Channel{URL: "https://conda.anaconda.org/conda-forge", Location: "file://" + dir}
	if _, err := testClient(b, cache).Repodata(context.Background(), ch, "linux-64"); err != nil {
		b.Fatal(err)
	}
	child := func(kind string) float64 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), loadEnv+"="+kind+" "+dir+" "+cache)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("%s load: %v\n%s", kind, err, out)
		}
		ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			b.Fatalf("%s load printed %q", kind, out)
		}
		return ns
	}
	var cold, warm []float64
	for b.Loop() {
		cold = append(cold, child("cold"))
		warm = append(warm, child("warm"))
	}
	slices.Sort(cold)
	slices.Sort(warm)
	c, w := cold[len(cold)/2], warm[len(warm)/2]
	b.ReportMetric(c, "cold-ns")
	b.ReportMetric(w, "warm-ns")
	b.ReportMetric(100*w/c, "warm/cold-%")
}
