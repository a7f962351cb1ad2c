package builder

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/reprobuild/reprobuild/internal/image"
)

// ImageSourceKinds are the prefixes an image argument may carry, with skopeo's spelling
// (a bare reference, or docker://, is a registry reference).
var ImageSourceKinds = []string{"oci:", "oci-archive:", "docker:", "docker-archive:", "docker://"}

// source is what an image argument names: one image or one index, and its digest.
type source struct {
	ref    string
	digest v1.Hash
	img    v1.Image
	idx    v1.ImageIndex
	// pick is a digest inside idx asked for with @sha256:..., to be found at any depth.
	pick *v1.Hash
	// dockerArchive: read from a `docker save` archive, which keeps no manifest.
	dockerArchive bool
}

// maxArchiveEntry bounds one file extracted from an oci-archive: no blob of an image we
// read is larger, and the bound keeps a hostile archive from filling the disk.
const maxArchiveEntry = 16 << 30

// openSource reads an image argument: oci:DIR[:REF|@sha256:...] (an OCI layout),
// oci-archive:FILE[:REF] (a tar of one), docker:FILE or docker-archive:FILE (a
// `docker save` archive, as `reprobuild image --output docker:FILE` writes), or a
// registry reference (optionally docker://REF). tmp is a directory an oci-archive may be
// extracted into; the caller removes it.
func openSource(ctx context.Context, ref string, ro []remote.Option, tmp func() (string, error)) (*source, error) {
	kind, rest, _ := strings.Cut(ref, ":")
	switch kind {
	case "oci":
		return openLayout(ref, rest)
	case "oci-archive":
		file, sel := splitLayoutRef(rest)
		dir, err := tmp()
		if err != nil {
			return nil, err
		}
		if err := extractTar(file, dir); err != nil {
			return nil, fmt.Errorf("%s: reading the OCI archive %s: %w", ref, file, err)
		}
		return openLayout(ref, dir+sel)
	case "docker", "docker-archive":
		if strings.HasPrefix(rest, "//") {
			break
		}
		file, tag := rest, ""
		if kind == "docker-archive" {
			// skopeo's docker-archive:FILE[:REPO:TAG]
			if i := strings.Index(rest, ":"); i >= 0 {
				file, tag = rest[:i], rest[i+1:]
			}
		}
		var t *name.Tag
		if tag != "" {
			tt, err := name.NewTag(tag)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a REPO:TAG: %w", ref, tag, err)
			}
			t = &tt
		}
		img, err := tarball.ImageFromPath(file, t)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the docker archive %s: %w (is it a file written by `docker save` or `reprobuild image --output docker:FILE`?)", ref, file, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		return &source{ref: ref, digest: d, img: img, dockerArchive: true}, nil
	}
	reg := strings.TrimPrefix(ref, "docker://")
	r, err := name.ParseReference(reg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (give a registry reference such as registry.example/lab/img:tag, or one of %s)", ref, err, strings.Join(ImageSourceKinds[:4], "PATH, "))
	}
	desc, err := remote.Get(r, append(slices.Clone(ro), remote.WithContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	s := &source{ref: ref, digest: desc.Digest}
	if desc.MediaType.IsIndex() {
		s.idx, err = desc.ImageIndex()
	} else {
		s.img, err = desc.Image()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return s, nil
}

// splitLayoutRef splits "DIR:REF" or "DIR@sha256:..." into the directory and the
// selector (":REF", "@sha256:..." or ""). A colon followed by a slash is part of DIR.
func splitLayoutRef(s string) (dir, sel string) {
	if i := strings.LastIndex(s, "@sha256:"); i >= 0 {
		return s[:i], s[i:]
	}
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i:], "/") {
		return s[:i], s[i:]
	}
	return s, ""
}

// openLayout opens an OCI layout and picks its entry: by ref.name (DIR:REF), by digest
// at any depth (DIR@sha256:...), or the only image or index index.json lists; with
// several entries the layout itself is the index to choose from.
func openLayout(ref, spec string) (*source, error) {
	dir, sel := splitLayoutRef(spec)
	lp, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the OCI layout %s: %w (is it a directory written by `reprobuild image --output oci:DIR`?)", ref, dir, err)
	}
	if want, ok := strings.CutPrefix(sel, "@"); ok {
		h, err := v1.NewHash(want)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		return &source{ref: ref, digest: h, idx: lp, pick: &h}, nil
	}
	m, err := lp.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	var entries []v1.Descriptor
	var names []string
	for _, d := range m.Manifests {
		if image.IsArtifact(d) || !(d.MediaType.IsImage() || d.MediaType.IsIndex()) {
			continue
		}
		n := d.Annotations[image.RefNameAnnotation]
		if tag, ok := strings.CutPrefix(sel, ":"); ok && n != tag {
			if n != "" {
				names = append(names, n)
			}
			continue
		}
		entries = append(entries, d)
	}
	switch {
	case len(entries) == 0 && sel != "":
		return nil, fmt.Errorf("%s: the layout %s has no entry named %q (it has %s)", ref, dir, sel[1:], orNone(names))
	case len(entries) == 0:
		return nil, fmt.Errorf("%s: the layout %s holds no image", ref, dir)
	case len(entries) > 1:
		// Several entries (a layout written by another tool): every image under them is a
		// candidate, to be chosen by platform.
		return &source{ref: ref, idx: lp}, nil
	}
	d := entries[0]
	s := &source{ref: ref, digest: d.Digest}
	if d.MediaType.IsIndex() {
		s.idx, err = lp.ImageIndex(d.Digest)
	} else {
		s.img, err = lp.Image(d.Digest)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return s, nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "no named entries"
	}
	return strings.Join(names, ", ")
}

// extractTar unpacks a tar of an OCI layout into dir: regular files and directories
// only, every path inside dir.
func extractTar(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return eachTar(f, func(h *tar.Header, r io.Reader) (bool, error) {
		p := path.Clean("/" + h.Name)
		if p == "/" {
			return false, nil
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		switch h.Typeflag {
		case tar.TypeDir:
			return false, os.MkdirAll(dst, 0o755)
		case tar.TypeReg:
			if h.Size > maxArchiveEntry {
				return false, fmt.Errorf("%s is %d bytes, larger than any blob of an image", h.Name, h.Size)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return false, err
			}
			out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return false, err
			}
			_, err = io.Copy(out, io.LimitReader(r, h.Size))
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			return false, err
		default:
			// Links and devices have no place in a layout; skip them.
			return false, nil
		}
	})
}
