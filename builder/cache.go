package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// CacheKind sums one part of the cache directory.
type CacheKind struct {
	Name  string `json:"name"` // the subdirectory: layers, cas, ...
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	// Stale counts layer entries written by another reprobuild binary: their keys hash
	// that binary in, so this one never reads them again.
	Stale      int   `json:"stale,omitempty"`
	StaleBytes int64 `json:"stale_bytes,omitempty"`
}

// CacheInfo describes a cache directory.
type CacheInfo struct {
	Dir   string      `json:"dir"`
	Kinds []CacheKind `json:"kinds"`
	Bytes int64       `json:"bytes"`
}

// CacheStat sums the cache directory by kind (its top-level subdirectories).
func CacheStat(dir string) (*CacheInfo, error) {
	info := &CacheInfo{Dir: dir, Kinds: []CacheKind{}}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return info, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		k := CacheKind{Name: e.Name()}
		err := walkFiles(filepath.Join(dir, e.Name()), func(p string, fi fs.FileInfo) error {
			k.Files++
			k.Bytes += fi.Size()
			if e.Name() == "layers" && !currentLayerEntry(p) {
				k.Stale++
				k.StaleBytes += fi.Size()
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cache %s: %w", dir, err)
		}
		info.Kinds = append(info.Kinds, k)
		info.Bytes += k.Bytes
	}
	sort.Slice(info.Kinds, func(i, j int) bool { return info.Kinds[i].Name < info.Kinds[j].Name })
	return info, nil
}

// PruneOptions choose what PruneCache removes.
type PruneOptions struct {
	Dir string
	// Before, when set, also removes every cached file (packages, repodata, layers)
	// last written before it. The CLI computes it from --older-than and the clock.
	Before time.Time
}

// PruneResult is what PruneCache removed.
type PruneResult struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// PruneCache removes the layer entries other reprobuild binaries wrote (always) and,
// with Before, every file older than it. Lock files and files being written (tmp) are
// left alone unless old; a removed package or layer is simply fetched or built again.
func PruneCache(o PruneOptions) (*PruneResult, error) {
	res := &PruneResult{}
	if o.Dir == "" {
		return nil, fmt.Errorf("cache prune: no cache directory")
	}
	err := walkFiles(o.Dir, func(p string, fi fs.FileInfo) error {
		rel, _ := filepath.Rel(o.Dir, p)
		kind, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		old := !o.Before.IsZero() && fi.ModTime().Before(o.Before)
		stale := kind == "layers" && !currentLayerEntry(p)
		if !old && !stale {
			return nil
		}
		if kind == "cas" && strings.Contains(filepath.ToSlash(rel), "/locks/") {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		res.Files++
		res.Bytes += fi.Size()
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("cache prune %s: %w", o.Dir, err)
	}
	return res, nil
}

// currentLayerEntry reports whether a file of the layer cache (KEY.blob or KEY.json)
// belongs to an entry this binary wrote and so can read.
func currentLayerEntry(p string) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(p, ".blob"), ".json")
	mb, err := os.ReadFile(base + ".json")
	if err != nil {
		return false
	}
	var m layerMeta
	if json.Unmarshal(mb, &m) != nil {
		return false
	}
	return m.Binary != "" && m.Binary == binaryHash()
}

func walkFiles(dir string, f func(string, fs.FileInfo) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		return f(p, fi)
	})
}
