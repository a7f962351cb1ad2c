package image

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// HistoryCreatedBy marks the history entries of layers reprobuild adds.
const HistoryCreatedBy = "reprobuild"

// Assemble returns an image made of base's layers (none if base is nil) followed by
// layers, with the config from ConfigFile and c.Annotations on the manifest. The manifest
// and config use OCI media types; base layers in Docker media types are relabelled with
// their OCI equivalents (the bytes are the same formats).
func Assemble(base v1.Image, layers []v1.Layer, c Config) (v1.Image, error) {
	var (
		baseCfg    *v1.ConfigFile
		baseDescs  []v1.Descriptor
		baseLayers []v1.Layer
	)
	if base != nil {
		var err error
		if baseCfg, err = base.ConfigFile(); err != nil {
			return nil, fmt.Errorf("reading base image config: %w", err)
		}
		m, err := base.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading base image manifest: %w", err)
		}
		if baseLayers, err = base.Layers(); err != nil {
			return nil, fmt.Errorf("reading base image layers: %w", err)
		}
		if len(baseLayers) != len(m.Layers) {
			return nil, fmt.Errorf("base image manifest lists %d layers but the image has %d", len(m.Layers), len(baseLayers))
		}
		for _, d := range m.Layers {
			d.MediaType = ociLayerType(d.MediaType)
			baseDescs = append(baseDescs, d)
		}
	}
	cf, err := ConfigFile(baseCfg, c)
	if err != nil {
		return nil, err
	}
	if len(cf.RootFS.DiffIDs) != len(baseLayers) {
		return nil, fmt.Errorf("base image config lists %d diff IDs for %d layers", len(cf.RootFS.DiffIDs), len(baseLayers))
	}

	im := &assembled{byDigest: make(map[v1.Hash]v1.Layer, len(baseLayers)+len(layers))}
	for i, l := range baseLayers {
		im.byDigest[baseDescs[i].Digest] = l
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Layers:        baseDescs,
	}
	for i, l := range layers {
		d, err := partial.Descriptor(l)
		if err != nil {
			return nil, fmt.Errorf("describing layer %d: %w", i, err)
		}
		d.MediaType = ociLayerType(d.MediaType)
		diffID, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("reading diff ID of layer %d: %w", i, err)
		}
		m.Layers = append(m.Layers, *d)
		im.byDigest[d.Digest] = l
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, diffID)
		cf.History = append(cf.History, v1.History{
			Created:   cf.Created,
			CreatedBy: HistoryCreatedBy,
			Comment:   fmt.Sprintf("layer %d of %d", i+1, len(layers)),
		})
	}
	if len(c.Annotations) > 0 {
		m.Annotations = make(map[string]string, len(c.Annotations))
		for k, v := range c.Annotations {
			m.Annotations[k] = v
		}
	}
	// encoding/json writes map keys sorted, so these bytes are stable.
	if im.rawConfig, err = json.Marshal(cf); err != nil {
		return nil, fmt.Errorf("encoding image config: %w", err)
	}
	cd, cs, err := v1.SHA256(bytes.NewReader(im.rawConfig))
	if err != nil {
		return nil, err
	}
	m.Config = v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cd, Size: cs}
	if im.rawManifest, err = json.Marshal(m); err != nil {
		return nil, fmt.Errorf("encoding image manifest: %w", err)
	}
	return partial.CompressedToImage(im)
}

// ociLayerType maps Docker layer media types to the OCI type of the same format.
func ociLayerType(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return mt
}

// assembled is a finished image: manifest and config bytes fixed at construction.
type assembled struct {
	rawManifest, rawConfig []byte
	byDigest               map[v1.Hash]v1.Layer
}

func (a *assembled) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *assembled) RawManifest() ([]byte, error)        { return a.rawManifest, nil }
func (a *assembled) RawConfigFile() ([]byte, error)      { return a.rawConfig, nil }

func (a *assembled) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	l, ok := a.byDigest[h]
	if !ok {
		return nil, fmt.Errorf("image has no layer %s", h)
	}
	return relabelled{l}, nil
}

// relabelled reports the OCI media type of a base layer that came in Docker form.
type relabelled struct{ v1.Layer }

func (r relabelled) MediaType() (types.MediaType, error) {
	mt, err := r.Layer.MediaType()
	return ociLayerType(mt), err
}
