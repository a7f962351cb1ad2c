package testutil

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
)

// TestSmokeSolveAndPush runs both services and makes one round trip: solve a one-file
// image to an OCI archive, push the same image to the registry, read it back.
func TestSmokeSolveAndPush(t *testing.T) {
	reg := StartRegistry(t)
	bk := StartBuildkitd(t, WithHTTPRegistry(reg.Host()))
	c := bk.Client(t)
	ctx := context.Background()

	def, err := llb.Scratch().File(llb.Mkfile("/hello.txt", 0o644, []byte("hello reprobuild\n"))).
		Marshal(ctx, llb.LinuxAmd64)
	if err != nil {
		t.Fatal(err)
	}
	repro := map[string]string{"source-date-epoch": "1700000000", "rewrite-timestamp": "true"}
	attrs := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range repro {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	// OCI archive to a file.
	tarPath := filepath.Join(t.TempDir(), "image.tar")
	res, err := c.Solve(ctx, def, client.SolveOpt{
		CompatibilityVersion: 30,
		Exports: []client.ExportEntry{{
			Type:  client.ExporterOCI,
			Attrs: attrs(nil),
			Output: func(map[string]string) (io.WriteCloser, error) {
				return os.Create(tarPath)
			},
		}},
	}, nil)
	if err != nil {
		t.Fatalf("solve with oci exporter: %v", err)
	}
	ociDigest := res.ExporterResponse["containerimage.digest"]
	if ociDigest == "" {
		t.Fatalf("oci exporter returned no digest: %v", res.ExporterResponse)
	}
	if st, err := os.Stat(tarPath); err != nil || st.Size() == 0 {
		t.Fatalf("oci archive not written: %v", err)
	}
	t.Logf("oci exporter digest %s", ociDigest)

	// Push to the registry.
	ref := reg.Host() + "/smoke/hello:v1"
	res, err = c.Solve(ctx, def, client.SolveOpt{
		CompatibilityVersion: 30,
		Exports: []client.ExportEntry{{
			Type:  client.ExporterImage,
			Attrs: attrs(map[string]string{"name": ref, "push": "true", "registry.insecure": "true"}),
		}},
	}, nil)
	if err != nil {
		t.Fatalf("solve with image exporter (push %s): %v", ref, err)
	}
	pushed := res.ExporterResponse["containerimage.digest"]
	if pushed != ociDigest {
		t.Errorf("pushed digest %s differs from OCI archive digest %s (same LLB, same epoch)", pushed, ociDigest)
	}

	// Read it back through the registry protocol.
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("reading %s back: %v", ref, err)
	}
	if desc.Digest.String() != pushed {
		t.Errorf("registry has %s for %s, buildkit reported %s", desc.Digest, ref, pushed)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("got %d layers, want 1", len(layers))
	}
	files, err := ReadLayerFiles(layers[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := string(files["hello.txt"]); got != "hello reprobuild\n" {
		t.Errorf("hello.txt = %q", got)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Created.Unix(); got != 1700000000 {
		t.Errorf("config created = %d, want source-date-epoch 1700000000", got)
	}

	// The OCI archive holds the same manifest.
	dir := t.TempDir()
	if err := ExtractTar(tarPath, dir); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading OCI archive as a layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != ociDigest {
		t.Errorf("OCI archive index = %+v, want one manifest %s", im.Manifests, ociDigest)
	}
}
