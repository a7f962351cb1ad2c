package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprobuild/reprobuild/internal/fsutil"
	"github.com/reprobuild/reprobuild/internal/progress"
)

// RefNameAnnotation names an entry of an OCI layout's index.json (the "tag" that
// `skopeo oci:DIR:NAME` and `umoci --image DIR:NAME` select).
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// LayoutOption changes how WriteLayout writes index.json.
type LayoutOption func(*layoutOptions)

type layoutOptions struct {
	refName   string
	artifacts []v1.Image
	blobFiles map[v1.Hash]string
	// beforeReplace runs when the new layout is complete, before the swap.
	beforeReplace func()
}

// WithBlobFiles names local files that already hold blobs of the layout, by digest (e.g.
// layers in a verified cache). WriteLayout hardlinks them into blobs/ instead of copying
// the bytes again, and copies as usual when a link is impossible (another file system).
// The caller vouches that each file holds exactly the bytes of its digest and lists only
// blobs the layout references.
func WithBlobFiles(files map[v1.Hash]string) LayoutOption {
	return func(o *layoutOptions) {
		if o.blobFiles == nil {
			o.blobFiles = map[v1.Hash]string{}
		}
		for h, p := range files {
			o.blobFiles[h] = p
		}
	}
}

// WithArtifacts stores manifests (e.g. SBOM referrers whose subject is one of the images)
// in the layout's blobs, inside the same atomic write, without listing them in
// index.json: single-image tools (skopeo, umoci, crane) need index.json to hold exactly
// one entry, and umoci refuses a tag under which more than one manifest is reachable. The
// artifacts are reachable through ReferrersIndex (the shape of the distribution spec's
// referrers response), which the caller keeps beside the layout.
func WithArtifacts(arts ...v1.Image) LayoutOption {
	return func(o *layoutOptions) { o.artifacts = append(o.artifacts, arts...) }
}

// WithRefName sets the ref.name annotation of the index entry in index.json.
func WithRefName(n string) LayoutOption { return func(o *layoutOptions) { o.refName = n } }

// WithBeforeReplace calls f when the new layout is complete beside the old one, just
// before it is swapped in (for progress and the kill tests).
func WithBeforeReplace(f func()) LayoutOption {
	return func(o *layoutOptions) { o.beforeReplace = f }
}

// WriteLayout writes x (a v1.Image or a v1.ImageIndex) as an OCI image layout at dir:
// index.json lists exactly one entry, x itself (an image's entry carries its platform),
// so `skopeo inspect oci:DIR`, `umoci unpack --image DIR:REF` and `crane push DIR` each
// see one image or one index, and the printed digest is the entry's digest. Artifacts
// (WithArtifacts) are stored as blobs only (see ReferrersIndex). The layout is built in a temporary directory beside dir and
// renamed into place, so dir is either the old layout or the whole new one, never a
// half-written one. An existing layout or empty directory at dir is replaced; anything
// else is refused.
func WriteLayout(dir string, x any, opts ...LayoutOption) error {
	var o layoutOptions
	for _, f := range opts {
		f(&o)
	}
	dir = filepath.Clean(dir)
	if err := replaceable(dir); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	// Leftovers of runs killed while writing this output; a live writer's are kept.
	_, _ = fsutil.CleanStale(parent, "."+filepath.Base(dir)+".tmp-*")
	t, err := fsutil.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: creating a temporary directory in %s: %w", dir, parent, err)
	}
	defer t.Release()
	tmp := t.Path
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	linkBlobs(tmp, o.blobFiles)
	var lo []layout.Option
	if o.refName != "" {
		lo = append(lo, layout.WithAnnotations(map[string]string{RefNameAnnotation: o.refName}))
	}
	switch v := x.(type) {
	case v1.ImageIndex:
		err = p.AppendIndex(v, lo...)
	case v1.Image:
		var cf *v1.ConfigFile
		if cf, err = v.ConfigFile(); err == nil && cf.Platform() != nil && cf.OS != "" {
			lo = append(lo, layout.WithPlatform(*cf.Platform()))
		}
		if err == nil {
			err = p.AppendImage(v, lo...)
		}
	default:
		err = fmt.Errorf("%T is neither an image nor an index", x)
	}
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	for _, a := range o.artifacts {
		if err := p.WriteImage(a); err != nil {
			return fmt.Errorf("writing OCI layout %s: %w", dir, err)
		}
	}
	if o.beforeReplace != nil {
		o.beforeReplace()
	}
	return fsutil.ReplaceDir(tmp, dir)
}

// linkBlobs hardlinks known blob files into the layout at dir. layout's writer skips a
// blob that already exists with the right size, so a linked blob is never written twice;
// a blob that cannot be linked is simply written by it as before.
func linkBlobs(dir string, files map[v1.Hash]string) {
	for h, src := range files {
		if h.Algorithm != "sha256" || len(h.Hex) != 64 || strings.ContainsAny(h.Hex, "/\\.") {
			continue
		}
		d := filepath.Join(dir, "blobs", h.Algorithm)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return
		}
		_ = os.Link(src, filepath.Join(d, h.Hex))
	}
}

// replaceable refuses to replace anything but nothing, an empty directory or an OCI
// layout, so a mistyped path never costs the user unrelated files.
func replaceable(dir string) error {
	info, err := os.Lstat(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("writing OCI layout %s: it exists and is not a directory; remove it or choose another path", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return fmt.Errorf("writing OCI layout %s: the directory is not empty and holds no oci-layout file; "+
			"remove it or choose another path (only an existing layout is replaced)", dir)
	}
	return nil
}

// WriteDockerArchive writes img as a `docker load` archive at path, tagged tag (e.g.
// "lab/analysis:2026.11"). It writes a temporary file beside path and renames it.
func WriteDockerArchive(path, tag string, img v1.Image) (err error) {
	t, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("docker archive %s: tag %q is not a valid REPO:TAG: %w", path, tag, err)
	}
	_, _ = fsutil.CleanStale(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	tf, err := fsutil.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("docker archive %s: %w", path, err)
	}
	f := tf.File
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
		tf.Release()
	}()
	img, err = uniformCompression(img)
	if err != nil {
		return fmt.Errorf("docker archive %s: %w", path, err)
	}
	if err := tarball.Write(t, img, f); err != nil {
		return fmt.Errorf("writing docker archive %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing docker archive %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing docker archive %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing docker archive %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing docker archive %s: %w", path, err)
	}
	return nil
}

// uniformCompression gzips the uncompressed layers of img (e.g. a base kept as plain
// tar) for a docker archive: its manifest.json records no media types, so readers guess
// the compression of every layer, and go-containerregistry (crane, and inspect) guesses
// from the first layer only. The layers' content, the diff IDs and so the config and
// image ID are unchanged; a docker archive never holds the manifest digest anyway.
func uniformCompression(img v1.Image) (v1.Image, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	plain := false
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		plain = plain || !mt.IsLayer() || mt == types.OCIUncompressedLayer || mt == types.DockerUncompressedLayer
	}
	if !plain {
		return img, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	out := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	out = mutate.ConfigMediaType(out, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		if mt == types.OCIUncompressedLayer || mt == types.DockerUncompressedLayer {
			if l, err = tarball.LayerFromOpener(l.Uncompressed, tarball.WithMediaType(types.OCILayer)); err != nil {
				return nil, err
			}
		}
		adds[i] = mutate.Addendum{Layer: l}
	}
	if out, err = mutate.Append(out, adds...); err != nil {
		return nil, err
	}
	return mutate.ConfigFile(out, cf)
}

// Push uploads x (a v1.Image or v1.ImageIndex) to ref and returns its digest. If ref is a
// digest reference it must match x's digest.
func Push(ctx context.Context, ref string, x any, kc authn.Keychain, opts ...LoadOption) (_ string, err error) {
	o := makeLoadOptions(opts)
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("push: %q is not a valid image reference (want REGISTRY/REPO:TAG): %w", ref, err)
	}
	if kc == nil {
		kc = authn.NewMultiKeychain()
	}
	ro := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithTransport(o.transport)}
	written := false // remote closes the updates channel only when it wrote
	if task := progress.FromContext(ctx).Start("push " + ref); task != nil {
		updates := make(chan v1.Update, 16)
		ro = append(ro, remote.WithProgress(updates))
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			var done int64
			for u := range updates {
				if u.Total > 0 {
					task.Total(u.Total, "bytes")
				}
				if u.Complete > done {
					task.Add(u.Complete-done, "")
					done = u.Complete
				}
			}
		}()
		defer func() {
			if !written {
				close(updates)
			}
			<-finished
			task.Done(err)
		}()
	}
	var d v1.Hash
	switch v := x.(type) {
	case v1.Image:
		if d, err = v.Digest(); err != nil {
			return "", err
		}
		if err = checkDigestRef(r, d); err == nil {
			written = true
			err = remote.Write(r, v, ro...)
		}
	case v1.ImageIndex:
		if d, err = v.Digest(); err != nil {
			return "", err
		}
		if err = checkDigestRef(r, d); err == nil {
			written = true
			err = remote.WriteIndex(r, v, ro...)
		}
	default:
		return "", fmt.Errorf("push %s: %T is neither an image nor an index", ref, x)
	}
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	return d.String(), nil
}

func checkDigestRef(r name.Reference, d v1.Hash) error {
	if dr, ok := r.(name.Digest); ok && dr.DigestStr() != d.String() {
		return fmt.Errorf("reference pins %s but the content is %s", dr.DigestStr(), d)
	}
	return nil
}
