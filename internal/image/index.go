package image

import (
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
