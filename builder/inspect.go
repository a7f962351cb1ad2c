package builder

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/record"
)

// maxRecordSize bounds how much of a record file inspect reads: a record is a few hundred
// kilobytes even for thousands of packages, so anything larger is not ours.
const maxRecordSize = 64 << 20

// InspectOptions configure Inspect.
type InspectOptions struct {
	// Platform selects one image of a multi-platform index: an OCI platform
	// ("linux/amd64", "linux/arm/v7") or a conda subdir ("linux-64").
	Platform string
	// TempDir is where an oci-archive is unpacked to be read (default: the system's).
	TempDir string
	// Remote are the options for registry access (auth keychain, transport), chosen by the
	// caller; Inspect adds the context.
	Remote []remote.Option
}

// Inspection is what Inspect found.
type Inspection struct {
	Ref    string
	Digest string // manifest digest of the image read
	// ID is the config digest (what `docker images` shows as the image ID): the one
	// digest a docker archive, which keeps no manifest, shares with the image built.
	ID     string
	Record *record.RuntimeRecord
	// Source is "file" when the record came from /opt/reprobuild/runtime.json, "labels"
	// when it was rebuilt from the image labels (and so holds only the summary).
	Source string
	// RecordPath says where the record was read when not from /opt/reprobuild/runtime.json
	// in the image: on a VM disk, its EFI partition and file.
	RecordPath string
}

// Inspection sources.
const (
	SourceFile   = "file"
	SourceLabels = "labels"
)

// NoRecordError says an image carries no runtime record at all.
type NoRecordError struct{ Ref string }

func (e *NoRecordError) Error() string {
	return fmt.Sprintf("inspect %s: no runtime record (no /%s and no io.reprobuild.* labels): was it built by reprobuild?", e.Ref, record.Path)
}

// PlatformChoiceError says a multi-platform image needs --platform, or has no image for
// the one asked.
type PlatformChoiceError struct {
	Ref       string
	Platform  string
	Available []string
}

func (e *PlatformChoiceError) Error() string {
	if e.Platform == "" {
		return fmt.Sprintf("inspect %s: the image has %d platforms (%s): choose one with --platform", e.Ref, len(e.Available), strings.Join(e.Available, ", "))
	}
	return fmt.Sprintf("inspect %s: no image for platform %s (it has %s)", e.Ref, e.Platform, strings.Join(e.Available, ", "))
}

// Inspect reads the runtime record of an image: "oci:DIR" (an OCI image layout; add
// ":REF" to pick an entry by name or "@sha256:..." by digest), "oci-archive:FILE",
// "docker:FILE" or "docker-archive:FILE" (a `docker save` archive), or a registry
// reference. An index's only image is chosen by itself; with several, Platform chooses.
// The record file is read from the layers, the last layer that writes it winning; an
// image without the file falls back to its labels.
func Inspect(ctx context.Context, ref string, o InspectOptions) (*Inspection, error) {
	if p, ok := strings.CutPrefix(ref, "vm:"); ok {
		return inspectVM(ref, p)
	}
	var tmp string
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	mk := func() (string, error) {
		var err error
		tmp, err = os.MkdirTemp(o.TempDir, "reprobuild-inspect-")
		return tmp, err
	}
	img, err := openImage(ctx, ref, o, mk)
	if err != nil {
		return nil, err
	}
	dg, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	out := &Inspection{Ref: ref, Digest: dg.String(), ID: id.String()}
	data, err := readRecordFile(img)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	if data != nil {
		rr, err := record.ParseRuntime(data)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: /%s: %w", ref, record.Path, err)
		}
		out.Record, out.Source = rr, SourceFile
		return out, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("inspect %s: reading the image config: %w", ref, err)
	}
	if rr, ok := record.FromLabels(cf.Config.Labels); ok {
		out.Record, out.Source = rr, SourceLabels
		return out, nil
	}
	return nil, &NoRecordError{Ref: ref}
}

func openImage(ctx context.Context, ref string, o InspectOptions, tmp func() (string, error)) (v1.Image, error) {
	src, err := openSource(ctx, ref, o.Remote, tmp)
	if err != nil {
		return nil, fmt.Errorf("inspect %w", err)
	}
	if src.idx != nil {
		return pickFromIndex(ref, src.idx, o.Platform, src.pick)
	}
	img := src.img
	if o.Platform != "" {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", ref, err)
		}
		p := platformOf(cf)
		if !platformMatches(p, o.Platform) {
			return nil, &PlatformChoiceError{Ref: ref, Platform: o.Platform, Available: []string{p}}
		}
	}
	return img, nil
}

type candidate struct {
	img      v1.Image
	platform string
}

// pickFromIndex finds the one image of an index (nested indexes included) that matches
// the platform or digest asked for.
func pickFromIndex(ref string, idx v1.ImageIndex, platform string, digest *v1.Hash) (v1.Image, error) {
	var all []candidate
	if err := collect(idx, &all, digest); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	var avail []string
	var match []candidate
	for _, c := range all {
		avail = append(avail, c.platform)
		if platform == "" || platformMatches(c.platform, platform) {
			match = append(match, c)
		}
	}
	switch {
	case len(all) == 0 && digest != nil:
		return nil, fmt.Errorf("inspect %s: no image with digest %s in the layout", ref, digest)
	case len(all) == 0:
		return nil, fmt.Errorf("inspect %s: the index holds no image", ref)
	case len(match) == 1:
		return match[0].img, nil
	case len(match) == 0:
		return nil, &PlatformChoiceError{Ref: ref, Platform: platform, Available: avail}
	}
	return nil, &PlatformChoiceError{Ref: ref, Available: avail}
}

func collect(idx v1.ImageIndex, out *[]candidate, digest *v1.Hash) error {
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range m.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return err
			}
			sub := digest
			if digest != nil && d.Digest == *digest {
				sub = nil // the index asked for: every image in it is a candidate
			}
			if err := collect(child, out, sub); err != nil {
				return err
			}
		case d.MediaType.IsImage():
			if image.IsArtifact(d) {
				// SBOMs, signatures and attestations are not images to pick from.
				continue
			}
			if digest != nil && d.Digest != *digest {
				continue
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				return err
			}
			p := ""
			if d.Platform != nil {
				p = d.Platform.String()
			} else if cf, err := img.ConfigFile(); err == nil {
				p = platformOf(cf)
			}
			*out = append(*out, candidate{img: img, platform: p})
		}
	}
	return nil
}

func platformOf(cf *v1.ConfigFile) string {
	p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	return p.String()
}

// platformMatches compares an image's OCI platform with what the user asked for, which
// may be an OCI platform or a conda subdir.
func platformMatches(have, want string) bool {
	if os, arch, variant, ok := record.OCIPlatform(want); ok && os != "" {
		want = v1.Platform{OS: os, Architecture: arch, Variant: variant}.String()
	}
	return have == want
}

// readRecordFile returns the record file from the top-most layer that has it, or nil when
// no layer has it or a later layer deleted it (an OCI whiteout).
func readRecordFile(img v1.Image) ([]byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for i := len(layers) - 1; i >= 0; i-- {
		data, deleted, err := scanLayer(layers[i])
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if data != nil {
			return data, nil
		}
		if deleted {
			return nil, nil
		}
	}
	return nil, nil
}

// scanLayer looks for the record file, or a whiteout hiding it, in one layer. Within a
// layer the last entry for a path wins, as when it is extracted.
func scanLayer(l v1.Layer) (data []byte, deleted bool, err error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return data, deleted && data == nil, nil
		}
		if err != nil {
			return nil, false, err
		}
		p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		switch {
		//lint:ignore SA1019 old tar writers still mark regular files with TypeRegA
		case p == record.Path && (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA):
			if h.Size > maxRecordSize {
				return nil, false, fmt.Errorf("/%s is %d bytes, more than a runtime record can be", record.Path, h.Size)
			}
			b, err := io.ReadAll(io.LimitReader(tr, maxRecordSize))
			if err != nil {
				return nil, false, err
			}
			data, deleted = b, false
		case hides(p):
			data, deleted = nil, true
		}
	}
}

// hides reports whether a layer entry at p deletes the record file from lower layers: a
// whiteout of the file or of a parent directory, or an opaque-directory marker in one.
func hides(p string) bool {
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if base == ".wh..wh..opq" {
		return dir == "" || strings.HasPrefix(record.Path, dir+"/")
	}
	if name, ok := strings.CutPrefix(base, ".wh."); ok {
		target := path.Join(dir, name)
		return target == record.Path || strings.HasPrefix(record.Path, target+"/")
	}
	return false
}
