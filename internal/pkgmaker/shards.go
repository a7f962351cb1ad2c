package pkgmaker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/klauspost/compress/zstd"
	"github.com/vmihailenco/msgpack/v5"
)

// WriteShards writes a repodata.json document as CEP 16 sharded repodata under
// subdirDir: repodata_shards.msgpack.zst and shards/<sha256>.msgpack.zst, one shard per
// package name, hashes as bytes. It returns the number of shards.
func WriteShards(subdirDir string, repodata []byte) (int, error) {
	var doc struct {
		Info          map[string]any            `json:"info"`
		Packages      map[string]map[string]any `json:"packages"`
		PackagesConda map[string]map[string]any `json:"packages.conda"`
		Removed       []string                  `json:"removed"`
	}
	dec := json.NewDecoder(bytes.NewReader(repodata))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return 0, fmt.Errorf("decoding repodata: %w", err)
	}
	type shard struct {
		Packages      map[string]map[string]any `msgpack:"packages"`
		PackagesConda map[string]map[string]any `msgpack:"packages.conda"`
		Removed       []string                  `msgpack:"removed"`
	}
	byName := map[string]*shard{}
	for si, sec := range []map[string]map[string]any{doc.Packages, doc.PackagesConda} {
		for fn, rec := range sec {
			name, _ := rec["name"].(string)
			s := byName[name]
			if s == nil {
				s = &shard{Packages: map[string]map[string]any{}, PackagesConda: map[string]map[string]any{}, Removed: []string{}}
				byName[name] = s
			}
			out := map[string]any{}
			for k, v := range rec {
				if n, ok := v.(json.Number); ok {
					if i, err := n.Int64(); err == nil {
						v = i
					} else if f, err := n.Float64(); err == nil {
						v = f
					}
				}
				if (k == "sha256" || k == "md5") && v != nil {
					if b, err := hex.DecodeString(v.(string)); err == nil {
						v = b
					}
				}
				out[k] = v
			}
			if si == 0 {
				s.Packages[fn] = out
			} else {
				s.PackagesConda[fn] = out
			}
		}
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return 0, err
	}
	defer enc.Close()
	if err := os.MkdirAll(filepath.Join(subdirDir, "shards"), 0o755); err != nil {
		return 0, err
	}
	hashes := map[string][]byte{}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		b, err := marshalSorted(byName[n])
		if err != nil {
			return 0, err
		}
		z := enc.EncodeAll(b, nil)
		sum := sha256.Sum256(z)
		hashes[n] = sum[:]
		if err := os.WriteFile(filepath.Join(subdirDir, "shards", hex.EncodeToString(sum[:])+".msgpack.zst"), z, 0o644); err != nil {
			return 0, err
		}
	}
	subdir, _ := doc.Info["subdir"].(string)
	index := map[string]any{"version": 1, "info": map[string]any{"base_url": "./", "shards_base_url": "./shards/", "subdir": subdir}, "shards": hashes}
	b, err := marshalSorted(index)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(subdirDir, "repodata_shards.msgpack.zst"), enc.EncodeAll(b, nil), 0o644); err != nil {
		return 0, err
	}
	return len(names), nil
}

// marshalSorted encodes v with map keys sorted, so shards and their hashes are
// reproducible.
func marshalSorted(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	e.SetSortMapKeys(true)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
