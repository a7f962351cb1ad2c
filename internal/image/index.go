package image

import (
	"encoding/json"
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Index returns an OCI image index of imgs, one entry per platform, each descriptor
// carrying the platform from the image config. Entries are sorted by platform, so the
// index digest does not depend on the order of imgs. Two images for one platform are an
// error.
func Index(imgs []v1.Image) (v1.ImageIndex, error) {
	type entry struct {
		img  v1.Image
		desc v1.Descriptor
		key  string
	}
	entries := make([]entry, 0, len(imgs))
	seen := make(map[string]bool, len(imgs))
	for i, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading config of image %d: %w", i, err)
		}
		p := cf.Platform()
		if p == nil || p.OS == "" || p.Architecture == "" {
			return nil, &ConfigError{Field: "platform", Reason: fmt.Sprintf("image %d has no OS/architecture in its config; an index needs one per entry", i)}
		}
		key := p.String()
		if seen[key] {
			return nil, &ConfigError{Field: "platform", Reason: fmt.Sprintf("two images for %s; an index holds one per platform", key)}
		}
		seen[key] = true
		d, err := partial.Descriptor(img)
		if err != nil {
			return nil, fmt.Errorf("describing image %d: %w", i, err)
		}
		d.Platform = p
		entries = append(entries, entry{img: img, desc: *d, key: key})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	adds := make([]mutate.IndexAddendum, 0, len(entries))
	for _, e := range entries {
		adds = append(adds, mutate.IndexAddendum{Add: e.img, Descriptor: e.desc})
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	return mutate.AppendManifests(idx, adds...), nil
}

// ReferrersIndex describes artifacts as a registry's referrers API answers (distribution
// spec): an OCI image index whose descriptors carry each manifest's artifactType (the
// config media type when it has none) and annotations. It lets a layout's artifacts,
// which index.json does not list, be found again by digest.
func ReferrersIndex(arts []v1.Image) (*v1.IndexManifest, error) {
	refs := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	for i, a := range arts {
		d, err := partial.Descriptor(a)
		if err != nil {
			return nil, fmt.Errorf("describing artifact %d: %w", i, err)
		}
		raw, err := a.RawManifest()
		if err != nil {
			return nil, fmt.Errorf("artifact %d: %w", i, err)
		}
		var m struct {
			ArtifactType string            `json:"artifactType"`
			Config       v1.Descriptor     `json:"config"`
			Annotations  map[string]string `json:"annotations"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("artifact %d: %w", i, err)
		}
		at := m.ArtifactType
		if at == "" {
			at = string(m.Config.MediaType)
		}
		refs.Manifests = append(refs.Manifests, v1.Descriptor{
			MediaType: d.MediaType, Size: d.Size, Digest: d.Digest, ArtifactType: at, Annotations: m.Annotations,
		})
	}
	return refs, nil
}

// IsArtifact reports whether a manifest descriptor (in an index or index.json) is an
// artifact rather than a runnable image: it has an artifactType, or an unknown platform
// as BuildKit marks attestations.
func IsArtifact(d v1.Descriptor) bool {
	if d.ArtifactType != "" && d.ArtifactType != string(types.OCIConfigJSON) && d.ArtifactType != string(types.DockerConfigJSON) {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}
