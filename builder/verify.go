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
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/reprobuild/reprobuild/internal/record"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Recipe string
	Vars   map[string]string
	// Image is the image to check: "oci:DIR" or a registry reference. Empty: only
	// rebuild twice and compare (proves the build is reproducible here).
	Image string
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
		Recipe: o.Recipe, Vars: o.Vars, Frozen: true, Epoch: o.Epoch, LayerBudget: o.LayerBudget,
		Channel: o.Channel, Keychain: o.Keychain,
	}
	built, err := Image(ctx, io)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{Rebuilt: built.Digest}
	if o.Image == "" {
		again, err := Image(ctx, io)
		if err != nil {
			return nil, err
		}
		res.Expected = again.Digest
		res.Match = again.Digest == built.Digest
		if !res.Match {
			res.Difference = "two rebuilds on this machine differ"
			return res, &MismatchError{Result: res}
		}
		return res, nil
	}
	want, err := loadImageOrIndex(ctx, o.Image, o.Keychain)
	if err != nil {
		return nil, err
	}
	res.Expected = want.digest
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

// loadImageOrIndex reads "oci:DIR" (the layout's first manifest) or a registry
// reference.
func loadImageOrIndex(ctx context.Context, ref string, kc authn.Keychain) (*imageOrIndex, error) {
	if dir, ok := strings.CutPrefix(ref, "oci:"); ok {
		lp, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
		}
		m, err := lp.IndexManifest()
		if err != nil {
			return nil, err
		}
		if len(m.Manifests) == 0 {
			return nil, fmt.Errorf("OCI layout %s holds no image", dir)
		}
		d := m.Manifests[0]
		if d.MediaType.IsIndex() {
			idx, err := lp.ImageIndex(d.Digest)
			return &imageOrIndex{digest: d.Digest.String(), idx: idx}, err
		}
		img, err := lp.Image(d.Digest)
		return &imageOrIndex{digest: d.Digest.String(), img: img}, err
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(kc))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", ref, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		return &imageOrIndex{digest: desc.Digest.String(), idx: idx}, err
	}
	img, err := desc.Image()
	return &imageOrIndex{digest: desc.Digest.String(), img: img}, err
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
