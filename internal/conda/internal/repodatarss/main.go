// Command repodatarss measures ReadRepodata on a large file for a peak-RSS figure:
//
//	go run ./internal/conda/internal/repodatarss -gen 260 -out /tmp/big.json
//	/usr/bin/time -v go run ... (or the built binary) -parse /tmp/big.json
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/conda/internal/repogen"
)

func main() {
	gen := flag.Int64("gen", 0, "generate a document of this many MB from -src into -out")
	src := flag.String("src", "testdata/conda/repodata/conda-forge-py39-subchannel-20240516/linux-64/repodata.json", "real repodata to replicate")
	out := flag.String("out", "", "output file for -gen")
	base := flag.String("base", "", "flat {file name: record} JSON whose records -gen also writes under their own names")
	parse := flag.String("parse", "", "repodata.json to decode with ReadRepodata")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile of -parse here")
	memprof := flag.String("memprofile", "", "write an allocation profile of -parse here")
	flag.Parse()
	if *memprof != "" {
		defer func() {
			f, err := os.Create(*memprof)
			if err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "repodatarss:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*gen, *src, *base, *out, *parse); err != nil {
		fmt.Fprintln(os.Stderr, "repodatarss:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(gen int64, src, base, out, parse string) error {
	if gen > 0 {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		var baseData []byte
		if base != "" {
			if baseData, err = os.ReadFile(base); err != nil {
				return err
			}
		}
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		n, err := repogen.GenerateOver(f, data, baseData, gen<<20)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fmt.Printf("wrote %d records to %s\n", n, out)
		return nil
	}
	f, err := os.Open(parse)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	start := time.Now()
	rd, err := conda.ReadRepodata(f, "https://conda.anaconda.org/conda-forge", conda.WithSource(parse))
	if err != nil {
		return err
	}
	el := time.Since(start)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("records=%d bytes=%d time=%v throughput=%.0fMB/s heap_inuse=%dMB total_alloc=%dMB mallocs=%d\n",
		len(rd.Packages), fi.Size(), el, float64(fi.Size())/1e6/el.Seconds(), ms.HeapInuse>>20, ms.TotalAlloc>>20, ms.Mallocs)
	runtime.KeepAlive(rd)
	return nil
}
