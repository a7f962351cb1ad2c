package conda

import (
	"compress/bzip2"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

const repodataDir = "../../testdata/conda/repodata"

// refRecord decodes a record with encoding/json: an independent reading to check the
// hand-written decoder against.
type refRecord struct {
	Name          string          `json:"name"`
	Version       string          `json:"version"`
	Build         string          `json:"build"`
	BuildString   string          `json:"build_string"`
	BuildNumber   int64           `json:"build_number"`
	Depends       []string        `json:"depends"`
	Constrains    []string        `json:"constrains"`
	TrackFeatures json.RawMessage `json:"track_features"`
	Features      string          `json:"features"`
	Noarch        json.RawMessage `json:"noarch"`
	Subdir        string          `json:"subdir"`
	License       string          `json:"license"`
	LicenseFamily string          `json:"license_family"`
	MD5           string          `json:"md5"`
	SHA256        string          `json:"sha256"`
	Size          int64           `json:"size"`
	Timestamp     int64           `json:"timestamp"`
}

type refDoc struct {
	Info *struct {
		Subdir  string `json:"subdir"`
		BaseURL string `json:"base_url"`
	} `json:"info"`
	Packages      map[string]refRecord `json:"packages"`
	PackagesConda map[string]refRecord `json:"packages.conda"`
	Removed       []string             `json:"removed"`
}

func refDecode(t *testing.T, data []byte, channel string) *Repodata {
	t.Helper()
	var doc refDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	all := map[string]refRecord{}
	maps := []map[string]refRecord{doc.Packages, doc.PackagesConda}
	if doc.Info == nil && doc.Packages == nil && doc.PackagesConda == nil {
		var flat map[string]refRecord
		if err := json.Unmarshal(data, &flat); err != nil {
			t.Fatal(err)
		}
		maps = append(maps, flat)
	}
	for _, m := range maps {
		for k, v := range m {
			all[k] = v
		}
	}
	out := &Repodata{Removed: doc.Removed, Packages: []PackageRecord{}}
	if doc.Info != nil {
		out.Info = RepodataInfo{Subdir: doc.Info.Subdir, BaseURL: doc.Info.BaseURL}
	}
	var fns []string
	for fn := range all {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	for _, fn := range fns {
		r := all[fn]
		pr := PackageRecord{
			Name: r.Name, Version: r.Version, Build: r.Build, BuildNumber: r.BuildNumber,
			Depends: r.Depends, Constrains: r.Constrains, Features: r.Features,
			Subdir: r.Subdir, License: r.License, LicenseFamily: r.LicenseFamily,
			MD5: r.MD5, SHA256: r.SHA256, Size: r.Size, Timestamp: r.Timestamp, Fn: fn,
			Channel: channel,
		}
		if pr.Build == "" {
			pr.Build = r.BuildString
		}
		if pr.Timestamp != 0 && pr.Timestamp <= msTimestampThreshold {
			pr.Timestamp *= 1000
		}
		if pr.Subdir == "" {
			pr.Subdir = out.Info.Subdir
		}
		var tf any
		if len(r.TrackFeatures) > 0 {
			_ = json.Unmarshal(r.TrackFeatures, &tf)
		}
		switch x := tf.(type) {
		case string:
			if fs := strings.FieldsFunc(x, func(r rune) bool { return r == ',' || r == ' ' }); len(fs) > 0 {
				pr.TrackFeatures = fs
			}
		case []any:
			pr.TrackFeatures = []string{}
			for _, e := range x {
				pr.TrackFeatures = append(pr.TrackFeatures, e.(string))
			}
		}
		var na any
		if len(r.Noarch) > 0 {
			_ = json.Unmarshal(r.Noarch, &na)
		}
		switch x := na.(type) {
		case string:
			pr.Noarch = x
		case bool:
			if x {
				pr.Noarch = "generic"
			}
		}
		base := strings.TrimRight(out.Info.BaseURL, "/")
		if base == "" {
			base = channel + "/" + pr.Subdir
		}
		if !hasScheme(base) && out.Info.BaseURL != "" {
			base = "" // relative base URLs are checked separately
		}
		if base != "" {
			pr.URL = base + "/" + fn
		}
		out.Packages = append(out.Packages, pr)
	}
	return out
}

func repodataFiles(t *testing.T) []string {
	var files []string
	err := filepath.WalkDir(repodataDir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("found only %d repodata files", len(files))
	}
	return files
}

// notRepodata are JSON files in the collection that are not repodata documents: their
// records lack a name, which the decoder must report.
var notRepodata = map[string]bool{"patch_instructions.json": true}

func TestParseRepodataRealFiles(t *testing.T) {
	const channel = "https://conda.anaconda.org/test-channel"
	total := 0
	for _, f := range repodataFiles(t) {
		t.Run(strings.TrimPrefix(f, repodataDir+"/"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseRepodata(data, channel+"/", WithSource(f), WithSubdir("linux-64"))
			if notRepodata[filepath.Base(f)] {
				var re *RepodataError
				if !errors.As(err, &re) || re.Record == "" || re.Source != f {
					t.Fatalf("err = %v, want a RepodataError naming the file and record", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := refDecode(t, data, channel)
			if want.Info.Subdir == "" {
				want.Info.Subdir = "linux-64"
				for i := range want.Packages {
					if want.Packages[i].Subdir == "" {
						want.Packages[i].Subdir = "linux-64"
					}
					want.Packages[i].URL = channel + "/" + want.Packages[i].Subdir + "/" + want.Packages[i].Fn
				}
			}
			ignoreRelURL := cmp.Options{}
			if want.Info.BaseURL != "" && !hasScheme(want.Info.BaseURL) {
				ignoreRelURL = cmp.Options{cmp.FilterPath(func(p cmp.Path) bool { return strings.HasSuffix(p.String(), "URL") }, cmp.Ignore())}
			}
			if diff := cmp.Diff(want, got, ignoreRelURL, cmp.Comparer(func(a, b []string) bool {
				return slices.Equal(a, b) && (a == nil) == (b == nil)
			})); diff != "" {
				t.Fatalf("ParseRepodata vs encoding/json (-want +got):\n%s", diff)
			}
			total += len(got.Packages)

			// The streaming reader gives the same result from small reads.
			streamed, err := ReadRepodata(&chunkReader{data: data, n: 97}, channel, WithSubdir("linux-64"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, streamed); diff != "" {
				t.Fatalf("ReadRepodata differs (-parse +read):\n%s", diff)
			}
		})
	}
	t.Logf("%d records decoded and checked against encoding/json", total)
}

func TestParseRepodataCompressedCopies(t *testing.T) {
	dir := filepath.Join(repodataDir, "conda-forge-py39-subchannel-20240516/linux-64")
	plain, err := os.ReadFile(filepath.Join(dir, "repodata.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParseRepodata(plain, DefaultChannelAlias+"/conda-forge")
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Packages) != 2709 {
		t.Errorf("decoded %d records, the collection documents 2,709", len(want.Packages))
	}
	f, err := os.Open(filepath.Join(dir, "repodata.json.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadRepodata(bzip2.NewReader(f), DefaultChannelAlias+"/conda-forge")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("bz2 copy differs:\n%s", diff)
	}
	// Spot-check one real record end to end.
	i := slices.IndexFunc(got.Packages, func(r PackageRecord) bool { return r.Name == "python" && strings.HasPrefix(r.Version, "3.9") })
	if i < 0 {
		t.Fatal("no python 3.9 record")
	}
	p := got.Packages[i]
	if p.Subdir != "linux-64" || p.Channel != "https://conda.anaconda.org/conda-forge" ||
		p.URL != "https://conda.anaconda.org/conda-forge/linux-64/"+p.Fn || len(p.SHA256) != 64 || p.Timestamp < 1e12 {
		t.Errorf("python record = %+v", p)
	}
}

func TestParseRepodataEmptyGzip(t *testing.T) {
	f, err := os.Open(filepath.Join(repodataDir, "rattler-test-data/channels/empty/noarch/repodata.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadRepodata(zr, "https://example.org/empty")
	if err != nil {
		t.Fatal(err)
	}
	if got.Info.Subdir != "noarch" || len(got.Packages) != 0 {
		t.Errorf("got %+v", got)
	}
}

func TestParseRepodataBaseURL(t *testing.T) {
	tests := []struct {
		name, doc, channel, wantURL string
	}{
		{"absolute", `{"info":{"subdir":"linux-64","base_url":"https://mirror.example/cf/linux-64/"},"packages.conda":{"a-1-0.conda":{"name":"a","version":"1","build":"0","build_number":0}}}`,
			"https://conda.anaconda.org/conda-forge", "https://mirror.example/cf/linux-64/a-1-0.conda"},
		{"relative", `{"info":{"subdir":"noarch","base_url":"../linux-64"},"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0","build_number":0}}}`,
			"https://example.org/ch", "https://example.org/ch/linux-64/a-1-0.tar.bz2"},
		{"none", `{"info":{"subdir":"noarch"},"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0","build_number":0}}}`,
			"https://user:secret@example.org/t/tk-123/ch/", "https://example.org/ch/noarch/a-1-0.tar.bz2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := ParseRepodata([]byte(tt.doc), tt.channel)
			if err != nil {
				t.Fatal(err)
			}
			if got := rd.Packages[0].URL; got != tt.wantURL {
				t.Errorf("URL = %q, want %q", got, tt.wantURL)
			}
			if strings.Contains(rd.Packages[0].Channel, "secret") || strings.Contains(rd.Packages[0].Channel, "tk-123") {
				t.Errorf("Channel %q keeps credentials", rd.Packages[0].Channel)
			}
		})
	}
}

func TestParseRepodataFieldForms(t *testing.T) {
	doc := `{"info":{"subdir":"linux-64"},
	"packages":{
	  "b-1-0.tar.bz2":{"name":"b","version":"1","build":"0","build_number":3,"noarch":true,"track_features":"mkl debug","timestamp":1578324546,"depends":null},
	  "a-1-0.tar.bz2":{"name":"a","version":"1","build_string":"0","build_number":0,"noarch":"python","track_features":["x"],"timestamp":1578324546123,"license":"BSD\u002d3","depends":["c \u003e=1"]}
	},
	"removed":["gone-1-0.tar.bz2"]}`
	rd, err := ParseRepodata([]byte(doc), "https://example.org/ch")
	if err != nil {
		t.Fatal(err)
	}
	want := []PackageRecord{
		{Name: "a", Version: "1", Build: "0", Noarch: "python", TrackFeatures: []string{"x"}, Timestamp: 1578324546123,
			License: "BSD-3", Depends: []string{"c >=1"}, Subdir: "linux-64", Fn: "a-1-0.tar.bz2",
			URL: "https://example.org/ch/linux-64/a-1-0.tar.bz2", Channel: "https://example.org/ch"},
		{Name: "b", Version: "1", Build: "0", BuildNumber: 3, Noarch: "generic", TrackFeatures: []string{"mkl", "debug"}, Timestamp: 1578324546000,
			Subdir: "linux-64", Fn: "b-1-0.tar.bz2", URL: "https://example.org/ch/linux-64/b-1-0.tar.bz2", Channel: "https://example.org/ch"},
	}
	if diff := cmp.Diff(want, rd.Packages); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"gone-1-0.tar.bz2"}, rd.Removed); diff != "" {
		t.Error(diff)
	}
}

func TestParseRepodataMalformed(t *testing.T) {
	tests := []struct {
		name, doc, record, reason string
	}{
		{"truncated", `{"packages":{"a-1-0.tar.bz2":{"name":"a","vers`, "a-1-0.tar.bz2", "unterminated string"},
		{"depends not a list", `{"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0","depends":"b"}}}`, "a-1-0.tar.bz2", "depends must be a list"},
		{"missing name", `{"packages":{"a-1-0.tar.bz2":{"version":"1","build":"0"}}}`, "a-1-0.tar.bz2", "missing name"},
		{"bad escape", `{"packages":{"a-1-0.tar.bz2":{"name":"a\q"}}}`, "a-1-0.tar.bz2", "invalid escape"},
		{"bad number", `{"packages":{"a-1-0.tar.bz2":{"name":"a","build_number":"3"}}}`, "a-1-0.tar.bz2", "build_number must be a number"},
		{"packages not object", `{"packages":[]}`, "", "must be an object"},
		{"trailing data", `{} {}`, "", "data after the document"},
		{"not json", `<html>`, "", "expected '{'"},
		{"no subdir", `{"packages":{"a-1-0.tar.bz2":{"name":"a","version":"1","build":"0"}}}`, "a-1-0.tar.bz2", "no subdir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, read := range []bool{false, true} {
				var err error
				if read {
					_, err = ReadRepodata(iotest.HalfReader(strings.NewReader(tt.doc)), "https://x", WithSource("ch/linux-64/repodata.json"))
				} else {
					_, err = ParseRepodata([]byte(tt.doc), "https://x", WithSource("ch/linux-64/repodata.json"))
				}
				var re *RepodataError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want *RepodataError", err)
				}
				if re.Record != tt.record || !strings.Contains(re.Reason, tt.reason) || !strings.Contains(err.Error(), "ch/linux-64/repodata.json") {
					t.Errorf("err = %v (record %q), want record %q and reason containing %q", err, re.Record, tt.record, tt.reason)
				}
			}
		})
	}
}

func TestReadRepodataReadError(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := ReadRepodata(io.MultiReader(strings.NewReader(`{"packages":{`), iotest.ErrReader(boom)), "https://x")
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the read error", err)
	}
}

// chunkReader returns at most n bytes per Read, to exercise refills mid-record.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(c.n, len(p), len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}
