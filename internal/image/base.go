package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Scratch is the base reference for an image with no base layers.
const Scratch = "scratch"

// LoadOption changes how LoadBase resolves a reference.
type LoadOption func(*loadOptions)

type loadOptions struct {
	allowTag  bool
	transport http.RoundTripper
}

func makeLoadOptions(opts []LoadOption) loadOptions {
	o := loadOptions{transport: remote.DefaultTransport}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// AllowTag lets LoadBase resolve a registry tag. The result is not reproducible: record the
// digest LoadBase returns and pin it.
func AllowTag() LoadOption { return func(o *loadOptions) { o.allowTag = true } }

// WithTransport sets the HTTP transport for registry access.
func WithTransport(t http.RoundTripper) LoadOption {
	return func(o *loadOptions) { o.transport = t }
}

// LoadBase resolves a base image reference for platform and returns the image and its
// manifest digest. ref is one of:
//
//	scratch                      no base: returns a nil image and ""
//	REGISTRY/REPO@sha256:HEX     a registry image or index, pinned by digest
//	oci:PATH@sha256:HEX          an image or index in an OCI layout, pinned by digest
//	oci:PATH                     the image in an OCI layout's index.json for platform
//
// A registry tag is refused with *UnpinnedBaseError unless AllowTag is given. When the
// reference names an index, the image for platform is chosen from it.
func LoadBase(ctx context.Context, ref string, platform v1.Platform, kc authn.Keychain, opts ...LoadOption) (v1.Image, string, error) {
	o := makeLoadOptions(opts)
	br, err := ParseBaseRef(ref)
	if err != nil {
		return nil, "", err
	}
	switch br.Kind {
	case BaseScratch:
		return nil, "", nil
	case BaseLayout:
		return loadLayout(br, platform)
	}
	if br.Digest == "" && !o.allowTag {
		return nil, "", &UnpinnedBaseError{Ref: ref}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, "", &BaseError{Ref: ref, Reason: "not a valid image reference", Err: err}
	}
	if kc == nil {
		kc = authn.NewMultiKeychain()
	}
	img, err := remote.Image(r,
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithPlatform(platform),
		remote.WithTransport(o.transport))
	if err != nil {
		return nil, "", &BaseError{Ref: ref, Reason: "fetching from the registry", Err: err}
	}
	return withDigest(ref, img)
}

// BaseKind says where a base image comes from.
type BaseKind int

// Base kinds.
const (
	BaseScratch BaseKind = iota
	BaseRegistry
	BaseLayout
)

// BaseRef is a parsed base image reference. Parsing does no I/O, so audits can check
// pinning without touching a registry.
type BaseRef struct {
	Kind BaseKind
	// Name is the fully qualified repository (e.g. "index.docker.io/library/debian") or
	// the layout directory.
	Name string
	// Digest is "sha256:HEX" when the reference is pinned, else "".
	Digest string
}

// String returns the reference in the form LoadBase accepts.
func (b BaseRef) String() string {
	s := b.Name
	switch b.Kind {
	case BaseScratch:
		return Scratch
	case BaseLayout:
		s = "oci:" + s
	}
	if b.Digest != "" {
		s += "@" + b.Digest
	}
	return s
}

// ParseBaseRef parses a base image reference (see LoadBase) without any I/O. A registry
// tag parses fine with an empty Digest; LoadBase is where it is refused.
func ParseBaseRef(ref string) (BaseRef, error) {
	if ref == Scratch {
		return BaseRef{Kind: BaseScratch}, nil
	}
	if dir, ok := strings.CutPrefix(ref, "oci:"); ok {
		br := BaseRef{Kind: BaseLayout, Name: dir}
		if i := strings.LastIndex(dir, "@"); i >= 0 {
			h, err := v1.NewHash(dir[i+1:])
			if err != nil {
				return BaseRef{}, &BaseError{Ref: ref, Reason: "the part after @ is not a sha256:HEX digest", Err: err}
			}
			br.Name, br.Digest = dir[:i], h.String()
		}
		if br.Name == "" {
			return BaseRef{}, &BaseError{Ref: ref, Reason: "no layout directory given (write oci:PATH or oci:PATH@sha256:...)"}
		}
		return br, nil
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return BaseRef{}, &BaseError{Ref: ref, Reason: "not a valid image reference (want scratch, REPO@sha256:..., or oci:PATH[@sha256:...])", Err: err}
	}
	br := BaseRef{Kind: BaseRegistry, Name: r.Context().Name()}
	if d, ok := r.(name.Digest); ok {
		br.Digest = d.DigestStr()
	}
	// Qualifying a short name (library/ prefix) can push it past the 255-byte limit.
	if _, err := name.ParseReference(br.String()); err != nil {
		return BaseRef{}, &BaseError{Ref: ref, Reason: "the fully qualified name " + br.Name + " is not a valid repository (too long?)", Err: err}
	}
	return br, nil
}

func withDigest(ref string, img v1.Image) (v1.Image, string, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, "", &BaseError{Ref: ref, Reason: "computing the image digest", Err: err}
	}
	return img, d.String(), nil
}

func loadLayout(br BaseRef, platform v1.Platform) (v1.Image, string, error) {
	ref, dir := br.String(), br.Name
	var want *v1.Hash
	if br.Digest != "" {
		h, err := v1.NewHash(br.Digest)
		if err != nil {
			return nil, "", &BaseError{Ref: ref, Reason: "bad digest", Err: err}
		}
		want = &h
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, "", &BaseError{Ref: ref, Reason: "opening the OCI layout (a directory with oci-layout and index.json)", Err: err}
	}
	root, err := p.ImageIndex()
	if err != nil {
		return nil, "", &BaseError{Ref: ref, Reason: "reading index.json", Err: err}
	}
	if want != nil {
		desc, idx, err := findDescriptor(root, *want)
		if err != nil {
			return nil, "", &BaseError{Ref: ref, Reason: "searching the layout", Err: err}
		}
		if desc == nil {
			return nil, "", &BaseError{Ref: ref, Reason: fmt.Sprintf("no manifest or index %s in %s", want, dir)}
		}
		if desc.MediaType.IsImage() {
			img, err := idx.Image(*want)
			if err != nil {
				return nil, "", &BaseError{Ref: ref, Reason: "reading the image", Err: err}
			}
			return withDigest(ref, img)
		}
		child, err := idx.ImageIndex(*want)
		if err != nil {
			return nil, "", &BaseError{Ref: ref, Reason: "reading the index", Err: err}
		}
		root = child
	}
	img, err := imageForPlatform(root, platform)
	if err != nil {
		return nil, "", &BaseError{Ref: ref, Reason: "choosing the image for " + platform.String(), Err: err}
	}
	return withDigest(ref, img)
}

// findDescriptor looks for digest h anywhere under idx and returns its descriptor and the
// index that lists it.
func findDescriptor(idx v1.ImageIndex, h v1.Hash) (*v1.Descriptor, v1.ImageIndex, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	for i := range m.Manifests {
		d := m.Manifests[i]
		if d.Digest == h {
			return &d, idx, nil
		}
	}
	for _, d := range m.Manifests {
		if !d.MediaType.IsIndex() {
			continue
		}
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		if found, in, err := findDescriptor(child, h); err != nil || found != nil {
			return found, in, err
		}
	}
	return nil, nil, nil
}

var errNoPlatform = errors.New("no image for this platform")

// imageForPlatform walks idx (and nested indexes) for the single image matching platform.
// An image without a platform in its descriptor matches if its config says so.
func imageForPlatform(idx v1.ImageIndex, platform v1.Platform) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var found []v1.Image
	for _, d := range m.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			img, err := imageForPlatform(child, platform)
			if errors.Is(err, errNoPlatform) {
				continue
			}
			if err != nil {
				return nil, err
			}
			found = append(found, img)
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			p := d.Platform
			if p == nil {
				cf, err := img.ConfigFile()
				if err != nil {
					return nil, err
				}
				p = cf.Platform()
			}
			if p != nil && p.Satisfies(platform) {
				found = append(found, img)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, errNoPlatform
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%d images match; pin one with @sha256:<digest>", len(found))
}
