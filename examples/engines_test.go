package examples

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// platformImages returns the images of an OCI layout the CLI wrote, by conda subdir.
func platformImages(t *testing.T, dir string) map[string]v1.Image {
	t.Helper()
	idx, m := testutil.OCILayout(t, dir)
	out := map[string]v1.Image{}
	var walk func(idx v1.ImageIndex, descs []v1.Descriptor)
	walk = func(idx v1.ImageIndex, descs []v1.Descriptor) {
		for _, d := range descs {
			switch {
			case d.MediaType.IsIndex():
				inner, err := idx.ImageIndex(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				im, err := inner.IndexManifest()
				if err != nil {
					t.Fatal(err)
				}
				walk(inner, im.Manifests)
			case d.MediaType.IsImage():
				img, err := idx.Image(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				cf, err := img.ConfigFile()
				if err != nil {
					t.Fatal(err)
				}
				if cf.OS == "" {
					continue // an SBOM artifact
				}
				js, err := testutil.ImageFile(img, record.Path)
				if err != nil {
					t.Fatal(err)
				}
				rr, err := record.ParseRuntime(js)
				if err != nil {
					t.Fatal(err)
				}
				out[rr.Platform.Subdir] = img
			}
		}
	}
	walk(idx, m.Manifests)
	if len(out) == 0 {
		t.Fatalf("no platform images in %s", dir)
	}
	return out
}

// compareEngines checks two images of one platform, one from each engine: the same
// file tree, the same runtime record except its engine field, the same config and the
// same manifest annotations.
func compareEngines(t *testing.T, emb, bk v1.Image) {
	t.Helper()
	a, err := testutil.TreeFromImage(emb)
	if err != nil {
		t.Fatal(err)
	}
	b, err := testutil.TreeFromImage(bk)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(testutil.WithoutPath(a, record.Path), testutil.WithoutPath(b, record.Path)); d != "" {
		t.Errorf("file trees differ (-embedded +buildkit):\n%s", d)
	}
	var recs [2]*record.RuntimeRecord
	for i, img := range []v1.Image{emb, bk} {
		js, err := testutil.ImageFile(img, record.Path)
		if err != nil {
			t.Fatal(err)
		}
		if recs[i], err = record.ParseRuntime(js); err != nil {
			t.Fatal(err)
		}
	}
	if recs[0].Engine != "embedded" || recs[1].Engine != "buildkit" {
		t.Errorf("record engines %q and %q", recs[0].Engine, recs[1].Engine)
	}
	recs[1].Engine = recs[0].Engine
	if d := cmp.Diff(recs[0], recs[1]); d != "" {
		t.Errorf("runtime records differ beyond the engine (-embedded +buildkit):\n%s", d)
	}
	ec, err := emb.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bk.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	// The layer lists (diff IDs) differ: the engines compress and split differently.
	ec.RootFS, bc.RootFS = v1.RootFS{}, v1.RootFS{}
	if d := cmp.Diff(ec, bc); d != "" {
		t.Errorf("image configs differ (-embedded +buildkit):\n%s", d)
	}
	em, err := emb.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	bm, err := bk.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(em.Annotations, bm.Annotations); d != "" {
		t.Errorf("manifest annotations differ (-embedded +buildkit):\n%s", d)
	}
	logLayerDiff(t, emb, bk)
}

// logLayerDiff reports, layer by layer, what keeps the two engines' digests apart: the
// same uncompressed tar (diff ID) with another compression, or another tar.
func logLayerDiff(t *testing.T, emb, bk v1.Image) {
	t.Helper()
	el, err := emb.Layers()
	if err != nil {
		t.Fatal(err)
	}
	bl, err := bk.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(el) != len(bl) {
		t.Logf("layers: embedded %d, buildkit %d", len(el), len(bl))
		return
	}
	same, sameTar := 0, 0
	for i := range el {
		ed, _ := el[i].Digest()
		bd, _ := bl[i].Digest()
		ei, _ := el[i].DiffID()
		bi, _ := bl[i].DiffID()
		es, _ := el[i].Size()
		bs, _ := bl[i].Size()
		switch {
		case ed == bd:
			same++
		case ei == bi:
			sameTar++
			t.Logf("layer %d: same tar %s, compressed %d bytes (embedded) vs %d (buildkit)", i, ei.Hex[:12], es, bs)
		default:
			t.Logf("layer %d: different tars, embedded %s (%d bytes gz), buildkit %s (%d bytes gz)", i, ei.Hex[:12], es, bi.Hex[:12], bs)
			ea, ba := tarHeaders(t, el[i]), tarHeaders(t, bl[i])
			if d := cmp.Diff(ea, ba); d != "" {
				t.Logf("layer %d tar entries (-embedded +buildkit):\n%s", i, d)
			}
		}
	}
	t.Logf("layers: %d identical, %d with the same tar compressed differently, %d with different tars, of %d", same, sameTar, len(el)-same-sameTar, len(el))
}

// docFiles lists what an output's DEST.reprobuild directory holds.
func docFiles(t *testing.T, out string) []string {
	t.Helper()
	ents, err := os.ReadDir(out + ".reprobuild")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

var needLine = regexp.MustCompile(`(?m)^llb: this build needs (--local|--oci-layout) (.+)$`)

// llbBuild writes the LLB of one platform with `reprobuild llb` and builds it with
// buildctl, with the config and exporter attributes llb wrote; it returns the digest.
func llbBuild(t *testing.T, o runOpts, bk *testutil.Buildkitd, platform string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	cfgPath, attrsPath := filepath.Join(dir, "cfg.json"), filepath.Join(dir, "attrs.json")
	args := append([]string{"llb", "-f", "reprobuild.hcl", "--platform", platform, "--config-out", cfgPath, "--attrs-out", attrsPath}, extra...)
	cmd := exec.Command(cli, args...)
	cmd.Dir = o.dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, o.env...)
	var def, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &def, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("reprobuild llb: %v\n%s", err, stderr.String())
	}
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(attrsPath)
	if err != nil {
		t.Fatal(err)
	}
	var attrs map[string]string
	if err := json.Unmarshal(b, &attrs); err != nil {
		t.Fatal(err)
	}
	attrs["containerimage.config"] = string(cfg)
	fields := []string{"type=oci", "dest=" + filepath.Join(dir, "out.tar")}
	for k, v := range attrs {
		fields = append(fields, k+"="+v)
	}
	slices.Sort(fields[2:])
	var csvOut bytes.Buffer
	w := csv.NewWriter(&csvOut)
	if err := w.Write(fields); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	meta := filepath.Join(dir, "meta.json")
	bargs := []string{"--addr", bk.Addr(), "build", "--metadata-file", meta, "--output", strings.TrimSpace(csvOut.String())}
	for _, m := range needLine.FindAllStringSubmatch(stderr.String(), -1) {
		bargs = append(bargs, m[1], m[2])
	}
	bc := exec.Command(bk.Buildctl(), bargs...)
	bc.Stdin = &def
	if out, err := bc.CombinedOutput(); err != nil {
		t.Fatalf("buildctl %s: %v\n%s", strings.Join(bargs, " "), err, out)
	}
	var m map[string]any
	b, err = os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	d, _ := m["containerimage.digest"].(string)
	return d
}

// TestEnginesAgreeThroughCLI builds every example with both engines through the CLI,
// on a real buildkitd, and checks each platform image has the same file tree, runtime
// record (except engine), config and annotations, and the same documents beside the
// output; then that `reprobuild llb | buildctl build` gives exactly the image of
// `reprobuild image --engine buildkit`.
func TestEnginesAgreeThroughCLI(t *testing.T) {
	testutil.RequireRoot(t)
	bk := testutil.StartBuildkitd(t)
	if bk.Buildctl() == "" {
		testutil.Unavailable(t, "buildctl not found")
	}
	ws := workspace(t)
	examples := []struct {
		name string
		vars []string
	}{{name: "quickstart"}, {name: "multiarch"}, {name: "debian-python"}}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			o := runOpts{dir: filepath.Join(ws, ex.name), env: []string{"REPROBUILD_CACHE=" + t.TempDir(), "BUILDKIT_HOST=" + bk.Addr()}}
			var extra []string
			if ex.name == "debian-python" {
				base := debianBase(t)
				extra = []string{"--var", "base=" + base}
				mustRun(t, o, append([]string{"lock", "-f", "reprobuild.hcl", "--offline"}, extra...)...)
			}
			embDir, bkDir := filepath.Join(t.TempDir(), "emb"), filepath.Join(t.TempDir(), "bk")
			buildImage(t, o, "reprobuild.hcl", embDir, extra...)
			bkDigest := buildImage(t, o, "reprobuild.hcl", bkDir, append([]string{"--engine", "buildkit"}, extra...)...)
			embImgs, bkImgs := platformImages(t, embDir), platformImages(t, bkDir)
			if d := cmp.Diff(slices.Sorted(mapsKeys(embImgs)), slices.Sorted(mapsKeys(bkImgs))); d != "" {
				t.Fatalf("platforms differ (-embedded +buildkit):\n%s", d)
			}
			for sd, img := range embImgs {
				t.Run(sd, func(t *testing.T) { compareEngines(t, img, bkImgs[sd]) })
			}
			if d := cmp.Diff(docFiles(t, embDir), docFiles(t, bkDir)); d != "" {
				t.Errorf("documents beside the output differ (-embedded +buildkit):\n%s", d)
			}
			for sd, img := range bkImgs {
				want, err := img.Digest()
				if err != nil {
					t.Fatal(err)
				}
				got := llbBuild(t, o, bk, sd, extra...)
				if got != want.String() {
					t.Errorf("%s: reprobuild llb | buildctl build gave %s, image --engine buildkit %s (%s)", sd, got, want, bkDigest)
				}
			}
		})
	}
}

func mapsKeys(m map[string]v1.Image) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// tarHeaders describes each entry of a layer's tar: name, type, mode, owner, times,
// extended records and a digest of the content.
func tarHeaders(t *testing.T, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, tr); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s type=%c mode=%o uid=%d gid=%d uname=%q gname=%q mtime=%d format=%v pax=%v size=%d sha=%x",
			h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime.Unix(), h.Format, h.PAXRecords, h.Size, sum.Sum(nil)[:6]))
	}
}
