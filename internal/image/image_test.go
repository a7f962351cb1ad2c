package image

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/reprobuild/reprobuild/internal/install"
)

var arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}

func testConfig(p v1.Platform) Config {
	return Config{
		Platform:    p,
		Prefix:      "/opt/env",
		Cmd:         []string{"/opt/env/bin/python"},
		Labels:      map[string]string{"org.reprobuild.lock": "sha256:0"},
		Annotations: map[string]string{"org.opencontainers.image.title": "test"},
		Epoch:       time.Unix(1700000000, 0),
	}
}

// testImage builds a two-layer scratch image for p.
func testImage(t testing.TB, p v1.Platform) v1.Image {
	t.Helper()
	l1, err := LayerFromEntries(sampleEntries(), LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := DataLayer("data/"+p.Architecture+".txt", strings.NewReader(p.String()), LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img, err := Assemble(nil, []v1.Layer{l1, l2}, testConfig(p))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t testing.TB, x interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestAssembleScratch(t *testing.T) {
	img := testImage(t, amd64)
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate: %v", err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("media types %s / %s, want OCI", m.MediaType, m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer media type %s, want %s", l.MediaType, types.OCILayer)
		}
	}
	if diff := cmp.Diff(map[string]string{"org.opencontainers.image.title": "test"}, m.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	cf, _ := img.ConfigFile()
	if len(cf.History) != 2 || cf.History[0].CreatedBy != HistoryCreatedBy || !cf.History[1].Created.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("history = %+v", cf.History)
	}
	if got := digestOf(t, testImage(t, amd64)); got != digestOf(t, img) {
		t.Errorf("second assembly gave %s, first %s", got, digestOf(t, img))
	}
}

// dockerBase is a base image in Docker media types, as most registry images are.
func dockerBase(t *testing.T) v1.Image {
	t.Helper()
	l, err := LayerFromEntries([]install.Entry{file("etc/os-release", 0o644, "ID=test\n")}, LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base, err := mutate.Append(mutate.MediaType(emptyDocker(), types.DockerManifestSchema2),
		mutate.Addendum{Layer: l, MediaType: types.DockerLayer, History: v1.History{CreatedBy: "base"}})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := base.ConfigFile()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/usr/bin:/bin"}
	base, err = mutate.ConfigFile(base, cf)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

func TestAssembleOverDockerBase(t *testing.T) {
	base := dockerBase(t)
	top, err := LayerFromEntries(sampleEntries(), LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img, err := Assemble(base, []v1.Layer{top}, testConfig(amd64))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate: %v", err)
	}
	m, _ := img.Manifest()
	bm, _ := base.Manifest()
	if len(m.Layers) != 2 || m.Layers[0].Digest != bm.Layers[0].Digest || m.Layers[0].MediaType != types.OCILayer {
		t.Fatalf("layers = %+v, want the base layer relabelled OCI then ours", m.Layers)
	}
	cf, _ := img.ConfigFile()
	if want := []string{"CONDA_PREFIX=/opt/env", "PATH=/opt/env/bin:/usr/bin:/bin"}; !cmp.Equal(want, cf.Config.Env) {
		t.Errorf("env = %v, want %v", cf.Config.Env, want)
	}
	if len(cf.History) != 2 || cf.History[0].CreatedBy != "base" {
		t.Errorf("history = %+v, want the base entry kept", cf.History)
	}
}

func TestIndexOrderAndPlatforms(t *testing.T) {
	a, b := testImage(t, amd64), testImage(t, arm64)
	i1, err := Index([]v1.Image{a, b})
	if err != nil {
		t.Fatal(err)
	}
	i2, err := Index([]v1.Image{b, a})
	if err != nil {
		t.Fatal(err)
	}
	if d1, d2 := digestOf(t, i1), digestOf(t, i2); d1 != d2 {
		t.Errorf("index digest depends on order: %s vs %s", d1, d2)
	}
	if err := validate.Index(i1); err != nil {
		t.Fatalf("validate: %v", err)
	}
	m, _ := i1.IndexManifest()
	if m.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s", m.MediaType)
	}
	var got []string
	for _, d := range m.Manifests {
		got = append(got, d.Platform.String()+" "+string(d.MediaType))
	}
	want := []string{"linux/amd64 " + string(types.OCIManifestSchema1), "linux/arm64 " + string(types.OCIManifestSchema1)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := Index([]v1.Image{a, testImage(t, amd64)}); err == nil {
		t.Error("two images for one platform accepted")
	}
}

func TestWriteLayoutRoundTrip(t *testing.T) {
	idx, err := Index([]v1.Image{testImage(t, amd64), testImage(t, arm64)})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	// Writing twice replaces the first layout whole.
	for i := 0; i < 2; i++ {
		if err := WriteLayout(dir, idx, WithRefName("latest")); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("temporary directories left beside the layout: %v", entries)
	}
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := root.IndexManifest()
	if len(rm.Manifests) != 1 || rm.Manifests[0].Digest.String() != digestOf(t, idx) || rm.Manifests[0].Annotations[RefNameAnnotation] != "latest" {
		t.Fatalf("index.json = %+v, want one entry for the index %s", rm.Manifests, digestOf(t, idx))
	}
	back, err := root.ImageIndex(rm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(back); err != nil {
		t.Fatalf("validate read-back: %v", err)
	}
	if digestOf(t, back) != digestOf(t, idx) {
		t.Errorf("read back %s, wrote %s", digestOf(t, back), digestOf(t, idx))
	}
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("layout dir mode %v, %v", info.Mode(), err)
	}

	// Only a layout or an empty directory is replaced.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "thesis.tex"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(other, idx); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-layout dir: err = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(other, "thesis.tex")); err != nil {
		t.Errorf("user file gone after refusal: %v", err)
	}
	f := filepath.Join(other, "thesis.tex")
	if err := WriteLayout(f, idx); err == nil {
		t.Error("a regular file was replaced by a layout")
	}
	if err := WriteLayout(t.TempDir(), idx); err != nil {
		t.Errorf("empty dir: %v", err)
	}
}

func TestWriteDockerArchive(t *testing.T) {
	img := testImage(t, amd64)
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")
	for _, p := range []string{p1, p2} {
		if err := WriteDockerArchive(p, "lab/analysis:1", img); err != nil {
			t.Fatal(err)
		}
	}
	tag, _ := name.NewTag("lab/analysis:1")
	back, err := tarball.ImageFromPath(p1, &tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(back); err != nil {
		t.Fatalf("validate: %v", err)
	}
	// The archive stores config and layers; their identity must survive the trip.
	wantCfg, _ := img.ConfigName()
	gotCfg, _ := back.ConfigName()
	if wantCfg != gotCfg {
		t.Errorf("config %s read back as %s", wantCfg, gotCfg)
	}
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if string(b1) != string(b2) {
		t.Error("two archives of one image differ")
	}
	if err := WriteDockerArchive(filepath.Join(dir, "c.tar"), "Bad Tag", img); err == nil {
		t.Error("invalid tag accepted")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files left after a failed write: %v", entries)
	}
}

func newRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func TestPushAndLoadBaseFromRegistry(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t)
	a, b := testImage(t, amd64), testImage(t, arm64)
	idx, err := Index([]v1.Image{a, b})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Push(ctx, host+"/lab/env:1", idx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d != digestOf(t, idx) {
		t.Errorf("Push returned %s, index is %s", d, digestOf(t, idx))
	}
	r, _ := name.ParseReference(host + "/lab/env:1")
	got, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, got) != d {
		t.Errorf("registry holds %s, pushed %s", digestOf(t, got), d)
	}

	// A base by digest of the index resolves to the platform's image.
	img, digest, err := LoadBase(ctx, host+"/lab/env@"+d, arm64, nil)
	if err != nil {
		t.Fatal(err)
	}
	if digest != digestOf(t, b) || digestOf(t, img) != digestOf(t, b) {
		t.Errorf("LoadBase gave %s, want the arm64 image %s", digest, digestOf(t, b))
	}

	// A single image pushed by digest reference; a wrong digest is refused before upload.
	if _, err := Push(ctx, host+"/lab/one@"+digestOf(t, a), a, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, host+"/lab/one@"+digestOf(t, b), a, nil); err == nil {
		t.Error("push of an image to another image's digest accepted")
	}
	if _, err := Push(ctx, host+"/lab/one:x", "not an image", nil); err == nil {
		t.Error("push of a string accepted")
	}

	// A tag is refused unless allowed.
	_, _, err = LoadBase(ctx, host+"/lab/env:1", amd64, nil)
	var ue *UnpinnedBaseError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "@sha256:") {
		t.Errorf("tag base: err = %v, want *UnpinnedBaseError naming the fix", err)
	}
	if _, _, err = LoadBase(ctx, "debian:bookworm-slim", amd64, nil); !errors.As(err, &ue) {
		t.Errorf("docker hub tag: err = %v, want *UnpinnedBaseError", err)
	}
	_, digest, err = LoadBase(ctx, host+"/lab/env:1", amd64, nil, AllowTag())
	if err != nil || digest != digestOf(t, a) {
		t.Errorf("allowed tag: %s, %v; want %s", digest, err, digestOf(t, a))
	}
	// A digest the registry does not have is a BaseError.
	missing := "sha256:" + strings.Repeat("0", 64)
	var be *BaseError
	if _, _, err = LoadBase(ctx, host+"/lab/env@"+missing, amd64, nil); !errors.As(err, &be) {
		t.Errorf("missing digest: err = %v, want *BaseError", err)
	}

	// Building on the pulled base keeps its layers.
	top, _ := LayerFromEntries([]install.Entry{file("etc/extra", 0o644, "x")}, LayerOptions{})
	on, err := Assemble(img, []v1.Layer{top}, testConfig(arm64))
	if err != nil {
		t.Fatal(err)
	}
	if ls, _ := on.Layers(); len(ls) != 3 {
		t.Errorf("%d layers, want base 2 + 1", len(ls))
	}
	if _, err := Push(ctx, host+"/lab/on:1", on, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadBaseFromLayout(t *testing.T) {
	ctx := context.Background()
	a, b := testImage(t, amd64), testImage(t, arm64)
	idx, err := Index([]v1.Image{a, b})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "base")
	if err := WriteLayout(dir, idx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		ref      string
		platform v1.Platform
		want     string
	}{
		{"image digest", "oci:" + dir + "@" + digestOf(t, b), amd64, digestOf(t, b)},
		{"index digest", "oci:" + dir + "@" + digestOf(t, idx), arm64, digestOf(t, b)},
		{"whole layout", "oci:" + dir, amd64, digestOf(t, a)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, d, err := LoadBase(ctx, tt.ref, tt.platform, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d != tt.want || digestOf(t, img) != tt.want {
				t.Errorf("got %s, want %s", d, tt.want)
			}
		})
	}
	bad := []struct{ name, ref string }{
		{"missing digest", "oci:" + dir + "@sha256:" + strings.Repeat("1", 64)},
		{"bad digest", "oci:" + dir + "@sha256:xyz"},
		{"no dir", "oci:" + filepath.Join(dir, "nope")},
		{"empty", "oci:"},
		{"no such platform", "oci:" + dir},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			p := amd64
			if tt.name == "no such platform" {
				p = v1.Platform{OS: "linux", Architecture: "s390x"}
			}
			_, _, err := LoadBase(ctx, tt.ref, p, nil)
			var be *BaseError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want *BaseError", err)
			}
		})
	}
	if img, d, err := LoadBase(ctx, Scratch, amd64, nil); img != nil || d != "" || err != nil {
		t.Errorf("scratch = %v, %q, %v", img, d, err)
	}
}

func emptyDocker() v1.Image {
	return mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.DockerConfigJSON), types.DockerManifestSchema2)
}

func TestLoadBaseRefs(t *testing.T) {
	ctx := context.Background()
	// Docker Hub short names are accepted as references; pinned ones would be fetched, so
	// only the refusals are checked here (no network).
	for _, ref := range []string{"debian:bookworm-slim", "debian", "ghcr.io/lab/x:1"} {
		_, _, err := LoadBase(ctx, ref, amd64, nil)
		var ue *UnpinnedBaseError
		if !errors.As(err, &ue) {
			t.Errorf("%s: err = %v, want *UnpinnedBaseError", ref, err)
		}
	}
	for _, ref := range []string{"UPPER/case@sha256:00", "a b", ""} {
		_, _, err := LoadBase(ctx, ref, amd64, nil)
		var be *BaseError
		if !errors.As(err, &be) {
			t.Errorf("%q: err = %v, want *BaseError", ref, err)
		}
	}
}

func TestWriteLayoutLinksBlobFiles(t *testing.T) {
	var buf strings.Builder
	info, err := WriteLayer(&buf, sampleEntries(), LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := LayerFromEntries(sampleEntries(), LayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := digestOf(t, mem); d != info.Digest.String() || int64(buf.Len()) != info.Size {
		t.Fatalf("WriteLayer gave %s (%d bytes), LayerFromEntries %s", info.Digest, buf.Len(), d)
	}
	src := filepath.Join(t.TempDir(), "layer.blob")
	if err := os.WriteFile(src, []byte(buf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := Assemble(nil, []v1.Layer{mem}, testConfig(amd64))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := Index([]v1.Image{img})
	if err != nil {
		t.Fatal(err)
	}
	plain, linked := filepath.Join(t.TempDir(), "plain"), filepath.Join(t.TempDir(), "linked")
	if err := WriteLayout(plain, idx); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(linked, idx, WithBlobFiles(map[v1.Hash]string{info.Digest: src})); err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(linked, "blobs", "sha256", info.Digest.Hex)
	a, err1 := os.Stat(blob)
	b, err2 := os.Stat(src)
	if err1 != nil || err2 != nil || !os.SameFile(a, b) {
		t.Errorf("layer blob not linked from %s: %v %v", src, err1, err2)
	}
	for _, dir := range []string{plain, linked} {
		root, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Index(root); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
	pb, _ := os.ReadFile(filepath.Join(plain, "index.json"))
	lb, _ := os.ReadFile(filepath.Join(linked, "index.json"))
	if string(pb) != string(lb) {
		t.Errorf("index.json differs with linked blobs:\n%s\n%s", pb, lb)
	}
}
