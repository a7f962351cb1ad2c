package builder

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/install"
)

// checkPackageLayers runs the whole-environment check (install.CheckEnvironment, the
// function the BuildKit link step calls too) over the package layers of one image:
// shapes[i] is the shape of a group linked in this run, nil for a group reused from the
// layer cache, whose shape is read back from its layer. A verdict already reached for the
// same set of cached groups is remembered in the cache, so an unchanged rebuild does not
// decompress every layer again.
func checkPackageLayers(cache layerCache, keys []string, prefix string, layers []v1.Layer, shapes [][]install.Entry) error {
	marker := envCheckMarker(cache, keys, prefix)
	if marker != "" {
		if _, err := os.Stat(marker); err == nil {
			return nil
		}
	}
	all := make([][]install.Entry, len(layers))
	for i, l := range layers {
		if i < len(shapes) && shapes[i] != nil {
			all[i] = shapes[i]
			continue
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return fmt.Errorf("checking the environment: reading package layer %d: %w", i+1, err)
		}
		all[i], err = install.ShapeOfTar(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("checking the environment: package layer %d: %w", i+1, err)
		}
	}
	if err := install.CheckEnvironment(prefix, all...); err != nil {
		return err
	}
	if marker != "" && os.MkdirAll(filepath.Dir(marker), 0o755) == nil {
		// Written like a layer entry's meta (with this binary's hash), so the cache
		// commands count and prune it as they do layers. Without it the check runs again.
		mb, _ := json.Marshal(layerMeta{Binary: binaryHash()})
		_ = writeAtomic(marker, bytes.NewReader(mb))
	}
	return nil
}

// envCheckMarker is the file recording that the groups keyed by keys passed the check,
// or "" when a group has no cache key.
func envCheckMarker(cache layerCache, keys []string, prefix string) string {
	if cache.dir == "" {
		return ""
	}
	for _, k := range keys {
		if k == "" {
			return ""
		}
	}
	s := sha256.Sum256([]byte(prefix + "\n" + strings.Join(keys, "\n")))
	return filepath.Join(cache.dir, "envcheck", hex.EncodeToString(s[:])+".json")
}
