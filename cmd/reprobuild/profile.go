package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles writes a CPU profile to $REPROBUILD_CPUPROFILE and a heap profile (after
// a final GC, so in-use memory at exit) to $REPROBUILD_MEMPROFILE when they are set: the
// benchmarks under examples/bench profile whole CLI runs this way. The returned
// function stops and flushes them.
func startProfiles() func() {
	cpu, mem := os.Getenv("REPROBUILD_CPUPROFILE"), os.Getenv("REPROBUILD_MEMPROFILE")
	var stops []func()
	if cpu != "" {
		f, err := os.Create(cpu)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		} else {
			fmt.Fprintln(os.Stderr, "reprobuild: REPROBUILD_CPUPROFILE:", err)
		}
	}
	if mem != "" {
		runtime.MemProfileRate = 64 << 10
		stops = append(stops, func() {
			f, err := os.Create(mem)
			if err != nil {
				fmt.Fprintln(os.Stderr, "reprobuild: REPROBUILD_MEMPROFILE:", err)
				return
			}
			defer f.Close()
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
		})
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
