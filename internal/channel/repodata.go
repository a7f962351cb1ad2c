package channel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/klauspost/compress/zstd"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// repodataMeta is what the cache remembers about one channel subdir's repodata. It is
// stored as "key value" lines (strings quoted, numbers in decimal) between a version
// line and "end": reading it is on the path of every warm lock, and this costs a
// fraction of a first encoding/json decode in a fresh process.
type repodataMeta struct {
	// SHA256 names the raw JSON in the package store.
	SHA256 string
	// HTTP: the (redacted) document URL the validators belong to.
	URL          string
	ETag         string
	LastModified string
	// NoZstBase is a base URL known not to serve repodata.json.zst.
	NoZstBase string
	FetchedAt int64
	// file://: the file's identity when it was hashed.
	Path    string
	Size    int64
	MtimeNs int64
	Ino     uint64
}

const metaHeader = "reprobuild-repodata-meta 1\n"

func (m repodataMeta) marshal() []byte {
	b := []byte(metaHeader)
	str := func(k, v string) {
		if v != "" {
			b = append(append(append(b, k...), ' '), strconv.Quote(v)...)
			b = append(b, '\n')
		}
	}
	num := func(k string, v int64) {
		if v != 0 {
			b = strconv.AppendInt(append(append(b, k...), ' '), v, 10)
			b = append(b, '\n')
		}
	}
	str("sha256", m.SHA256)
	str("url", m.URL)
	str("etag", m.ETag)
	str("last_modified", m.LastModified)
	str("no_zst_base", m.NoZstBase)
	num("fetched_at", m.FetchedAt)
	str("path", m.Path)
	num("size", m.Size)
	num("mtime_ns", m.MtimeNs)
	if m.Ino != 0 {
		b = strconv.AppendUint(append(b, "ino "...), m.Ino, 10)
		b = append(b, '\n')
	}
	return append(b, "end\n"...)
}

// parseMeta reads marshal's output. Anything it does not understand makes the whole
// file a cache miss (the zero value), never an error.
func parseMeta(data string) repodataMeta {
	var m repodataMeta
	rest, ok := strings.CutPrefix(data, metaHeader)
	if !ok {
		return repodataMeta{}
	}
	// The last line is "end", so a file cut short is recognised.
	rest, ok = strings.CutSuffix(rest, "end\n")
	if !ok {
		return repodataMeta{}
	}
	for line := range strings.Lines(rest) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		if !ok {
			return repodataMeta{}
		}
		var err error
		var str *string
		switch k {
		case "sha256":
			str = &m.SHA256
		case "url":
			str = &m.URL
		case "etag":
			str = &m.ETag
		case "last_modified":
			str = &m.LastModified
		case "no_zst_base":
			str = &m.NoZstBase
		case "path":
			str = &m.Path
		case "fetched_at":
			m.FetchedAt, err = strconv.ParseInt(v, 10, 64)
		case "size":
			m.Size, err = strconv.ParseInt(v, 10, 64)
		case "mtime_ns":
			m.MtimeNs, err = strconv.ParseInt(v, 10, 64)
		case "ino":
			m.Ino, err = strconv.ParseUint(v, 10, 64)
		default:
			err = errors.New("unknown key")
		}
		if str != nil {
			*str, err = strconv.Unquote(v)
		}
		if err != nil {
			return repodataMeta{}
		}
	}
	return m
}

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (c *Client) metaPath(ch Channel, subdir string) string {
	return filepath.Join(c.dir, "repodata", "meta", hashHex([]byte(ch.URL + "\x00" + subdir))[:32]+".meta")
}

func (c *Client) compactPath(ch Channel, rawSHA string) string {
	return filepath.Join(c.dir, "repodata", "compact", rawSHA+"-"+hashHex([]byte(ch.URL))[:16]+".bin")
}

func readMeta(path string) repodataMeta {
	data, err := os.ReadFile(path)
	if err != nil {
		return repodataMeta{} // a missing or unreadable meta file is just a cache miss
	}
	return parseMeta(string(data))
}

// writeAtomic writes data to path through a temporary file and a rename.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// rawDoc is a located repodata document: its hash, and how to read its bytes if the
// parsed form is not cached.
type rawDoc struct {
	sha  string
	data []byte
	load func() ([]byte, error)
	src  string
}

func (r *rawDoc) bytes() ([]byte, error) {
	if r.data == nil {
		d, err := r.load()
		if err != nil {
			return nil, err
		}
		r.data = d
	}
	return r.data, nil
}

// RepodataRaw returns the raw repodata.json bytes of one subdir of a channel (decoded
// from repodata.json.zst when the server has it), using the cache as Repodata does.
func (c *Client) RepodataRaw(ctx context.Context, ch Channel, subdir string) ([]byte, error) {
	doc, err := c.rawRepodata(ctx, ch, subdir)
	if err != nil {
		return nil, err
	}
	return doc.bytes()
}

// Repodata returns the parsed repodata of one subdir of a channel. Records carry the
// canonical ch.URL, never Location or a mirror. The parsed form is cached keyed by the
// raw bytes' sha256, so unchanged repodata is not parsed twice.
func (c *Client) Repodata(ctx context.Context, ch Channel, subdir string) (*conda.Repodata, error) {
	doc, err := c.rawRepodata(ctx, ch, subdir)
	if err != nil {
		return nil, err
	}
	cp := c.compactPath(ch, doc.sha)
	if rd, err := c.readCompact(cp); err == nil {
		return rd, nil
	}
	raw, err := doc.bytes()
	if err != nil {
		return nil, fmt.Errorf("reading cached repodata for %s/%s: %w", Redact(ch.URL), subdir, err)
	}
	rd, err := conda.ParseRepodata(raw, ch.URL, conda.WithSource(doc.src), conda.WithSubdir(subdir))
	if err != nil {
		return nil, err
	}
	// A failed cache write only costs a parse next time.
	if enc := encodeCompact(rd); enc != nil {
		_ = writeAtomic(cp, enc)
	}
	return rd, nil
}

func validSubdir(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`)
}

func (c *Client) rawRepodata(ctx context.Context, ch Channel, subdir string) (*rawDoc, error) {
	if !validSubdir(subdir) {
		return nil, fmt.Errorf("repodata for %s: invalid subdir %q", Redact(ch.URL), subdir)
	}
	if ch.location() == "" {
		return nil, fmt.Errorf("channel %q has no URL", ch.Name)
	}
	metaPath := c.metaPath(ch, subdir)
	meta := readMeta(metaPath)
	what := "repodata " + Redact(ch.URL) + "/" + subdir
	cached := func() *rawDoc {
		if meta.SHA256 == "" {
			return nil
		}
		p, ok := c.store.Path(meta.SHA256)
		if !ok {
			return nil
		}
		return &rawDoc{sha: meta.SHA256, src: meta.URL, load: func() ([]byte, error) { return os.ReadFile(p) }}
	}
	if isFileURL(ch.location()) {
		// A local channel is authoritative and cheap: no mirrors, no offline concern.
		return c.fileRepodata(ch.location(), subdir, metaPath, meta)
	}
	if c.o.offline {
		if d := cached(); d != nil {
			return d, nil
		}
		return nil, &OfflineError{What: what}
	}
	if c.o.maxAge > 0 && c.o.now != nil && meta.FetchedAt > 0 {
		if age := c.o.now().Unix() - meta.FetchedAt; age >= 0 && age < int64(c.o.maxAge.Seconds()) {
			if d := cached(); d != nil {
				return d, nil
			}
		}
	}
	var doc *rawDoc
	err := c.try(ctx, what, ch.bases(), func(ctx context.Context, base string) error {
		if isFileURL(base) {
			d, err := c.fileRepodata(base, subdir, metaPath, meta)
			doc = d
			return err
		}
		variants := []string{".zst", ""}
		if meta.NoZstBase == Redact(base) {
			variants = variants[1:]
		}
		for _, v := range variants {
			u := base + "/" + subdir + "/repodata.json" + v
			var cond condHeaders
			if meta.URL == Redact(u) && cached() != nil {
				cond = condHeaders{ETag: meta.ETag, LastModified: meta.LastModified}
			}
			var raw []byte
			_, hdr, err := c.openCond(ctx, u, cond, func(r io.Reader) (string, error) {
				var err error
				if v == ".zst" {
					raw, err = readZstd(r, c.o.maxRepodata, Redact(u))
				} else {
					raw, err = readLimited(r, c.o.maxRepodata, Redact(u))
				}
				return "", err
			})
			var se *StatusError
			switch {
			case errors.Is(err, errNotModified):
				doc = cached()
				meta.FetchedAt = c.stamp()
				_ = writeMetaFile(metaPath, meta)
				return nil
			case v == ".zst" && errors.As(err, &se) && se.Status == 404:
				meta.NoZstBase = Redact(base)
				continue
			case err != nil:
				return err
			}
			sha := hashHex(raw)
			if _, err := c.store.Put(ctx, sha, bytes.NewReader(raw)); err != nil {
				return fmt.Errorf("caching %s: %w", Redact(u), err)
			}
			meta = repodataMeta{SHA256: sha, URL: Redact(u), ETag: hdr.Get("ETag"), LastModified: hdr.Get("Last-Modified"),
				NoZstBase: meta.NoZstBase, FetchedAt: c.stamp()}
			_ = writeMetaFile(metaPath, meta)
			doc = &rawDoc{sha: sha, data: raw, src: Redact(u)}
			return nil
		}
		return fmt.Errorf("no repodata.json at %s/%s", Redact(base), subdir)
	})
	if err != nil {
		return nil, err
	}
	return doc, nil
}

func (c *Client) stamp() int64 {
	if c.o.now == nil {
		return 0
	}
	return c.o.now().Unix()
}

func writeMetaFile(path string, m repodataMeta) error {
	return writeAtomic(path, m.marshal())
}

// readZstd decompresses a repodata.json.zst, refusing more than limit bytes of output
// (the decoder's window limit bounds its memory, not the document's size).
func readZstd(r io.Reader, limit int64, url string) ([]byte, error) {
	maxMem := uint64(4 << 30)
	if limit > 0 && uint64(limit) < maxMem {
		maxMem = uint64(limit)
	}
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxMem))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	data, err := readLimited(zr, limit, url)
	if err != nil {
		var re *RepodataSizeError
		if errors.As(err, &re) {
			return nil, err
		}
		// A frame whose window exceeds the limit decodes to more than the limit.
		if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, &RepodataSizeError{URL: url, Limit: limit}
		}
		return nil, fmt.Errorf("decompressing repodata.json.zst: %w", err)
	}
	return data, nil
}

// fileRepodata reads a local channel's repodata.json (or .zst). The hash of an
// unchanged file (same size, mtime and inode) is reused without reading it.
func (c *Client) fileRepodata(base, subdir, metaPath string, meta repodataMeta) (*rawDoc, error) {
	dir, err := fileURLPath(base)
	if err != nil {
		return nil, err
	}
	src := base + "/" + subdir + "/repodata.json"
	p := filepath.Join(dir, subdir, "repodata.json")
	zst := false
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		if zfi, zerr := os.Stat(p + ".zst"); zerr == nil {
			p, fi, err, zst = p+".zst", zfi, nil, true
		}
	}
	if err != nil {
		return nil, fmt.Errorf("repodata %s: %w", Redact(src), err)
	}
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	load := func() ([]byte, error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if zst {
			return readZstd(f, c.o.maxRepodata, Redact(src))
		}
		return readLimited(f, c.o.maxRepodata, Redact(src))
	}
	if meta.SHA256 != "" && meta.Path == p && meta.Size == fi.Size() && meta.MtimeNs == fi.ModTime().UnixNano() && meta.Ino == ino {
		return &rawDoc{sha: meta.SHA256, load: load, src: Redact(src)}, nil
	}
	data, err := load()
	if err != nil {
		return nil, fmt.Errorf("repodata %s: %w", Redact(src), err)
	}
	sha := hashHex(data)
	_ = writeMetaFile(metaPath, repodataMeta{SHA256: sha, Path: p, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano(), Ino: ino})
	return &rawDoc{sha: sha, data: data, src: Redact(src)}, nil
}
