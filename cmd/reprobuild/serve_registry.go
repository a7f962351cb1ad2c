package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/catalog"
	"github.com/reprobuild/reprobuild/internal/image"
)

// A catalogue build with --registry pushes, beside its image, its recipe and lock as
// one OCI 1.1 artifact: artifactType lockArtifactType, the empty config, the recipe and
// the lock as its two layers (titled reprobuild.hcl and reprobuild.lock) and the image
// as its subject, so the registry lists it among the image's referrers. Its bytes
// depend only on the recipe, the lock and the image. `pull` reads it back by digest.
const (
	lockArtifactType = "application/vnd.reprobuild.lock.v1"
	recipeLayerType  = "application/vnd.reprobuild.recipe.v1+hcl"
	lockLayerType    = "application/vnd.reprobuild.lock.v1+text"
	emptyConfigType  = "application/vnd.oci.empty.v1+json"
	titleAnnotation  = "org.opencontainers.image.title"
	lockArtifactName = "reprobuild.lock"
)

var emptyConfigJSON = []byte("{}")

func sha256Hash(b []byte) v1.Hash {
	h := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h[:])}
}

// docArtifact is an artifact manifest whose blobs are held in memory.
type docArtifact struct {
	manifest []byte
	blobs    map[v1.Hash]memBlob
}

type memBlob struct {
	data []byte
	mt   types.MediaType
}

func (a *docArtifact) RawConfigFile() ([]byte, error)      { return emptyConfigJSON, nil }
func (a *docArtifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *docArtifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *docArtifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.blobs[h]; ok {
		return static.NewLayer(l.data, l.mt), nil
	}
	return nil, fmt.Errorf("the lock artifact has no blob %s", h)
}

// lockArtifact makes the recipe-and-lock artifact referring to subject.
func lockArtifact(recipe, lock []byte, subject v1.Descriptor) (v1.Image, error) {
	a := &docArtifact{blobs: map[v1.Hash]memBlob{}}
	add := func(data []byte, mt types.MediaType) v1.Descriptor {
		h := sha256Hash(data)
		a.blobs[h] = memBlob{data: bytes.Clone(data), mt: mt}
		return v1.Descriptor{MediaType: mt, Size: int64(len(data)), Digest: h}
	}
	cfg := add(emptyConfigJSON, emptyConfigType)
	cfg.Data = emptyConfigJSON
	rd := add(recipe, recipeLayerType)
	rd.Annotations = map[string]string{titleAnnotation: "reprobuild.hcl"}
	ld := add(lock, lockLayerType)
	ld.Annotations = map[string]string{titleAnnotation: "reprobuild.lock"}
	subj := v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest}
	raw, err := json.Marshal(struct {
		v1.Manifest
		ArtifactType string `json:"artifactType"`
	}{v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{rd, ld}, Subject: &subj}, lockArtifactType})
	if err != nil {
		return nil, err
	}
	a.manifest = raw
	return partial.CompressedToImage(a)
}

// pushDocuments pushes the recipe-and-lock artifact of a build whose image was pushed
// to tag (at digest), and lists what the registry holds for it: that artifact and the
// SBOM referrers of each platform image (which the image push attached).
func pushDocuments(ctx context.Context, tag, digest string, platforms []builder.PlatformImage, recipe, lock []byte, kc authn.Keychain) ([]catalog.RegistryArtifact, error) {
	ref, err := name.ParseReference(tag)
	if err != nil {
		return nil, fmt.Errorf("tag %q: %w", tag, err)
	}
	repo := ref.Context()
	ro := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	subject, err := remote.Head(repo.Digest(digest), ro...)
	if err != nil {
		return nil, fmt.Errorf("reading back the pushed image %s@%s: %w", repo, digest, err)
	}
	art, err := lockArtifact(recipe, lock, *subject)
	if err != nil {
		return nil, err
	}
	ad, err := art.Digest()
	if err != nil {
		return nil, err
	}
	dst := repo.Digest(ad.String()).String()
	if _, err := image.Push(ctx, dst, art, kc); err != nil {
		return nil, fmt.Errorf("pushing the lock artifact to %s: %w", dst, err)
	}
	out := []catalog.RegistryArtifact{{Name: lockArtifactName, ArtifactType: lockArtifactType, Ref: dst, Subject: digest}}
	for _, p := range platforms {
		idx, err := remote.Referrers(repo.Digest(p.Digest), ro...)
		if err != nil {
			return nil, fmt.Errorf("listing the referrers of %s@%s: %w", repo, p.Digest, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, d := range im.Manifests {
			if d.ArtifactType == lockArtifactType {
				continue
			}
			title := d.Annotations[titleAnnotation]
			if title == "" {
				// The descriptor may not carry the manifest's annotations: read them.
				m, err := remote.Get(repo.Digest(d.Digest.String()), ro...)
				if err != nil {
					return nil, err
				}
				var mf v1.Manifest
				if err := json.Unmarshal(m.Manifest, &mf); err == nil && len(mf.Layers) > 0 {
					title = mf.Layers[0].Annotations[titleAnnotation]
				}
			}
			if title == "" {
				title = d.Digest.Hex[:12]
			}
			out = append(out, catalog.RegistryArtifact{Name: p.Platform + "-" + title, ArtifactType: d.ArtifactType, Ref: repo.Digest(d.Digest.String()).String(), Subject: p.Digest})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// registryDocument is one layer of an artifact read back from the registry.
type registryDocument struct {
	Title     string
	MediaType string
	Data      []byte
}

// readArtifact reads every layer of the artifact at ref (REPO@sha256:...), checking
// that the manifest is the one the digest names, that it has wantType (when not ""),
// and each layer's sha256.
func readArtifact(ctx context.Context, ref, wantType string, kc authn.Keychain) ([]registryDocument, error) {
	r, err := name.NewDigest(ref)
	if err != nil {
		return nil, fmt.Errorf("%q is not pinned by digest: %w", ref, err)
	}
	ro := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	d, err := remote.Get(r, ro...)
	if err != nil {
		return nil, err
	}
	if got := sha256Hash(d.Manifest).String(); got != r.DigestStr() {
		return nil, fmt.Errorf("%s: the registry answered a manifest with digest %s", ref, got)
	}
	var m struct {
		v1.Manifest
		ArtifactType string `json:"artifactType"`
	}
	if err := json.Unmarshal(d.Manifest, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if wantType != "" && m.ArtifactType != wantType {
		return nil, fmt.Errorf("%s is a %q artifact, want %s", ref, m.ArtifactType, wantType)
	}
	var out []registryDocument
	for _, l := range m.Layers {
		layer, err := remote.Layer(r.Context().Digest(l.Digest.String()), ro...)
		if err != nil {
			return nil, err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(rc, 256<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", ref, l.Digest, err)
		}
		if sha256Hash(data) != l.Digest {
			return nil, fmt.Errorf("%s: blob %s does not match its digest", ref, l.Digest)
		}
		out = append(out, registryDocument{Title: l.Annotations[titleAnnotation], MediaType: string(l.MediaType), Data: data})
	}
	return out, nil
}
