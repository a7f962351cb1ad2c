package conda

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda/internal/repogen"
)

var repodataMB = flag.Int64("conda.repodata-mb", 260, "size in MiB of the generated repodata for BenchmarkParseRepodata")

const subchannel = repodataDir + "/conda-forge-py39-subchannel-20240516/linux-64/repodata.json"

var (
	bigOnce sync.Once
	bigData []byte
	bigErr  error
)

// bigRepodata returns a conda-forge-sized document generated from the real subchannel
// records (cached under the system temporary directory, never committed).
func bigRepodata(b *testing.B) []byte {
	bigOnce.Do(func() {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("reprobuild-conda-bench-%dMiB.json", *repodataMB))
		if data, err := os.ReadFile(path); err == nil {
			bigData = data
			return
		}
		src, err := os.ReadFile(subchannel)
		if err != nil {
			bigErr = err
			return
		}
		var buf bytes.Buffer
		if _, err := repogen.Generate(&buf, src, *repodataMB<<20); err != nil {
			bigErr = err
			return
		}
		bigData = buf.Bytes()
		_ = os.WriteFile(path+".tmp", bigData, 0o644)
		_ = os.Rename(path+".tmp", path)
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigData
}

func benchDecoders(b *testing.B, data []byte) {
	b.Run("conda.ParseRepodata", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var n int
		for b.Loop() {
			rd, err := ParseRepodata(data, "https://conda.anaconda.org/conda-forge")
			if err != nil {
				b.Fatal(err)
			}
			n = len(rd.Packages)
		}
		b.ReportMetric(float64(n), "records")
	})
	b.Run("conda.ReadRepodata", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ReadRepodata(bytes.NewReader(data), "https://conda.anaconda.org/conda-forge", WithSizeHint(int64(len(data)))); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Indexing by name: the same checks as ReadRepodata, no record kept.
	b.Run("conda.BuildRepodataIndex", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var n int
		for b.Loop() {
			x, err := BuildRepodataIndex(bytes.NewReader(data), bytes.NewReader(data), "https://conda.anaconda.org/conda-forge", WithSizeHint(int64(len(data))))
			if err != nil {
				b.Fatal(err)
			}
			n = x.Len()
		}
		b.ReportMetric(float64(n), "names")
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var doc refDoc
			if err := json.Unmarshal(data, &doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParseRepodata decodes a conda-forge-sized linux-64 repodata.json
// (-conda.repodata-mb, default 260 MiB) with the hand-written decoder and with
// encoding/json into plain structs.
func BenchmarkParseRepodata(b *testing.B) { benchDecoders(b, bigRepodata(b)) }

// BenchmarkParseRepodataSubchannel decodes the real 2.3 MB conda-forge subchannel file.
func BenchmarkParseRepodataSubchannel(b *testing.B) {
	data, err := os.ReadFile(subchannel)
	if err != nil {
		b.Fatal(err)
	}
	benchDecoders(b, data)
}

func realVersions(b *testing.B) []string {
	data, err := os.ReadFile(filepath.Join(specDir, "version_order_real_world.txt"))
	if err != nil {
		b.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, strings.TrimPrefix(l, "= "))
	}
	return out
}

func BenchmarkParseVersion(b *testing.B) {
	vs := realVersions(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := ParseVersion(vs[i%len(vs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkVersionCompare(b *testing.B) {
	raw := realVersions(b)
	vs := make([]Version, len(raw))
	for i, s := range raw {
		vs[i] = MustParseVersion(s)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = vs[i%len(vs)].Compare(vs[(i*7+1)%len(vs)])
		i++
	}
}

func BenchmarkParseMatchSpec(b *testing.B) {
	specs := []string{"numpy >=1.26,<2", "conda-forge::python=3.11", "libblas=*=*openblas", "openssl>=3.0.12,<4.0a0", "__glibc >=2.17,<3.0.a0", "python_abi 3.11.* *_cp311"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := ParseMatchSpec(specs[i%len(specs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkMatchSpecMatch matches typical dependency specs against every record of the
// real subchannel, with versions parsed once (MatchVersion) and on every call (Match).
func BenchmarkMatchSpecMatch(b *testing.B) {
	data, err := os.ReadFile(subchannel)
	if err != nil {
		b.Fatal(err)
	}
	rd, err := ParseRepodata(data, "https://conda.anaconda.org/conda-forge")
	if err != nil {
		b.Fatal(err)
	}
	recs := rd.Packages
	vers := make([]Version, len(recs))
	for i := range recs {
		vers[i] = MustParseVersion(recs[i].Version)
	}
	specs := []MatchSpec{
		MustParseMatchSpec("*[version='>=1.21,<2']"),
		MustParseMatchSpec("* 3.9.* *_cpython"),
		MustParseMatchSpec("*[version='>=2.17,<3.0.a0',build_number='>=0']"),
	}
	b.Run("MatchVersion", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := i % len(recs)
			_ = specs[i%len(specs)].MatchVersion(&recs[k], vers[k])
			i++
		}
	})
	b.Run("Match", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = specs[i%len(specs)].Match(&recs[i%len(recs)])
			i++
		}
	})
}

// BenchmarkMatchSpecChannel matches a channel-qualified spec, which parses the
// record's channel URL on every call.
func BenchmarkMatchSpecChannel(b *testing.B) {
	rec := PackageRecord{Name: "python", Version: "3.9.19", Build: "h0755675_0_cpython", Subdir: "linux-64",
		Channel: "https://conda.anaconda.org/conda-forge"}
	v := MustParseVersion(rec.Version)
	m := MustParseMatchSpec("conda-forge::python >=3.9")
	b.ReportAllocs()
	for b.Loop() {
		if !m.MatchVersion(&rec, v) {
			b.Fatal("no match")
		}
	}
}
