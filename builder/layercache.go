package builder

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/fsutil"
	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/install"
)

// layerCacheVersion changes when the layout of a package layer changes in a way the
// binary hash below would not show (it is there for clarity; the hash covers code).
const layerCacheVersion = 1

// layerCache keeps built package layers (compressed bytes + digests) keyed by everything
// that shapes them, so a rebuild with an unchanged lock fetches, links and compresses
// nothing. Entries are written atomically and verified by sha256 when read back, so a
// torn or tampered entry is rebuilt, never used.
type layerCache struct {
	dir string
	// maxPackage is the per-package unpacked size cap linking applies to missed groups
	// (install.Options.MaxUnpackedSize); it travels with the cache to every group.
	maxPackage int64
	// phase observes build phases (ImageOptions.Phase).
	phase func(string)
}

func (c layerCache) enter(name string) {
	if c.phase != nil {
		c.phase(name)
	}
}

type layerMeta struct {
	Digest    string          `json:"digest"`
	DiffID    string          `json:"diff_id"`
	Size      int64           `json:"size"`
	MediaType types.MediaType `json:"media_type"`
	// Binary is the hash of the reprobuild that wrote the entry, so `cache prune` can drop
	// the entries no other binary will ever read (the key hashes it in too).
	Binary string `json:"binary,omitempty"`
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

// cleanStale removes the temporary files of runs killed while writing a layer
// (layers/*/.tmp-*); a live writer's are kept.
func (c layerCache) cleanStale() {
	if c.dir == "" {
		return
	}
	shards, _ := os.ReadDir(c.dir)
	for _, s := range shards {
		if s.IsDir() {
			_, _ = fsutil.CleanStale(filepath.Join(c.dir, s.Name()), ".tmp-*")
		}
	}
}

func (c layerCache) paths(key string) (blob, meta string) {
	base := filepath.Join(c.dir, key[:2], key)
	return base + ".blob", base + ".json"
}

// get returns the cached layer for key, verified, and the file holding its compressed
// bytes, or false.
func (c layerCache) get(key string) (v1.Layer, string, bool) {
	if key == "" {
		return nil, "", false
	}
	blobPath, metaPath := c.paths(key)
	mb, err := os.ReadFile(metaPath)
	if err != nil {
		return nil, "", false
	}
	var m layerMeta
	if json.Unmarshal(mb, &m) != nil {
		return nil, "", false
	}
	f, err := os.Open(blobPath)
	if err != nil {
		return nil, "", false
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	f.Close()
	if err != nil || n != m.Size || "sha256:"+hex.EncodeToString(h.Sum(nil)) != m.Digest {
		return nil, "", false
	}
	l, err := partial.CompressedToLayer(&cachedLayer{path: blobPath, meta: m})
	if err != nil {
		return nil, "", false
	}
	return l, blobPath, true
}

// build builds the layer of entries and stores it under key. The compressed bytes are
// streamed straight into the cache file (hashed on the way, so they are verified by
// construction) and the returned layer reads them from there; its path is returned too,
// so an OCI layout can link the blob instead of copying it. Without a usable cache the
// layer is built in memory and the path is "".
func (c layerCache) build(key string, entries []install.Entry, o image.LayerOptions) (v1.Layer, string, error) {
	if key != "" {
		if l, p, err := c.buildFile(key, entries, o); err == nil {
			return l, p, nil
		} else if !isCacheIOError(err) {
			return nil, "", err
		}
	}
	l, err := image.LayerFromEntries(entries, o)
	return l, "", err
}

// cacheIOError marks a failure of the cache's own storage, which only costs building the
// layer in memory instead.
type cacheIOError struct{ err error }

func (e *cacheIOError) Error() string { return "layer cache: " + e.err.Error() }
func (e *cacheIOError) Unwrap() error { return e.err }

func isCacheIOError(err error) bool {
	var ce *cacheIOError
	return errors.As(err, &ce)
}

func (c layerCache) buildFile(key string, entries []install.Entry, o image.LayerOptions) (v1.Layer, string, error) {
	blobPath, metaPath := c.paths(key)
	if err := os.MkdirAll(filepath.Dir(blobPath), 0o755); err != nil {
		return nil, "", &cacheIOError{err}
	}
	t, err := fsutil.CreateTemp(filepath.Dir(blobPath), ".tmp-*")
	if err != nil {
		return nil, "", &cacheIOError{err}
	}
	defer t.Release()
	tmp := t.File
	defer os.Remove(tmp.Name())
	fw := &ioErrWriter{w: tmp}
	bw := bufio.NewWriterSize(fw, 256<<10)
	info, err := image.WriteLayer(bw, entries, o)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		tmp.Close()
		if fw.err != nil {
			return nil, "", &cacheIOError{fw.err}
		}
		return nil, "", err
	}
	c.enter("layer-write")
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return nil, "", &cacheIOError{err}
	}
	if err := tmp.Close(); err != nil {
		return nil, "", &cacheIOError{err}
	}
	if err := os.Rename(tmp.Name(), blobPath); err != nil {
		return nil, "", &cacheIOError{err}
	}
	m := layerMeta{Digest: info.Digest.String(), DiffID: info.DiffID.String(), Size: info.Size, MediaType: info.MediaType, Binary: binaryHash()}
	mb, _ := json.Marshal(m)
	_ = writeAtomic(metaPath, bytes.NewReader(mb)) // without it the entry is just not found
	l, err := partial.CompressedToLayer(&cachedLayer{path: blobPath, meta: m})
	if err != nil {
		return nil, "", err
	}
	return l, blobPath, nil
}

// ioErrWriter remembers a write error of the cache file, so it is told apart from an
// error in the entries.
type ioErrWriter struct {
	w   io.Writer
	err error
}

func (w *ioErrWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

func writeAtomic(path string, r io.Reader) error {
	t, err := fsutil.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer t.Release()
	tmp := t.File
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
