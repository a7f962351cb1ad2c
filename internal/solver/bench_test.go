package solver

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"context"
	"github.com/reprobuild/reprobuild/internal/conda"
	"testing"
)

func benchSolve(b *testing.B, task Task) {
	b.Helper()
	if _, err := Solve(context.Background(), task); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	before := cpuTime()
	for b.Loop() {
		if _, err := Solve(context.Background(), task); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time per solve (all threads, GC included) is reported too: on a shared
	// machine wall time mostly measures the other tenants.
	b.ReportMetric(float64((cpuTime()-before).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCondaForgePython39 is python=3.9 over the real conda-forge subset (peer:
// libsolv inside mamba, about 0.14 s).
func BenchmarkCondaForgePython39(b *testing.B) {
	benchSolve(b, subchannelTask(b, loadOracle(b), []string{"python=3.9"}))
}

func testChannelTask(b *testing.B, channels []string, texts ...string) Task {
	b.Helper()
	task := Task{Virtual: conda.VirtualPackages(conda.VirtualSpec{Platform: conda.Linux64})}
	for _, ch := range channels {
		task.Channels = append(task.Channels, ChannelRecords{Name: ch, Records: loadTestChannel(b, ch)})
	}
	for _, s := range texts {
		task.Specs = append(task.Specs, Spec{MatchSpec: conda.MustParseMatchSpec(s), Text: s})
	}
	return task
}

// BenchmarkAnacondaTestChannels solves the anaconda metapackage on conda's classic
// test channel (channel-1).
func BenchmarkAnacondaTestChannels(b *testing.B) {
	benchSolve(b, testChannelTask(b, []string{"channel-1"}, "anaconda 1.5.0", "python 2.7*", "numpy 1.7*"))
}

// BenchmarkPython36NumpyScipyPandas is python 3.6.* with numpy, scipy and pandas on
// the Anaconda test channels 4 and 2.
func BenchmarkPython36NumpyScipyPandas(b *testing.B) {
	benchSolve(b, testChannelTask(b, []string{"channel-4", "channel-2"}, "python 3.6.*", "numpy", "scipy", "pandas"))
}

// scaleIndex replicates real records under renamed names (dependencies renamed the
// same way, so each copy is a self-contained universe) up to n records.
func scaleIndex(b *testing.B, base []conda.PackageRecord, n int) []conda.PackageRecord {
	b.Helper()
	out := slices.Clone(base)
	for copyN := 1; len(out) < n; copyN++ {
		suffix := fmt.Sprintf("-r%d", copyN)
		for _, r := range base {
			if len(out) == n {
				break
			}
			r.Name += suffix
			r.Depends = renameSpecs(r.Depends, suffix)
			r.Constrains = renameSpecs(r.Constrains, suffix)
			out = append(out, r)
		}
	}
	return out
}

func renameSpecs(specs []string, suffix string) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		name, rest, _ := strings.Cut(s, " ")
		if strings.HasPrefix(name, "__") {
			out[i] = s
			continue
		}
		out[i] = strings.TrimSpace(name + suffix + " " + rest)
	}
	return out
}

// BenchmarkScale406k is python 3.6.* + numpy in a 406k-record index built from the
// Anaconda test channel 4 (peer: libsolv about 0.15 s).
const scaleN = 406_000

func BenchmarkScale406k(b *testing.B) {
	task := testChannelTask(b, []string{"channel-4"}, "python 3.6.*", "numpy")
	task.Channels[0].Records = scaleIndex(b, task.Channels[0].Records, scaleN)
	benchSolve(b, task)
}
