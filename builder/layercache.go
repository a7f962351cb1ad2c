package builder

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// layerCacheVersion changes when the layout of a package layer changes in a way the
// binary hash below would not show (it is there for clarity; the hash covers code).
const layerCacheVersion = 1

// layerCache keeps built package layers (compressed bytes + digests) keyed by everything
// that shapes them, so a rebuild with an unchanged lock fetches, links and compresses
// nothing. Entries are written atomically and verified by sha256 when read back, so a
// torn or tampered entry is rebuilt, never used.
type layerCache struct{ dir string }

type layerMeta struct {
	Digest    string          `json:"digest"`
	DiffID    string          `json:"diff_id"`
	Size      int64           `json:"size"`
	MediaType types.MediaType `json:"media_type"`
}

var (
	selfHashOnce sync.Once
	selfHash     string
)

// binaryHash identifies the running reprobuild binary, so a cache filled by another
// build of the code (with other linking rules) is never reused.
func binaryHash() string {
	selfHashOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			return
		}
		f, err := os.Open(exe)
		if err != nil {
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err == nil {
			selfHash = hex.EncodeToString(h.Sum(nil))
		}
	})
	return selfHash
}

type layerKeyInput struct {
	Version  int      `json:"v"`
	Binary   string   `json:"binary"`
	Prefix   string   `json:"prefix"`
	Python   string   `json:"python"`
	Epoch    int64    `json:"epoch"`
	Packages []string `json:"packages"`
}

// key returns the cache key of a group's layer, or "" when the cache cannot be used
// (the running binary is unknown).
func (c layerCache) key(recs []conda.PackageRecord, prefix, python string, epoch int64) string {
	if c.dir == "" || binaryHash() == "" {
		return ""
	}
	in := layerKeyInput{Version: layerCacheVersion, Binary: binaryHash(), Prefix: prefix, Python: python, Epoch: epoch}
	for _, r := range recs {
		in.Packages = append(in.Packages, r.Subdir+"/"+r.Fn+"@"+r.SHA256)
	}
	b, _ := json.Marshal(in)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (c layerCache) paths(key string) (blob, meta string) {
	base := filepath.Join(c.dir, key[:2], key)
	return base + ".blob", base + ".json"
}

// get returns the cached layer for key, verified, or false.
func (c layerCache) get(key string) (v1.Layer, bool) {
	if key == "" {
		return nil, false
	}
	blobPath, metaPath := c.paths(key)
	mb, err := os.ReadFile(metaPath)
	if err != nil {
		return nil, false
	}
	var m layerMeta
	if json.Unmarshal(mb, &m) != nil {
		return nil, false
	}
	f, err := os.Open(blobPath)
	if err != nil {
		return nil, false
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	f.Close()
	if err != nil || n != m.Size || "sha256:"+hex.EncodeToString(h.Sum(nil)) != m.Digest {
		return nil, false
	}
	l, err := partial.CompressedToLayer(&cachedLayer{path: blobPath, meta: m})
	if err != nil {
		return nil, false
	}
	return l, true
}

// put stores a built layer; failures only cost a rebuild next time.
func (c layerCache) put(key string, l v1.Layer) {
	if key == "" {
		return
	}
	d, err1 := l.Digest()
	diff, err2 := l.DiffID()
	size, err3 := l.Size()
	mt, err4 := l.MediaType()
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return
	}
	blobPath, metaPath := c.paths(key)
	if err := os.MkdirAll(filepath.Dir(blobPath), 0o755); err != nil {
		return
	}
	rc, err := l.Compressed()
	if err != nil {
		return
	}
	defer rc.Close()
	if writeAtomic(blobPath, rc) != nil {
		return
	}
	mb, _ := json.Marshal(layerMeta{Digest: d.String(), DiffID: diff.String(), Size: size, MediaType: mt})
	_ = writeAtomic(metaPath, bytes.NewReader(mb))
}

func writeAtomic(path string, r io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

type cachedLayer struct {
	path string
	meta layerMeta
}

func (l *cachedLayer) Digest() (v1.Hash, error) { return v1.NewHash(l.meta.Digest) }
func (l *cachedLayer) DiffID() (v1.Hash, error) { return v1.NewHash(l.meta.DiffID) }
func (l *cachedLayer) Size() (int64, error)     { return l.meta.Size, nil }
func (l *cachedLayer) MediaType() (types.MediaType, error) {
	return l.meta.MediaType, nil
}
func (l *cachedLayer) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return f, nil
}
