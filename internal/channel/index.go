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

	"github.com/reprobuild/reprobuild/internal/conda"
)

// RepodataIndex returns one subdir of a channel indexed by package name
// (conda.RepodataIndex): a solve decodes only the records of the names it reaches,
// read back from the raw document in the cache (or the file of a file:// channel).
// The index is cached beside the compact form, keyed by the document's sha256, so a
// warm run reads a few megabytes and decodes no record it does not need. A document
// that cannot be read back at an offset (a file:// channel's repodata.json.zst) or
// that names a file twice is decoded whole, as Repodata does, and indexed in memory.
// Records are the ones Repodata gives.
func (c *Client) RepodataIndex(ctx context.Context, ch Channel, subdir string) (*conda.RepodataIndex, error) {
	ix := &spoolIndex{ch: ch, subdir: subdir}
	doc, err := c.rawRepodata(ctx, ch, subdir, ix)
	if err != nil {
		return nil, err
	}
	if ix.sha != "" && ix.sha == doc.sha {
		// Downloaded now, and indexed as it was stored.
		if ix.x != nil {
			c.cacheIndex(ch, subdir, doc.sha, ix.x)
			return ix.x, nil
		}
		if !errors.Is(ix.err, conda.ErrDuplicateRecords) {
			return nil, ix.err
		}
	} else if doc.path != "" {
		x, err := c.indexDoc(ch, subdir, doc)
		if !errors.Is(err, conda.ErrDuplicateRecords) {
			return x, err
		}
	}
	rd, err := c.decodeRepodata(ch, subdir, doc)
	if err != nil {
		return nil, err
	}
	return conda.IndexRepodata(rd), nil
}

func (c *Client) indexPath(ch Channel, subdir, rawSHA string) string {
	return filepath.Join(c.dir, "repodata", "index", rawSHA+"-"+hashHex([]byte(ch.URL + "\x00" + subdir))[:16]+".idx")
}

// indexDoc loads the cached index of doc, or builds it in one pass over the document
// (hashing it on another core when its hash is not known yet) and caches it.
func (c *Client) indexDoc(ch Channel, subdir string, doc *rawDoc) (*conda.RepodataIndex, error) {
	src := fileAt(doc.path)
	opts := []conda.RepodataOption{conda.WithSource(doc.src), conda.WithSubdir(subdir)}
	if doc.sha != "" {
		if data, err := os.ReadFile(c.indexPath(ch, subdir, doc.sha)); err == nil {
			if x, err := conda.UnmarshalRepodataIndex(data, src, ch.URL, opts...); err == nil {
				return x, nil
			}
			// A damaged index is rebuilt.
		}
	}
	f, err := os.Open(doc.path)
	if err != nil {
		return nil, fmt.Errorf("repodata %s: %w", doc.src, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		opts = append(opts, conda.WithSizeHint(fi.Size()))
	}
	var x *conda.RepodataIndex
	if doc.sha != "" {
		x, err = conda.BuildRepodataIndex(bufio.NewReaderSize(c.limitRepodata(f, doc.src), 1<<20), src, ch.URL, opts...)
		if err != nil {
			return nil, c.streamErr(err)
		}
	} else {
		// Hashed as it is read (on another core), so the document is read once.
		h := sha256.New()
		x, err = conda.BuildRepodataIndex(c.limitRepodata(f, doc.src), src, ch.URL, append(opts, conda.WithDigest(h))...)
		if err != nil {
			return nil, c.streamErr(err)
		}
		sha := hex.EncodeToString(h.Sum(nil))
		doc.sha = sha
		if doc.hashed != nil {
			doc.hashed(sha)
		}
	}
	c.cacheIndex(ch, subdir, doc.sha, x)
	return x, nil
}

// cacheIndex writes x to the cache; a failure only costs indexing again next time.
func (c *Client) cacheIndex(ch Channel, subdir, sha string, x *conda.RepodataIndex) {
	if data, err := x.MarshalBinary(); err == nil {
		_ = writeAtomic(c.indexPath(ch, subdir, sha), data)
	}
}

// spoolIndex asks rawRepodata to index a document it downloads while it stores it, so
// that the document is read once: the index (x) or the document's own error (err,
// a *conda.RepodataError or conda.ErrDuplicateRecords) are for the stored document of
// hash sha.
type spoolIndex struct {
	ch     Channel
	subdir string

	x   *conda.RepodataIndex
	err error
	src *lateFile
	sha string
}

// spool copies r to w, indexing what passes. A document that does not decode is
// stored all the same (its error is kept in ix.err); a failure to read r or write w is
// returned as io.Copy would return it.
func (ix *spoolIndex) spool(w io.Writer, r io.Reader, src string) error {
	ix.x, ix.err, ix.src, ix.sha = nil, nil, &lateFile{}, ""
	er := &errReader{r: r}
	x, err := conda.BuildRepodataIndex(io.TeeReader(er, w), ix.src, ix.ch.URL, conda.WithSource(src), conda.WithSubdir(ix.subdir))
	var re *conda.RepodataError
	switch {
	case er.err != nil:
		return er.err
	case err == nil:
		ix.x = x
	case errors.As(err, &re) || errors.Is(err, conda.ErrDuplicateRecords):
		ix.err = err
	default:
		return err // writing w failed
	}
	// The rest of a document that did not decode.
	_, err = io.Copy(w, er)
	return err
}

// errReader remembers the first error of r other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// lateFile is a fileAt whose path is known once the document is stored.
type lateFile struct{ path string }

func (l *lateFile) ReadAt(b []byte, off int64) (int, error) {
	if l.path == "" {
		return 0, errors.New("repodata not stored yet")
	}
	return fileAt(l.path).ReadAt(b, off)
}

// streamErr maps a failure while streaming a document as Repodata does: the size
// limit's own error, or the error as it is.
func (c *Client) streamErr(err error) error {
	var le *limitError
	if errors.As(err, &le) {
		return le.err
	}
	return err
}

// fileAt reads a file at offsets, opening it for each read: an index keeps no file
// open between the names a solve reaches.
type fileAt string

func (p fileAt) ReadAt(b []byte, off int64) (int, error) {
	f, err := os.Open(string(p))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.ReadAt(b, off)
}

var _ io.ReaderAt = fileAt("")
