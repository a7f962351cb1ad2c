package record

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/install"
)

var secrets = []string{"s3cret", "tok3n", "abc123", "mirror-user"}

func buildInfo() BuildInfo {
	return BuildInfo{ReprobuildVersion: "v0.1.0", Engine: "embedded", LockHash: strings.Repeat("1f", 32)}
}

func TestRuntimeGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			r, l := f.make(t)
			rr, err := Runtime(r, l, buildInfo())
			if err != nil {
				t.Fatal(err)
			}
			b, err := rr.JSON()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, f.name+"/runtime.json.golden", b)
			lb, err := marshal(Labels(rr))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, f.name+"/labels.json.golden", lb)
			for _, s := range secrets {
				if strings.Contains(string(b)+string(lb), s) {
					t.Errorf("record or labels leak the credential %q", s)
				}
			}
		})
	}
}

func TestRuntimeContent(t *testing.T) {
	r, l := fullCase(t)
	rr, err := Runtime(r, l, buildInfo())
	if err != nil {
		t.Fatal(err)
	}
	py := rr.Interpreter
	if py == nil || py.Implementation != "cpython" || !strings.HasPrefix(py.Version, "3.9.") || py.Source != "channel" {
		t.Fatalf("interpreter = %+v, want cpython 3.9.x from the channel", py)
	}
	if got, want := len(rr.Packages), len(l.Targets[0].Packages); got != want {
		t.Errorf("record has %d packages, lock has %d", got, want)
	}
	for _, p := range rr.Packages {
		if p.SHA256 == "" || p.URL == "" || !strings.HasPrefix(p.PURL, "pkg:conda/"+p.Name+"@") {
			t.Errorf("package %s lacks sha256, url or a proper purl: %+v", p.Name, p)
		}
	}
	want := PlatformInfo{Subdir: "linux-64", OS: "linux", Architecture: "amd64", Glibc: "2.28"}
	if diff := cmp.Diff(want, rr.Platform); diff != "" {
		t.Errorf("platform (-want +got):\n%s", diff)
	}
	// Mirrors are a build-time choice: the record (and so the image) must not change
	// when a build fetches from a mirror or a vendored copy.
	if len(rr.Channels[0].Mirrors) != 0 {
		t.Errorf("record lists mirrors %q; it must name only canonical channels", rr.Channels[0].Mirrors)
	}
	if rr.Virtual[0].Name != "__glibc" {
		t.Errorf("virtual packages not sorted: %+v", rr.Virtual)
	}
}

func TestRuntimeDeterministic(t *testing.T) {
	r, l := fullCase(t)
	rr, err := Runtime(r, l, buildInfo())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := rr.JSON()
	// The lock's package order must not matter: the record sorts.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5; i++ {
		pk := l.Targets[0].Packages
		rng.Shuffle(len(pk), func(a, b int) { pk[a], pk[b] = pk[b], pk[a] })
		rr2, err := Runtime(r, l, buildInfo())
		if err != nil {
			t.Fatal(err)
		}
		got, _ := rr2.JSON()
		if string(got) != string(want) {
			t.Fatalf("shuffled lock gives different bytes:\n%s", lineDiff(string(want), string(got)))
		}
	}
}

func TestParseRuntimeRoundTrip(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			r, l := f.make(t)
			rr, err := Runtime(r, l, buildInfo())
			if err != nil {
				t.Fatal(err)
			}
			b, _ := rr.JSON()
			back, err := ParseRuntime(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rr, back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			again, _ := back.JSON()
			if string(again) != string(b) {
				t.Errorf("re-marshalled bytes differ")
			}
		})
	}
}

func TestParseRuntimeErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not json", "{", "decoding runtime record"},
		{"no version", `{"packages":[]}`, "no record_version"},
		{"newer", `{"record_version":99}`, "newer than this reprobuild"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRuntime([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseRuntime(%q) error = %v, want %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestRuntimePlatformErrors(t *testing.T) {
	r, l := fullCase(t)
	l.Targets = append(l.Targets, l.Targets[0])
	l.Targets[1].Platform = "linux-aarch64"
	for _, tc := range []struct{ name, platform, want string }{
		{"ambiguous", "", "name the platform"},
		{"missing", "osx-arm64", `no target for platform "osx-arm64"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := buildInfo()
			b.Platform = tc.platform
			_, err := Runtime(r, l, b)
			var pe *PlatformError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want a PlatformError saying %q", err, tc.want)
			}
		})
	}
	b := buildInfo()
	b.Platform = "linux-aarch64"
	rr, err := Runtime(r, l, b)
	if err != nil || rr.Platform.Architecture != "arm64" {
		t.Fatalf("Runtime(linux-aarch64) = %+v, %v", rr.Platform, err)
	}
}

func TestFromLabels(t *testing.T) {
	r, l := fullCase(t)
	r.Hardware.GPUs, r.Hardware.Cuda = 2, "12.4"
	rr, err := Runtime(r, l, buildInfo())
	if err != nil {
		t.Fatal(err)
	}
	got, ok := FromLabels(Labels(rr))
	if !ok {
		t.Fatal("FromLabels found no reprobuild labels")
	}
	want := &RuntimeRecord{
		Version: FormatVersion, ReprobuildVersion: rr.ReprobuildVersion, Level: rr.Level,
		RecipeHash: rr.RecipeHash, LockHash: rr.LockHash,
		Image:       ImageInfo{Name: rr.Image.Name, BaseRef: rr.Image.BaseRef, BaseDigest: rr.Image.BaseDigest},
		Platform:    PlatformInfo{Subdir: "linux-64", OS: "linux", Architecture: "amd64"},
		Interpreter: rr.Interpreter,
		Hardware:    rr.Hardware,
		Channels:    []ChannelInfo{{URL: condaForge}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromLabels (-want +got):\n%s", diff)
	}
	if _, ok := FromLabels(map[string]string{"maintainer": "x"}); ok {
		t.Error("FromLabels accepted an image without reprobuild labels")
	}
}

func TestStripCredentials(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://conda.anaconda.org/conda-forge", "https://conda.anaconda.org/conda-forge"},
		{"https://u:p@host.example/ch", "https://host.example/ch"},
		{"https://conda.anaconda.org/t/tk-123/private/linux-64/x.conda", "https://conda.anaconda.org/private/linux-64/x.conda"},
		{"https://host.example/f.bin?X-Amz-Signature=abc", "https://host.example/f.bin"},
		{"file:///srv/channel", "file:///srv/channel"},
		{"debian:bookworm", "debian:bookworm"},
		{"https://u:p@ho st/%zz", "https://ho st/%zz"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := StripCredentials(tc.in); got != tc.want {
				t.Errorf("StripCredentials(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestEntries(t *testing.T) {
	r, l := smallCase(t)
	rr, err := Runtime(r, l, buildInfo())
	if err != nil {
		t.Fatal(err)
	}
	es, err := Entries(rr)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := rr.JSON()
	want := []install.Entry{
		{Path: "opt", Type: install.TypeDir, Mode: 0o755},
		{Path: "opt/reprobuild", Type: install.TypeDir, Mode: 0o755},
		{Path: Path, Type: install.TypeFile, Mode: 0o644, Data: data},
	}
	if diff := cmp.Diff(want, es); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}
