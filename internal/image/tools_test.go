package image

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// needTool skips when an independent reader is not installed, but fails in CI, where the
// check must run.
func needTool(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (apt-get install -y %s): %v", tool, tool, err)
		}
		t.Skipf("%s not installed (apt-get install -y %s); skipping the independent check", tool, tool)
	}
	return p
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, l := range m.Layers {
		ds = append(ds, l.Digest.String())
	}
	return ds
}

// TestLayoutReadBySkopeo has skopeo, a reader written independently of
// go-containerregistry, resolve our nested index by platform.
func TestLayoutReadBySkopeo(t *testing.T) {
	skopeo := needTool(t, "skopeo")
	a, b := testImage(t, amd64), testImage(t, arm64)
	idx, err := Index([]v1.Image{a, b})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := WriteLayout(dir, idx, WithRefName("latest")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		arch string
		img  v1.Image
	}{{"amd64", a}, {"arm64", b}} {
		t.Run(tc.arch, func(t *testing.T) {
			out := run(t, skopeo, "--override-os", "linux", "--override-arch", tc.arch, "inspect", "oci:"+dir+":latest")
			var got struct {
				Architecture string
				Layers       []string
				Env          []string
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("skopeo output: %v\n%s", err, out)
			}
			cf, _ := tc.img.ConfigFile()
			want := struct {
				Architecture string
				Layers       []string
				Env          []string
			}{tc.arch, layerDigests(t, tc.img), cf.Config.Env}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("skopeo sees (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLayoutUnpackedByUmoci unpacks a layout with umoci and checks the files, so the
// layer tar itself is read by a second implementation. umoci 0.4 calls a ref name that
// leads to two platform images ambiguous, so this layout holds one platform.
func TestLayoutUnpackedByUmoci(t *testing.T) {
	umoci := needTool(t, "umoci")
	img := testImage(t, amd64)
	idx, err := Index([]v1.Image{img})
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "layout")
	if err := WriteLayout(dir, idx, WithRefName("latest")); err != nil {
		t.Fatal(err)
	}
	var stat struct {
		History []struct {
			CreatedBy string `json:"created_by"`
			Layer     *struct {
				Digest string `json:"digest"`
			} `json:"layer"`
		} `json:"history"`
	}
	out := run(t, umoci, "stat", "--json", "--image", dir+":latest")
	if err := json.Unmarshal(out, &stat); err != nil {
		t.Fatalf("umoci stat output: %v\n%s", err, out)
	}
	var got []string
	for _, h := range stat.History {
		if h.CreatedBy != HistoryCreatedBy || h.Layer == nil {
			t.Errorf("history entry %+v", h)
			continue
		}
		got = append(got, h.Layer.Digest)
	}
	if diff := cmp.Diff(layerDigests(t, img), got); diff != "" {
		t.Errorf("umoci stat layers (-want +got):\n%s", diff)
	}

	bundle := filepath.Join(tmp, "bundle")
	run(t, umoci, "unpack", "--rootless", "--image", dir+":latest", bundle)
	rootfs := filepath.Join(bundle, "rootfs")
	data, err := os.ReadFile(filepath.Join(rootfs, "opt/env/lib/python3.11/os2.py"))
	if err != nil || len(data) != len(sampleEntries()[3].Data) {
		t.Errorf("hardlinked file: %d bytes, %v", len(data), err)
	}
	if target, err := os.Readlink(filepath.Join(rootfs, "opt/env/bin/python")); err != nil || target != "python3.11" {
		t.Errorf("symlink = %q, %v", target, err)
	}
	info, err := os.Stat(filepath.Join(rootfs, "opt/env/bin/python3.11"))
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("python3.11 mode %v, %v", info.Mode(), err)
	}
	if got, err := os.ReadFile(filepath.Join(rootfs, "data/amd64.txt")); err != nil || string(got) != "linux/amd64" {
		t.Errorf("data layer file = %q, %v", got, err)
	}
}
