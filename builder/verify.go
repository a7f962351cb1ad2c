package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/reprobuild/reprobuild/internal/record"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Recipe string
	Vars   map[string]string
	// Image is the image to check: "oci:DIR" or a registry reference. Empty: build once
	// (from the layer cache when it can) and once more from the package archives, and
	// compare; that proves the cache and the build agree here.
	Image string
	// NoCache rebuilds every layer from the package archives, never from the layer
	// cache, so a cache entry cannot vouch for itself. Always so without Image.
	NoCache bool
	// Epoch and LayerBudget must be what the image was built with.
	Epoch       *time.Time
	LayerBudget int
	Channel     ChannelOptions
	Keychain    authn.Keychain
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	Rebuilt  string `json:"rebuilt"`
	Expected string `json:"expected"`
	Match    bool   `json:"match"`
	// Difference says where the images first differ, when they do.
	Difference string `json:"difference,omitempty"`
}

// MismatchError is returned when the rebuilt image differs from the one checked.
type MismatchError struct{ Result *VerifyResult }

func (e *MismatchError) Error() string {
	return fmt.Sprintf("rebuilt image %s differs from %s: %s", e.Result.Rebuilt, e.Result.Expected, e.Result.Difference)
}

// Verify rebuilds the recipe's image from its lock (never relocking) with the embedded
// engine and compares it with an existing image, reporting the first differing layer
// and file on a mismatch.
func Verify(ctx context.Context, o VerifyOptions) (*VerifyResult, error) {
	if p, ok := strings.CutPrefix(o.Image, "vm:"); ok {
		return verifyVM(ctx, o, p)
	}
	io := ImageOptions{
		Recipe: o.Recipe, Vars: o.Vars, Locked: true, Epoch: o.Epoch, LayerBudget: o.LayerBudget,
		Channel: o.Channel, Keychain: o.Keychain, NoLayerCache: o.NoCache || o.Image == "",
	}
	built, err := Image(ctx, io)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{Rebuilt: built.Digest}
	if o.Image == "" {
		// The second build may use the layer cache: a cached layer that differs from
		// what the archives give is then caught.
		cached := io
		cached.NoLayerCache = false
		again, err := Image(ctx, cached)
		if err != nil {
			return nil, err
		}
		res.Expected = again.Digest
		res.Match = again.Digest == built.Digest
		if !res.Match {
			res.Difference = "the build from the layer cache differs from the build from the package archives"
			if again.Image != nil && built.Image != nil {
				res.Difference += ": " + diffImages(built.Image, again.Image)
			}
			return res, &MismatchError{Result: res}
		}
		return res, nil
	}
	var tmp string
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	want, err := loadImageOrIndex(ctx, o.Image, o.Keychain, func() (string, error) {
		var err error
		tmp, err = os.MkdirTemp("", "reprobuild-verify-")
		return tmp, err
	})
	if err != nil {
		return nil, err
	}
	res.Expected = want.digest
	if want.noManifest && built.Image != nil {
		// A docker archive keeps the config, not the manifest: compare image IDs (the
		// config holds every layer's diff ID, so equal IDs are equal file trees).
		b, errB := built.Image.ConfigName()
		w, errW := want.img.ConfigName()
		if err := errors.Join(errB, errW); err != nil {
			return nil, err
		}
		res.Rebuilt, res.Expected = "image ID "+b.String(), "image ID "+w.String()
		if b == w {
			res.Match = true
			return res, nil
		}
		res.Difference = diffImages(built.Image, want.img)
		return res, &MismatchError{Result: res}
	}
	if built.Index == nil && want.idx != nil {
		// A single-platform build against a layout or tag that wraps it in an index:
		// compare with that platform's manifest.
		if wi, err := want.platformImage(built.Platforms[0].Platform, true); err == nil {
			if d, err := wi.Digest(); err == nil {
				res.Expected = d.String()
			}
		}
	}
	if res.Expected == built.Digest {
		res.Match = true
		return res, nil
	}
	// Find the first platform image that differs, then its first differing layer/file.
	res.Difference = "the image indexes differ"
	for _, p := range built.Platforms {
		wi, err := want.platformImage(p.Platform, len(built.Platforms) == 1)
		if err != nil {
			res.Difference = err.Error()
			break
		}
		bi := built.Image
		if built.Index != nil {
			h, _ := v1.NewHash(p.Digest)
			if bi, err = built.Index.Image(h); err != nil {
				return nil, err
			}
		}
		if d, _ := wi.Digest(); d.String() == p.Digest {
			continue
		}
		res.Difference = diffImages(bi, wi)
		break
	}
	return res, &MismatchError{Result: res}
}

type imageOrIndex struct {
	digest string
	img    v1.Image
	idx    v1.ImageIndex
	// noManifest: a docker archive, whose manifest is not the one pushed or built.
	noManifest bool
}

func (x *imageOrIndex) platformImage(platform string, single bool) (v1.Image, error) {
	if x.img != nil {
		return x.img, nil
	}
	m, err := x.idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	os_, arch, variant, _ := record.OCIPlatform(platform)
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS == os_ && d.Platform.Architecture == arch && d.Platform.Variant == variant {
			return x.idx.Image(d.Digest)
		}
	}
	if single && len(m.Manifests) == 1 {
		return x.idx.Image(m.Manifests[0].Digest)
	}
	return nil, fmt.Errorf("the image has no %s/%s manifest for %s", os_, arch, platform)
}

// loadImageOrIndex reads what an image argument names (see openSource): oci:DIR (the
// layout's one entry, or oci:DIR:NAME, oci:DIR@sha256:...), oci-archive:FILE,
// docker:FILE or a registry reference.
// An oci-archive is extracted into tmp, which the caller removes when done.
func loadImageOrIndex(ctx context.Context, ref string, kc authn.Keychain, tmp func() (string, error)) (*imageOrIndex, error) {
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	src, err := openSource(ctx, ref, []remote.Option{remote.WithAuthFromKeychain(kc)}, tmp)
	if err != nil {
		return nil, fmt.Errorf("verify %w", err)
	}
	if src.pick != nil {
		desc, in, err := findIn(src.idx, *src.pick)
		if err != nil || desc == nil {
			return nil, fmt.Errorf("verify %s: no manifest or index %s in the layout (%v)", ref, src.pick, err)
		}
		src.digest, src.idx = desc.Digest, nil
		if desc.MediaType.IsIndex() {
			src.idx, err = in.ImageIndex(desc.Digest)
		} else {
			src.img, err = in.Image(desc.Digest)
		}
		if err != nil {
			return nil, fmt.Errorf("verify %s: %w", ref, err)
		}
	}
	return &imageOrIndex{digest: src.digest.String(), img: src.img, idx: src.idx, noManifest: src.dockerArchive}, nil
}

// findIn finds digest h anywhere under idx, with the index that lists it.
func findIn(idx v1.ImageIndex, h v1.Hash) (*v1.Descriptor, v1.ImageIndex, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	for i := range m.Manifests {
		if m.Manifests[i].Digest == h {
			return &m.Manifests[i], idx, nil
		}
	}
	for _, d := range m.Manifests {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, nil, err
			}
			if found, in, err := findIn(child, h); err != nil || found != nil {
				return found, in, err
			}
		}
	}
	return nil, nil, nil
}

// diffImages names the first difference between two images: config, layer count, or the
// first layer whose content differs and the first file in it.
func diffImages(a, b v1.Image) string {
	la, errA := a.Layers()
	lb, errB := b.Layers()
	if err := errors.Join(errA, errB); err != nil {
		return err.Error()
	}
	for i := 0; i < min(len(la), len(lb)); i++ {
		da, _ := la[i].DiffID()
		db, _ := lb[i].DiffID()
		if da == db {
			continue
		}
		return fmt.Sprintf("layer %d (rebuilt %s, expected %s): %s", i+1, da, db, diffLayers(la[i], lb[i]))
	}
	if len(la) != len(lb) {
		return fmt.Sprintf("rebuilt image has %d layers, expected %d", len(la), len(lb))
	}
	ca, _ := a.RawConfigFile()
	cb, _ := b.RawConfigFile()
	if !bytes.Equal(ca, cb) {
		return "the image configs differ (labels, env, created or history)"
	}
	return "the manifests differ (annotations or media types)"
}

type fileSum struct {
	hdr string
	sum string
}

func layerFiles(l v1.Layer) ([]string, map[string]fileSum, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var order []string
	files := map[string]fileSum{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return order, files, nil
		}
		if err != nil {
			return nil, nil, err
		}
		s := sha256.New()
		if _, err := io.Copy(s, tr); err != nil {
			return nil, nil, err
		}
		order = append(order, h.Name)
		files[h.Name] = fileSum{
			hdr: fmt.Sprintf("type=%c mode=%o uid=%d gid=%d mtime=%d link=%s", h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime.Unix(), h.Linkname),
			sum: hex.EncodeToString(s.Sum(nil)),
		}
	}
}

func diffLayers(a, b v1.Layer) string {
	oa, fa, errA := layerFiles(a)
	ob, fb, errB := layerFiles(b)
	if err := errors.Join(errA, errB); err != nil {
		return "cannot read: " + err.Error()
	}
	for i := 0; i < max(len(oa), len(ob)); i++ {
		switch {
		case i >= len(oa):
			return fmt.Sprintf("file %s is only in the expected image", ob[i])
		case i >= len(ob):
			return fmt.Sprintf("file %s is only in the rebuilt image", oa[i])
		case oa[i] != ob[i]:
			return fmt.Sprintf("entry %d is %s in the rebuilt image but %s in the expected one", i+1, oa[i], ob[i])
		}
		x, y := fa[oa[i]], fb[ob[i]]
		if x.sum != y.sum {
			return fmt.Sprintf("file %s has content sha256 %s, expected %s", oa[i], x.sum, y.sum)
		}
		if x.hdr != y.hdr {
			return fmt.Sprintf("file %s has metadata %s, expected %s", oa[i], x.hdr, y.hdr)
		}
	}
	return "same files, different compression"
}
