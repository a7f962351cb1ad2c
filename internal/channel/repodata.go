package channel

import (
	"bufio"
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
	"github.com/reprobuild/reprobuild/internal/fsutil"
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
	return writeAtomicFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomicFunc is writeAtomic with the content written by write.
func writeAtomicFunc(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
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

	// A document whose hash is not known yet (a local file that changed) has sha ""
	// and open, to stream it; hashed records the hash once it is computed.
	open   func() (io.ReadCloser, error)
	hashed func(sha string)
	size   int64

	// path is a file holding the document as it is (not compressed), readable at any
	// offset: records indexed by name are read back from it. "" when there is none.
	path string
}

func (r *rawDoc) bytes() ([]byte, error) {
	if r.data == nil {
		d, err := r.load()
		if err != nil {
			return nil, err
		}
		r.data = d
	}
	if r.sha == "" {
		r.sha = hashHex(r.data)
		if r.hashed != nil {
			r.hashed(r.sha)
		}
	}
	return r.data, nil
}

// RepodataRaw returns the raw repodata.json bytes of one subdir of a channel (decoded
// from repodata.json.zst when the server has it), using the cache as Repodata does.
func (c *Client) RepodataRaw(ctx context.Context, ch Channel, subdir string) ([]byte, error) {
	doc, err := c.rawRepodata(ctx, ch, subdir, nil)
	if err != nil {
		return nil, err
	}
	return doc.bytes()
}

// Repodata returns the parsed repodata of one subdir of a channel. Records carry the
// canonical ch.URL, never Location or a mirror. The parsed form is cached keyed by the
// raw bytes' sha256, so unchanged repodata is not parsed twice.
func (c *Client) Repodata(ctx context.Context, ch Channel, subdir string) (*conda.Repodata, error) {
	doc, err := c.rawRepodata(ctx, ch, subdir, nil)
	if err != nil {
		return nil, err
	}
	return c.decodeRepodata(ch, subdir, doc)
}

// decodeRepodata decodes a located document, from the compact cache when it has it.
func (c *Client) decodeRepodata(ch Channel, subdir string, doc *rawDoc) (*conda.Repodata, error) {
	if doc.sha == "" && doc.open != nil {
		return c.streamRepodata(ch, subdir, doc)
	}
	cp := c.compactPath(ch, doc.sha)
	if rd, err := c.readCompact(cp); err == nil {
		return rd, nil
	}
	var rd *conda.Repodata
	if doc.data == nil && doc.open != nil {
		// Streamed from the cached file: the document is never all in memory.
		f, err := doc.open()
		if err != nil {
			return nil, fmt.Errorf("reading cached repodata for %s/%s: %w", Redact(ch.URL), subdir, err)
		}
		rd, err = conda.ReadRepodata(bufio.NewReaderSize(f, 1<<20), ch.URL, conda.WithSource(doc.src), conda.WithSubdir(subdir), conda.WithSizeHint(doc.size))
		f.Close()
		if err != nil {
			return nil, err
		}
	} else {
		raw, err := doc.bytes()
		if err != nil {
			return nil, fmt.Errorf("reading cached repodata for %s/%s: %w", Redact(ch.URL), subdir, err)
		}
		if rd, err = conda.ParseRepodata(raw, ch.URL, conda.WithSource(doc.src), conda.WithSubdir(subdir)); err != nil {
			return nil, err
		}
	}
	c.cacheCompact(cp, rd)
	return rd, nil
}

// streamRepodata parses a document whose hash is not known yet as it reads it, hashing
// it on another goroutine: the raw bytes are never all in memory, and the hash costs
// no time on the parser's core. Same records as ParseRepodata on the whole document.
func (c *Client) streamRepodata(ch Channel, subdir string, doc *rawDoc) (*conda.Repodata, error) {
	f, err := doc.open()
	if err != nil {
		return nil, fmt.Errorf("repodata %s: %w", doc.src, err)
	}
	defer f.Close()
	pipe := newHashPipe(c.limitRepodata(f, doc.src))
	defer pipe.close()
	rd, err := conda.ReadRepodata(pipe, ch.URL, conda.WithSource(doc.src), conda.WithSubdir(subdir), conda.WithSizeHint(doc.size))
	var le *limitError
	if errors.As(err, &le) {
		return nil, le.err
	}
	if err != nil {
		if se := c.sizeErr(err, doc.src); se != err {
			return nil, se
		}
	}
	if err != nil {
		return nil, err
	}
	sha, err := pipe.finish()
	if errors.As(err, &le) {
		return nil, le.err
	}
	if err != nil {
		return nil, fmt.Errorf("reading repodata %s: %w", doc.src, err)
	}
	doc.sha = sha
	if doc.hashed != nil {
		doc.hashed(sha)
	}
	c.cacheCompact(c.compactPath(ch, sha), rd)
	return rd, nil
}

// cacheCompact writes rd's compact form to path (through a temporary file and a
// rename); a failure only costs a parse next time.
func (c *Client) cacheCompact(path string, rd *conda.Repodata) {
	_ = writeAtomicFunc(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		ok, err := writeCompact(bw, rd)
		if err == nil && !ok {
			err = errCompact
		}
		if err != nil {
			return err
		}
		return bw.Flush()
	})
}

func validSubdir(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`)
}

// rawRepodata locates a subdir's document, downloading it when needed. With ix, a
// download is also indexed by name as it is stored (see spoolIndex).
func (c *Client) rawRepodata(ctx context.Context, ch Channel, subdir string, ix *spoolIndex) (*rawDoc, error) {
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
		return casDoc(meta.SHA256, p, meta.URL)
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
	ctx = withDownloadProgress(ctx) // a repodata download is a long phase of a lock
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
			var sha, tmp string
			_, hdr, err := c.openCond(ctx, u, cond, func(r io.Reader) (string, error) {
				var err error
				sha, tmp, err = c.spoolRepodata(r, v == ".zst", Redact(u), ix)
				return "", err
			})
			if tmp != "" {
				defer os.Remove(tmp)
			}
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
			p, err := c.store.PutFile(ctx, sha, tmp)
			if err != nil {
				return fmt.Errorf("caching %s: %w", Redact(u), err)
			}
			meta = repodataMeta{SHA256: sha, URL: Redact(u), ETag: hdr.Get("ETag"), LastModified: hdr.Get("Last-Modified"),
				NoZstBase: meta.NoZstBase, FetchedAt: c.stamp()}
			_ = writeMetaFile(metaPath, meta)
			doc = casDoc(sha, p, Redact(u))
			if ix != nil && ix.src != nil {
				ix.src.path, ix.sha = p, sha
			}
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

// casDoc is a cached document, read from its file in the store.
func casDoc(sha, path, src string) *rawDoc {
	d := &rawDoc{sha: sha, src: src, path: path,
		load: func() ([]byte, error) { return os.ReadFile(path) },
		open: func() (io.ReadCloser, error) { return os.Open(path) }}
	if fi, err := os.Stat(path); err == nil {
		d.size = fi.Size()
	}
	return d
}

// spoolRepodata writes a downloaded document (decompressed if zst) to a temporary file
// in the store's tmp directory, hashing it on the way, so that it is never all in
// memory. The caller removes the file.
func (c *Client) spoolRepodata(r io.Reader, zst bool, src string, ix *spoolIndex) (sha, path string, err error) {
	if zst {
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(c.repodataLimit())))
		if err != nil {
			return "", "", err
		}
		defer zr.Close()
		r = zr
	}
	// Locked while written, so the next process's cas.Open removes it only if this one
	// was killed.
	t, err := fsutil.CreateTemp(filepath.Join(c.store.Dir(), "tmp"), "repodata-*")
	if err != nil {
		return "", "", err
	}
	defer t.Release()
	f := t.File
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if ix != nil {
		err = ix.spool(bw, c.limitRepodata(r, src), src)
	} else {
		_, err = io.Copy(bw, c.limitRepodata(r, src))
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		var le *limitError
		if errors.As(err, &le) {
			return "", "", le.err
		}
		// A frame whose window exceeds the limit would decode to more than the limit.
		if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return "", "", c.repodataTooLarge(src)
		}
		if zst {
			if se := c.sizeErr(err, src); se != err {
				return "", "", se
			}
			err = fmt.Errorf("decompressing repodata.json.zst: %w", err)
		}
		return "", "", err
	}
	return hex.EncodeToString(h.Sum(nil)), f.Name(), nil
}

// repodataLimit is the most bytes a repodata document may decompress to
// (WithMaxRepodataSize, --max-repodata-size).
func (c *Client) repodataLimit() int64 {
	if c.o.maxRepodata > 0 {
		return c.o.maxRepodata
	}
	return maxRepodata
}

// repodataTooLarge is the error for a document over repodataLimit.
func (c *Client) repodataTooLarge(src string) error {
	return &RepodataSizeError{URL: src, Limit: c.repodataLimit()}
}

// sizeErr maps a zstd frame whose window exceeds the limit (it would decode to more
// than the limit) to repodataTooLarge; other errors are returned as they are.
func (c *Client) sizeErr(err error, src string) error {
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return c.repodataTooLarge(src)
	}
	return err
}

// limitRepodata reads r, failing with repodataTooLarge past repodataLimit: streamed
// documents are bounded like those read whole.
func (c *Client) limitRepodata(r io.Reader, src string) io.Reader {
	return &limitReader{r: r, left: c.repodataLimit(), err: c.repodataTooLarge(src)}
}

type limitError struct{ err error }

func (e *limitError) Error() string { return e.err.Error() }
func (e *limitError) Unwrap() error { return e.err }

type limitReader struct {
	r    io.Reader
	left int64
	err  error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, &limitError{l.err}
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, &limitError{l.err}
	}
	return n, err
}

// maxRepodata bounds a decompressed repodata document when no limit is set, so a
// hostile .zst cannot exhaust memory (conda-forge's largest subdir is a few hundred MB).
const maxRepodata = 4 << 30

// readZstd decompresses a whole repodata.json.zst within the repodata limit (the
// decoder's window limit bounds its memory, not the document's size).
func (c *Client) readZstd(r io.Reader, src string) ([]byte, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(c.repodataLimit())))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	data, err := readLimited(zr, c.repodataLimit(), src)
	if err != nil {
		var re *RepodataSizeError
		if errors.As(err, &re) {
			return nil, err
		}
		if se := c.sizeErr(err, src); se != err {
			return nil, se
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
	if !zst && fi.Size() > c.repodataLimit() {
		return nil, c.repodataTooLarge(Redact(src))
	}
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	open := func() (io.ReadCloser, error) {
		f, err := os.Open(p)
		if err != nil || !zst {
			return f, err
		}
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(c.repodataLimit())))
		if err != nil {
			f.Close()
			return nil, err
		}
		return zstdFile{c.limitRepodata(zr, Redact(src)), zr, f}, nil
	}
	load := func() ([]byte, error) {
		if !zst {
			return os.ReadFile(p) // sized from the file: no regrowing
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return c.readZstd(f, Redact(src))
	}
	path := p
	if zst {
		path = ""
	}
	if meta.SHA256 != "" && meta.Path == p && meta.Size == fi.Size() && meta.MtimeNs == fi.ModTime().UnixNano() && meta.Ino == ino {
		return &rawDoc{sha: meta.SHA256, load: load, src: Redact(src), path: path}, nil
	}
	// Not hashed yet: Repodata streams it (parse and hash at once), RepodataRaw reads it.
	size := fi.Size()
	if zst {
		size = 0
	}
	return &rawDoc{load: load, open: open, size: size, src: Redact(src), path: path, hashed: func(sha string) {
		_ = writeMetaFile(metaPath, repodataMeta{SHA256: sha, Path: p, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano(), Ino: ino})
	}}, nil
}

// zstdFile reads a .zst file decompressed (within the repodata limit) and closes both.
type zstdFile struct {
	io.Reader
	zr *zstd.Decoder
	f  *os.File
}

func (z zstdFile) Close() error {
	z.zr.Close()
	return z.f.Close()
}
