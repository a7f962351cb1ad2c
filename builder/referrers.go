package builder

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/reprobuild/reprobuild/internal/fsutil"
	"github.com/reprobuild/reprobuild/internal/image"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprobuild/reprobuild/internal/record"
)

// emptyConfig is the OCI 1.1 empty descriptor content ("{}") artifacts use as config.
var emptyConfig = []byte("{}")

const emptyConfigMediaType types.MediaType = "application/vnd.oci.empty.v1+json"

// artifact is an OCI 1.1 artifact manifest: one document as its only layer, an empty
// config, and a subject, so registries and layouts list it as a referrer of the image.
type artifact struct {
	manifest []byte
	doc      []byte
	docType  types.MediaType
}

func (a *artifact) RawConfigFile() ([]byte, error)      { return emptyConfig, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h.Hex == hexSHA256(a.doc) {
		return static.NewLayer(a.doc, a.docType), nil
	}
	if h.Hex == hexSHA256(emptyConfig) {
		return static.NewLayer(emptyConfig, emptyConfigMediaType), nil
	}
	return nil, fmt.Errorf("artifact has no blob %s", h)
}

// sbomReferrers returns one artifact per SBOM document, each naming subject. Their bytes
// depend only on the documents, the subject and the epoch.
func sbomReferrers(arts []record.Artifact, subject v1.Image, created time.Time) ([]v1.Image, error) {
	d, err := partial.Descriptor(subject)
	if err != nil {
		return nil, err
	}
	subj := v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
	var out []v1.Image
	for _, a := range arts {
		m := v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			Config: v1.Descriptor{
				MediaType: emptyConfigMediaType, Size: int64(len(emptyConfig)),
				Digest: v1.Hash{Algorithm: "sha256", Hex: hexSHA256(emptyConfig)}, Data: emptyConfig,
			},
			Layers: []v1.Descriptor{{
				MediaType: types.MediaType(a.MediaType), Size: int64(len(a.Data)),
				Digest:      v1.Hash{Algorithm: "sha256", Hex: hexSHA256(a.Data)},
				Annotations: map[string]string{"org.opencontainers.image.title": a.Filename},
			}},
			Subject: &subj,
			Annotations: map[string]string{
				"org.opencontainers.image.created": created.UTC().Format(time.RFC3339),
			},
		}
		raw, err := json.Marshal(struct {
			v1.Manifest
			ArtifactType string `json:"artifactType"`
		}{m, a.MediaType})
		if err != nil {
			return nil, err
		}
		img, err := partial.CompressedToImage(&artifact{manifest: raw, doc: bytes.Clone(a.Data), docType: types.MediaType(a.MediaType)})
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// pushReferrers pushes the SBOM artifacts into the repository of tag, by digest; the
// registry (or the referrers tag fallback) lists them as referrers of their subjects.
func pushReferrers(ctx context.Context, tag string, arts []v1.Image, kc authn.Keychain) error {
	ref, err := name.ParseReference(tag)
	if err != nil {
		return fmt.Errorf("tag %q: %w", tag, err)
	}
	for _, a := range arts {
		d, err := a.Digest()
		if err != nil {
			return err
		}
		dst := ref.Context().Digest(d.String()).String()
		if _, err := image.Push(ctx, dst, a, kc); err != nil {
			return fmt.Errorf("attaching SBOM to %s: %w", tag, err)
		}
	}
	return nil
}

// ReferrersFile is the file in DEST.reprobuild/ that lists the SBOM referrers stored in
// an OCI layout output: an OCI image index, as a registry's referrers API answers.
const ReferrersFile = "referrers.json"

// writeDocs writes what a person needs beside an output: REPRODUCE.md, the runtime
// record and the SBOMs of each platform, into DEST.reprobuild/. The directory is written
// whole or not at all.
func writeDocs(dest string, res *ImageResult, o ImageOptions, tag string) (string, error) {
	dir := filepath.Clean(dest) + ".reprobuild"
	_, _ = fsutil.CleanStale(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*") // left by killed runs
	t, err := fsutil.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return "", err
	}
	defer t.Release()
	tmp := t.Path
	defer os.RemoveAll(tmp)
	ro := record.ReproduceOptions{ImageRef: tag}
	if tag != "" {
		ro.ImageRef = tag + "@" + res.Digest
	}
	if o.Epoch != nil {
		ro.SourceDateEpoch = fmt.Sprint(o.Epoch.Unix())
	}
	files := map[string][]byte{"REPRODUCE.md": record.Reproduce(res.Records, ro)}
	if len(res.Referrers) > 0 && strings.HasPrefix(o.Output, "oci:") {
		// The layout stores the SBOM referrers as blobs without listing them in index.json
		// (single-image tools need one entry there); this index finds them again.
		refs, err := image.ReferrersIndex(res.Referrers)
		if err != nil {
			return "", err
		}
		b, err := json.MarshalIndent(refs, "", "  ")
		if err != nil {
			return "", err
		}
		files[ReferrersFile] = append(b, '\n')
	}
	for i, rr := range res.Records {
		js, err := rr.JSON()
		if err != nil {
			return "", err
		}
		platform := res.Platforms[i].Platform
		files["runtime-"+platform+".json"] = js
		for _, d := range res.Documents[i].Documents {
			files[platform+"-"+d.Filename] = d.Data
		}
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, n), b, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := fsutil.ReplaceDir(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}
