package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/recipes"
)

// testRecord is a runtime record of the real packages used by the audit tests.
func testRecord(t *testing.T, platform string) *record.RuntimeRecord {
	t.Helper()
	r := &recipes.Recipe{
		Reproducibility: recipes.Reproducibility{Level: "pinned"},
		Image:           recipes.Image{Name: "inspected", Base: "scratch", Prefix: recipes.DefaultPrefix},
		Channels:        []recipes.Channel{{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge"}},
		Hardware:        recipes.Hardware{CPU: "x86_64_v2"},
	}
	l := NewLock(r)
	l.Targets = []lock.Target{{Platform: platform, Packages: lockedPackages(t)}}
	rr, err := record.Runtime(r, l, record.BuildInfo{ReprobuildVersion: "v0.1.0", Engine: "embedded"})
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

type entry struct {
	name string
	body []byte
}

// tarLayer is a real gzip layer holding the given files (a nil body is a directory).
func tarLayer(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.body == nil {
			h = &tar.Header{Name: e.name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func recordBytes(t *testing.T, rr *record.RuntimeRecord) []byte {
	t.Helper()
	b, err := rr.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// image stacks the layers on a random base layer and sets labels and platform.
func fakeImage(t *testing.T, labels map[string]string, platform v1.Platform, layers ...v1.Layer) v1.Image {
	t.Helper()
	base, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Labels = labels
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

var arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}

// writeLayout writes an OCI layout with one image per platform key ("linux/amd64").
func writeLayout(t *testing.T, imgs map[string]v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, plat := range []v1.Platform{amd64, arm64} {
		if img, ok := imgs[plat.String()]; ok {
			if err := p.AppendImage(img, layout.WithPlatform(plat)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestInspectLayout(t *testing.T) {
	rr := testRecord(t, "linux-64")
	older := testRecord(t, "linux-64")
	older.ReprobuildVersion = "v0.0.1"
	labelsOnly := record.Labels(rr)
	fromLabels, _ := record.FromLabels(labelsOnly)
	for _, tc := range []struct {
		name   string
		layers []v1.Layer
		want   *record.RuntimeRecord
		source string
	}{
		{"record layer", []v1.Layer{tarLayer(t, entry{"opt/", nil}, entry{"opt/reprobuild/", nil}, entry{record.Path, recordBytes(t, rr)})}, rr, SourceFile},
		{"dot-slash names", []v1.Layer{tarLayer(t, entry{"./" + record.Path, recordBytes(t, rr)})}, rr, SourceFile},
		{"last writer wins", []v1.Layer{
			tarLayer(t, entry{record.Path, recordBytes(t, older)}),
			tarLayer(t, entry{record.Path, recordBytes(t, rr)}),
			tarLayer(t, entry{"etc/hostname", []byte("x\n")}),
		}, rr, SourceFile},
		{"whiteout falls back to labels", []v1.Layer{
			tarLayer(t, entry{record.Path, recordBytes(t, older)}),
			tarLayer(t, entry{"opt/reprobuild/.wh.runtime.json", []byte{}}),
		}, fromLabels, SourceLabels},
		{"opaque parent falls back to labels", []v1.Layer{
			tarLayer(t, entry{record.Path, recordBytes(t, older)}),
			tarLayer(t, entry{"opt/.wh..wh..opq", []byte{}}),
		}, fromLabels, SourceLabels},
		{"rewritten after a whiteout", []v1.Layer{
			tarLayer(t, entry{record.Path, recordBytes(t, older)}),
			tarLayer(t, entry{"opt/.wh.reprobuild", []byte{}}),
			tarLayer(t, entry{record.Path, recordBytes(t, rr)}),
		}, rr, SourceFile},
		{"no record file", nil, fromLabels, SourceLabels},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLayout(t, map[string]v1.Image{"linux/amd64": fakeImage(t, labelsOnly, amd64, tc.layers...)})
			got, err := Inspect(context.Background(), "oci:"+dir, InspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != tc.source {
				t.Errorf("source = %s, want %s", got.Source, tc.source)
			}
			if diff := cmp.Diff(tc.want, got.Record); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(got.Digest, "sha256:") {
				t.Errorf("digest = %q", got.Digest)
			}
		})
	}
}

func TestInspectPlatforms(t *testing.T) {
	x86, arm := testRecord(t, "linux-64"), testRecord(t, "linux-aarch64")
	dir := writeLayout(t, map[string]v1.Image{
		"linux/amd64": fakeImage(t, nil, amd64, tarLayer(t, entry{record.Path, recordBytes(t, x86)})),
		"linux/arm64": fakeImage(t, nil, arm64, tarLayer(t, entry{record.Path, recordBytes(t, arm)})),
	})
	for _, tc := range []struct{ platform, want string }{
		{"linux/arm64", "linux-aarch64"},
		{"linux-64", "linux-64"},
		{"linux-aarch64", "linux-aarch64"},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			got, err := Inspect(context.Background(), "oci:"+dir, InspectOptions{Platform: tc.platform})
			if err != nil {
				t.Fatal(err)
			}
			if got.Record.Platform.Subdir != tc.want {
				t.Errorf("platform %s gave the record of %s", tc.platform, got.Record.Platform.Subdir)
			}
		})
	}
	for _, tc := range []struct{ platform, want string }{
		{"", "choose one with --platform"},
		{"linux/s390x", "no image for platform linux/s390x"},
	} {
		t.Run("error "+tc.platform, func(t *testing.T) {
			_, err := Inspect(context.Background(), "oci:"+dir, InspectOptions{Platform: tc.platform})
			var pe *PlatformChoiceError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a PlatformChoiceError saying %q", err, tc.want)
			}
		})
	}
}

func TestInspectErrors(t *testing.T) {
	dir := writeLayout(t, map[string]v1.Image{"linux/amd64": fakeImage(t, map[string]string{"maintainer": "x"}, amd64)})
	_, err := Inspect(context.Background(), "oci:"+dir, InspectOptions{})
	var nr *NoRecordError
	if !errors.As(err, &nr) {
		t.Errorf("image without record: err = %v, want NoRecordError", err)
	}
	bad := writeLayout(t, map[string]v1.Image{"linux/amd64": fakeImage(t, nil, amd64, tarLayer(t, entry{record.Path, []byte("{not json")}))})
	if _, err := Inspect(context.Background(), "oci:"+bad, InspectOptions{}); err == nil || !strings.Contains(err.Error(), record.Path) {
		t.Errorf("corrupt record: err = %v", err)
	}
	if _, err := Inspect(context.Background(), "oci:"+t.TempDir()+"/missing", InspectOptions{}); err == nil || !strings.Contains(err.Error(), "OCI layout") {
		t.Errorf("missing layout: err = %v", err)
	}
	if _, err := Inspect(context.Background(), "Not A Ref!", InspectOptions{}); err == nil {
		t.Error("bad reference accepted")
	}
}

func TestInspectRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	rr := testRecord(t, "linux-64")
	img := fakeImage(t, record.Labels(rr), amd64, tarLayer(t, entry{record.Path, recordBytes(t, rr)}))

	single := host + "/lab/inspected:1.0"
	if err := remote.Write(mustRef(t, single), img); err != nil {
		t.Fatal(err)
	}
	arm := testRecord(t, "linux-aarch64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: fakeImage(t, nil, arm64, tarLayer(t, entry{record.Path, recordBytes(t, arm)})), Descriptor: v1.Descriptor{Platform: &arm64}},
	)
	multi := host + "/lab/inspected:multi"
	if err := remote.WriteIndex(mustRef(t, multi), idx); err != nil {
		t.Fatal(err)
	}
	dg, _ := img.Digest()
	for _, tc := range []struct {
		name, ref, platform string
		want                *record.RuntimeRecord
	}{
		{"tag", single, "", rr},
		{"digest", host + "/lab/inspected@" + dg.String(), "", rr},
		{"index arm64", multi, "linux/arm64", arm},
		{"index conda subdir", multi, "linux-64", rr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Inspect(context.Background(), tc.ref, InspectOptions{Platform: tc.platform})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Record); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Inspect(context.Background(), single, InspectOptions{Platform: "linux/arm64"}); err == nil {
		t.Error("a single-platform image matched another platform")
	}
	if _, err := Inspect(context.Background(), host+"/lab/missing:1", InspectOptions{}); err == nil {
		t.Error("a missing image gave no error")
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
