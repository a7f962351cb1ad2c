package channel

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sync/errgroup"

	"github.com/reprobuild/reprobuild/internal/conda"
	rbprogress "github.com/reprobuild/reprobuild/internal/progress"
)

// Sharded repodata (CEP 16): <subdir>/repodata_shards.msgpack.zst maps each package
// name to the sha256 of its shard, a zstd-compressed msgpack document with that name's
// "packages", "packages.conda" and "removed" (sha256 and md5 as bytes), stored at
// <shards_base_url><hex sha256>.msgpack.zst. The index is fetched on every online
// run (it is small and changes often) and kept for offline runs; shards are
// content-addressed, so a cached shard is never fetched again.

// ErrNoShards says a channel serves no shard index for a subdir: use Repodata.
var ErrNoShards = errors.New("no sharded repodata")

// maxShard bounds one decompressed shard or index.
const maxShard = 1 << 30

type shardIndex struct {
	subdir     string
	shardsBase string // relative or absolute, as the index says ("" means "./shards/")
	baseURL    string
	shards     map[string][]byte
}

// ShardedRepodata returns, per subdir, the records of the root names and of every
// name their dependencies reach, read from the channel's sharded repodata: only the
// shards of those names are fetched, in parallel, each verified against and cached by
// its hash. Records are what Repodata would give for the same names. It returns
// ErrNoShards when a subdir has no shard index (the caller reads full repodata).
func (c *Client) ShardedRepodata(ctx context.Context, ch Channel, subdirs []string, roots []string) (map[string]*conda.Repodata, error) {
	idx := make([]*shardIndex, len(subdirs))
	for i, sd := range subdirs {
		if !validSubdir(sd) {
			return nil, fmt.Errorf("repodata for %s: invalid subdir %q", Redact(ch.URL), sd)
		}
		x, err := c.shardIndex(ctx, ch, sd)
		if err != nil {
			return nil, err
		}
		idx[i] = x
	}
	got := make([]map[string]*shardDoc, len(subdirs))
	for i := range got {
		got[i] = map[string]*shardDoc{}
	}
	seen := map[string]bool{}
	var next []string
	add := func(n string) {
		if n != "" && !strings.HasPrefix(n, "__") && !seen[n] {
			seen[n] = true
			next = append(next, n)
		}
	}
	for _, r := range roots {
		add(r)
	}
	// The shards a lock reads are many small documents: one task counts them.
	task := rbprogress.FromContext(ctx).Start("shards " + Redact(ch.URL))
	task.Total(0, "shards")
	var mu sync.Mutex
	for len(next) > 0 {
		wave := next
		next = nil
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(max(c.o.parallelism, 1))
		for i, x := range idx {
			for _, name := range wave {
				sum, ok := x.shards[name]
				if !ok {
					continue
				}
				g.Go(func() error {
					data, err := c.shardBytes(gctx, ch, x, name, sum)
					if err != nil {
						return err
					}
					var s shardDoc
					if err := msgpack.Unmarshal(data, &s); err != nil {
						return fmt.Errorf("shard %s of %s/%s: %w", name, Redact(ch.URL), x.subdir, err)
					}
					mu.Lock()
					got[i][name] = &s
					mu.Unlock()
					task.Add(1, x.subdir+"/"+name)
					return nil
				})
			}
		}
		if err := g.Wait(); err != nil {
			task.Done(err)
			return nil, err
		}
		// The dependencies of this wave's records name the next wave, in a fixed order.
		for i := range idx {
			for _, name := range wave {
				s := got[i][name]
				if s == nil {
					continue
				}
				for _, sec := range []map[string]map[string]any{s.Packages, s.PackagesConda} {
					for _, fn := range slices.Sorted(mapKeys(sec)) {
						deps, _ := sec[fn]["depends"].([]any)
						for _, d := range deps {
							if ds, ok := d.(string); ok {
								add(depName(ds))
							}
						}
					}
				}
			}
		}
	}
	task.Done(nil)
	out := map[string]*conda.Repodata{}
	for i, x := range idx {
		doc, err := shardsJSON(x, got[i])
		if err != nil {
			return nil, fmt.Errorf("shards of %s/%s: %w", Redact(ch.URL), x.subdir, err)
		}
		rd, err := conda.ParseRepodata(doc, ch.URL, conda.WithSubdir(x.subdir), conda.WithSource(Redact(ch.URL)+"/"+x.subdir+"/repodata_shards.msgpack.zst"))
		if err != nil {
			return nil, err
		}
		out[x.subdir] = rd
	}
	return out, nil
}

// shardDoc is one shard: a name's records by file name, as in repodata.json.
type shardDoc struct {
	Packages      map[string]map[string]any `msgpack:"packages"`
	PackagesConda map[string]map[string]any `msgpack:"packages.conda"`
	Removed       []string                  `msgpack:"removed"`
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// depName is the package name a dependency string starts with.
func depName(dep string) string {
	dep = strings.TrimSpace(dep)
	if i := strings.IndexAny(dep, " =<>!~[;"); i >= 0 {
		dep = dep[:i]
	}
	if i := strings.LastIndex(dep, "::"); i >= 0 {
		dep = dep[i+2:]
	}
	return dep
}

// shardsJSON turns the fetched shards into a repodata.json document (hashes as hex), so
// that conda.ParseRepodata gives exactly the records full repodata would.
func shardsJSON(x *shardIndex, shards map[string]*shardDoc) ([]byte, error) {
	doc := map[string]any{"info": map[string]any{"subdir": x.subdir}}
	if x.baseURL != "" {
		doc["info"].(map[string]any)["base_url"] = x.baseURL
	}
	pk, pc := map[string]any{}, map[string]any{}
	var removed []string
	for _, sh := range shards {
		for dst, src := range map[*map[string]any]map[string]map[string]any{&pk: sh.Packages, &pc: sh.PackagesConda} {
			for fn, rec := range src {
				for _, k := range []string{"sha256", "md5"} {
					if b, ok := rec[k].([]byte); ok {
						rec[k] = hex.EncodeToString(b)
					}
				}
				(*dst)[fn] = rec
			}
		}
		removed = append(removed, sh.Removed...)
	}
	doc["packages"], doc["packages.conda"] = pk, pc
	if len(removed) > 0 {
		slices.Sort(removed)
		doc["removed"] = removed
	}
	return json.Marshal(doc)
}

// shardIndex fetches and decodes a subdir's shard index (from the cache when offline).
func (c *Client) shardIndex(ctx context.Context, ch Channel, subdir string) (*shardIndex, error) {
	what := "shard index " + Redact(ch.URL) + "/" + subdir
	metaPath := c.metaPath(ch, subdir+"#shards")
	meta := readMeta(metaPath)
	var raw []byte
	cachedRaw := func() []byte {
		if meta.SHA256 == "" {
			return nil
		}
		p, ok := c.store.Path(meta.SHA256)
		if !ok {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		return data
	}
	fresh := c.o.maxAge > 0 && c.o.now != nil && meta.FetchedAt > 0 &&
		c.o.now().Unix()-meta.FetchedAt >= 0 && c.o.now().Unix()-meta.FetchedAt < int64(c.o.maxAge.Seconds())
	switch {
	case c.o.offline && !isFileURL(ch.location()):
		if raw = cachedRaw(); raw == nil {
			// Never read online: full repodata may be cached instead.
			return nil, fmt.Errorf("%s: not cached for offline use: %w", what, ErrNoShards)
		}
	case fresh && !isFileURL(ch.location()):
		raw = cachedRaw()
	}
	if raw == nil {
		var got *repodataMeta
		err := c.try(ctx, what, ch.bases(), func(ctx context.Context, base string) error {
			u := base + "/" + subdir + "/repodata_shards.msgpack.zst"
			// A cached index is revalidated (ETag / Last-Modified): a 304 reuses it.
			var cond condHeaders
			if meta.URL == Redact(u) && meta.SHA256 != "" {
				cond = condHeaders{ETag: meta.ETag, LastModified: meta.LastModified}
			}
			var b []byte
			_, hdr, err := c.openCond(ctx, u, cond, func(r io.Reader) (string, error) {
				var err error
				b, err = io.ReadAll(io.LimitReader(r, maxShard+1))
				return "", err
			})
			if errors.Is(err, errNotModified) {
				if b = cachedRaw(); b == nil {
					return fmt.Errorf("%s: 304 Not Modified but the cached index is gone", Redact(u))
				}
				m := meta
				m.FetchedAt = c.stamp()
				raw, got = b, &m
				return nil
			}
			if err != nil {
				return err
			}
			raw = b
			got = &repodataMeta{URL: Redact(u), FetchedAt: c.stamp()}
			if hdr != nil {
				got.ETag, got.LastModified = hdr.Get("ETag"), hdr.Get("Last-Modified")
			}
			return nil
		})
		if err != nil {
			var se *StatusError
			if errors.As(err, &se) && (se.Status == 404 || se.Status == 410) || errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: %w", what, ErrNoShards)
			}
			return nil, err
		}
		got.SHA256 = hashHex(raw)
		if _, err := c.store.Put(ctx, got.SHA256, bytes.NewReader(raw)); err == nil {
			_ = writeMetaFile(metaPath, *got)
		}
	}
	data, err := unzstd(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var doc struct {
		Version int `msgpack:"version"`
		Info    struct {
			BaseURL       string `msgpack:"base_url"`
			ShardsBaseURL string `msgpack:"shards_base_url"`
		} `msgpack:"info"`
		Shards map[string][]byte `msgpack:"shards"`
	}
	if err := msgpack.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for n, h := range doc.Shards {
		if len(h) != 32 {
			return nil, fmt.Errorf("%s: shard hash of %q is %d bytes, want 32", what, n, len(h))
		}
	}
	x := &shardIndex{subdir: subdir, shards: doc.Shards, shardsBase: doc.Info.ShardsBaseURL}
	if x.shardsBase == "" {
		x.shardsBase = "./shards/"
	}
	// A base_url naming the subdir itself is the default: dropping it keeps records
	// (and locks) the same as full repodata's.
	if b := strings.TrimSuffix(doc.Info.BaseURL, "/"); b != "" && b != "." && b != "./" && b != ch.URL+"/"+subdir && b != strings.TrimRight(ch.URL, "/")+"/"+subdir {
		x.baseURL = doc.Info.BaseURL
	}
	return x, nil
}

func unzstd(raw []byte) ([]byte, error) {
	zr, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxShard))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	data, err := io.ReadAll(io.LimitReader(zr, maxShard+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxShard {
		return nil, fmt.Errorf("decompressed size exceeds %d bytes", maxShard)
	}
	return data, nil
}

// shardBytes returns a shard's decompressed bytes, from the cache or fetched (verified
// against its hash before it is cached).
func (c *Client) shardBytes(ctx context.Context, ch Channel, x *shardIndex, name string, sum []byte) ([]byte, error) {
	sha := hex.EncodeToString(sum)
	if p, ok := c.store.Path(sha); ok {
		if raw, err := os.ReadFile(p); err == nil {
			return unzstd(raw)
		}
	}
	what := fmt.Sprintf("shard %s of %s/%s", name, Redact(ch.URL), x.subdir)
	var urls []string
	for _, b := range ch.bases() {
		idx, err := url.Parse(b + "/" + x.subdir + "/repodata_shards.msgpack.zst")
		if err != nil {
			return nil, err
		}
		rel, err := url.Parse(x.shardsBase)
		if err != nil {
			return nil, fmt.Errorf("%s: shards_base_url %q: %w", what, x.shardsBase, err)
		}
		base := idx.ResolveReference(rel).String()
		if !strings.HasSuffix(base, "/") {
			base += "/"
		}
		urls = append(urls, base+sha+".msgpack.zst")
	}
	var p string
	err := c.try(ctx, what, urls, func(ctx context.Context, u string) error {
		var err error
		_, err = c.open(ctx, u, func(r io.Reader) (string, error) {
			p, err = c.store.Put(ctx, sha, io.LimitReader(r, maxShard))
			return p, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return unzstd(raw)
}
