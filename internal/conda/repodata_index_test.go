package conda

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// checkIndexAgainst checks that every name of x gives, in order, exactly the records of
// that name in rd (ParseRepodata's answer), with the name-level summaries right.
func checkIndexAgainst(t testing.TB, x *RepodataIndex, rd *Repodata) {
	t.Helper()
	if x.Info != rd.Info {
		t.Fatalf("index info %+v, ParseRepodata %+v", x.Info, rd.Info)
	}
	byName := map[string][]PackageRecord{}
	for _, r := range rd.Packages {
		byName[r.Name] = append(byName[r.Name], r)
	}
	if x.Len() != len(byName) {
		t.Fatalf("index has %d names, ParseRepodata %d", x.Len(), len(byName))
	}
	for i := range x.Len() {
		name := x.Name(i)
		want := byName[name]
		got, err := x.Records(i)
		if err != nil {
			t.Fatal(err)
		}
		if x.Count(i) != len(want) {
			t.Fatalf("%s: count %d, want %d", name, x.Count(i), len(want))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: records differ:\n%s", name, cmp.Diff(want, got))
		}
		lo, hi := x.Timestamps(i)
		tracks := false
		var feats []string
		for _, r := range want {
			lo, hi = min(lo, r.Timestamp), max(hi, r.Timestamp)
			tracks = tracks || len(r.TrackFeatures) > 0
			feats = append(feats, r.TrackFeatures...)
		}
		slices.Sort(feats)
		if got := x.Features(i); !slices.Equal(got, slices.Compact(feats)) {
			t.Fatalf("%s: features %q, want %q", name, got, slices.Compact(feats))
		}
		if l2, h2 := x.Timestamps(i); l2 != lo || h2 != hi || x.TracksFeatures(i) != tracks {
			t.Fatalf("%s: timestamps %d..%d tracks %v, want %d..%d %v", name, l2, h2, x.TracksFeatures(i), lo, hi, tracks)
		}
	}
}

// TestRepodataIndexRealFiles: indexed then read back by name, every real document gives
// ParseRepodata's records; so does the index after a binary round trip, and an index of
// decoded records.
func TestRepodataIndexRealFiles(t *testing.T) {
	const channel = "https://conda.anaconda.org/test-channel"
	for _, f := range repodataFiles(t) {
		t.Run(strings.TrimPrefix(f, repodataDir+"/"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, werr := ParseRepodata(data, channel, WithSource(f), WithSubdir("linux-64"))
			h := sha256.New()
			x, err := BuildRepodataIndex(&chunkReader{data: data, n: 97}, bytes.NewReader(data), channel, WithSource(f), WithSubdir("linux-64"), WithDigest(h))
			if werr != nil || err != nil {
				if werr == nil || err == nil || werr.Error() != err.Error() {
					t.Fatalf("ParseRepodata error %v, BuildRepodataIndex error %v", werr, err)
				}
				return
			}
			checkIndexAgainst(t, x, want)
			if sum := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), sum[:]) {
				t.Fatal("WithDigest did not see the whole document")
			}
			h.Reset()
			if _, err := ReadRepodata(iotest.HalfReader(bytes.NewReader(data)), channel, WithSource(f), WithSubdir("linux-64"), WithDigest(h)); err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), sum[:]) {
				t.Fatal("ReadRepodata: WithDigest did not see the whole document")
			}
			bin, err := x.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			y, err := UnmarshalRepodataIndex(bin, bytes.NewReader(data), channel, WithSource(f))
			if err != nil {
				t.Fatal(err)
			}
			checkIndexAgainst(t, y, want)
			checkIndexAgainst(t, IndexRepodata(want), want)
		})
	}
}

func TestRepodataIndexChangedDocument(t *testing.T) {
	f := filepath.Join(repodataDir, "conda-forge-py39-subchannel-20240516/linux-64/repodata.json")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	x, err := BuildRepodataIndex(bytes.NewReader(data), bytes.NewReader(data), "https://example.org/c", WithSource(f))
	if err != nil {
		t.Fatal(err)
	}
	// The document the index reads from is another one now.
	x.src = bytes.NewReader(bytes.ReplaceAll(data, []byte(`"name": "`), []byte(`"name": "x`)))
	for i := range x.Len() {
		if _, err := x.Records(i); err == nil || !strings.Contains(err.Error(), "changed after it was indexed") {
			t.Fatalf("records of %s from a changed document: err = %v", x.Name(i), err)
		}
	}
	x.src = bytes.NewReader(data[:len(data)/2])
	if _, err := x.Records(x.Len() - 1); err == nil {
		t.Fatal("records from a truncated document: no error")
	}
}

func TestRepodataIndexDuplicateKey(t *testing.T) {
	doc := []byte(`{"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0"}},"packages.conda":{},"packages":{"a-1-0.tar.bz2":{"name":"b","version":"1","build":"0"}}}`)
	_, err := BuildRepodataIndex(bytes.NewReader(doc), bytes.NewReader(doc), "https://example.org/c", WithSubdir("noarch"))
	if !errors.Is(err, ErrDuplicateRecords) {
		t.Fatalf("err = %v, want ErrDuplicateRecords", err)
	}
}

func TestUnmarshalRepodataIndexMalformed(t *testing.T) {
	f := filepath.Join(repodataDir, "conda-forge-py39-subchannel-20240516/noarch/repodata.json")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	x, err := BuildRepodataIndex(bytes.NewReader(data), bytes.NewReader(data), "https://example.org/c")
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := x.MarshalBinary()
	// Every truncation and a flipped byte in the header either fail cleanly or decode.
	for n := 0; n < len(bin); n += 1 + n/16 {
		if _, err := UnmarshalRepodataIndex(bin[:n], bytes.NewReader(data), "https://example.org/c"); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(bin))
		}
	}
	for i := 0; i < 64 && i < len(bin); i++ {
		b := bytes.Clone(bin)
		b[i] ^= 0xff
		_, _ = UnmarshalRepodataIndex(b, bytes.NewReader(data), "https://example.org/c")
	}
}

// FuzzRepodataIndex checks the index against ParseRepodata on any document: same
// errors, and by name the same records.
func FuzzRepodataIndex(f *testing.F) {
	f.Add([]byte(`{"info":{"subdir":"linux-64"},"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0","build_number":0,"depends":["b >=1"],"sha256":"00","size":12,"timestamp":1700000000}},"packages.conda":{"b-1-0.conda":{"name":"b","version":"1","build":"0","build_number":3,"constrains":["c <2"],"license":"MIT","md5":"ff","track_features":", "}},"removed":["x.conda"]}`))
	f.Add([]byte(`{"packages":{"a.conda":{"name":"a\u00e9","version":"1","build":"0","track_features":"x y","noarch":true,"subdir":"noarch"}}}`))
	f.Add([]byte(`{"info":{"subdir":"noarch","base_url":"../pkgs"},"packages":{},"packages.conda":{"a.conda":{"name":"a","version":"1","build_string":"py_0","build_number":1.0,"depends":[],"track_features":["f"],"extra":{"deep":[1,2,{"x":null}]}}}}`))
	f.Add([]byte(`{"packages":{"a.conda":{"name":"a","name":"b","version":"1","build":"0","subdir":"osx-64"}}}`))
	f.Add([]byte(`{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0"},"b-1-0.conda":{"name":"a","version":"2","build":"0","timestamp":5}} `))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := ParseRepodata(data, "https://example.org/c", WithSubdir("linux-64"))
		x, err := BuildRepodataIndex(iotest.OneByteReader(bytes.NewReader(data)), bytes.NewReader(data), "https://example.org/c", WithSubdir("linux-64"))
		if errors.Is(err, ErrDuplicateRecords) {
			return
		}
		if (werr == nil) != (err == nil) || (err != nil && werr.Error() != err.Error()) {
			t.Fatalf("ParseRepodata error %v, BuildRepodataIndex error %v: %q", werr, err, data)
		}
		if err != nil {
			return
		}
		checkIndexAgainst(t, x, want)
	})
}
