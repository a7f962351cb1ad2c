package install

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// member is one archive member after its name has been checked.
type member struct {
	name     string // clean, relative, without "./"
	raw      string // name as stored, for messages
	typ      byte   // tar.TypeReg, TypeDir, TypeSymlink or TypeLink
	exec     bool
	data     []byte
	spool    *Spooled // content on disk instead of data (see SpoolThreshold)
	linkname string
}

// SpoolThreshold is the size above which a payload member of an archive linked with
// Options.SpoolDir is written to a spool file instead of being held in memory.
const SpoolThreshold = 1 << 20

// size is the member's content length, in memory or spooled.
func (m *member) size() int64 {
	if m.spool != nil {
		return m.spool.Size
	}
	return int64(len(m.data))
}

// digest is the sha256 of the member's content: computed while it was spooled, or now
// from memory. Code that checks or records content (paths.json, conda-meta) uses size
// and digest, never data alone, so spooled members are handled alike.
func (m *member) digest() [32]byte {
	if m.spool != nil {
		return m.spool.SHA256
	}
	return sha256.Sum256(m.data)
}

// contents is what an archive holds: info/ files by name and payload members in order.
type contents struct {
	info    map[string][]byte // "info/index.json" -> data
	payload []member
}

// headerCost is what every member costs against the size budget, so an archive of
// millions of empty members is refused like one large member.
const headerCost = 512

// archiveSource is an open archive: a file, or its verified bytes in memory.
type archiveSource interface {
	io.Reader
	io.ReaderAt
	io.Seeker
}

// reader reads one archive within a size budget.
type reader struct {
	ctx    context.Context
	pkg    string
	budget int64
	limit  int64
	out    *contents
	spool  string // directory for members above SpoolThreshold; "" keeps all in memory
	// spooled are the spool files written, removed if the archive is refused.
	spooled []string
}

func (r *reader) removeSpooled() {
	for _, p := range r.spooled {
		os.Remove(p)
	}
	r.spooled = nil
}

// readArchive reads a .conda or .tar.bz2 package, detected by content, streaming every
// tar member and refusing unsafe names and types.
//
// With a non-empty sha256, the archive is read into memory once and its digest checked
// before anything is parsed, so the bytes linked are exactly the bytes verified even if
// the file changes meanwhile (e.g. an archive read in place from a local channel).
func readArchive(ctx context.Context, file, pkg, sha256Hex string, limit int64, spoolDir string) (*contents, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", pkg, err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", pkg, err)
	}
	var f archiveSource = fh
	r := &reader{ctx: ctx, pkg: pkg, budget: limit, limit: limit, out: &contents{info: map[string][]byte{}}, spool: spoolDir}
	if sha256Hex != "" && st.Size() > limit {
		return nil, &SizeLimitError{Package: pkg, Limit: limit}
	}
	if sha256Hex != "" && st.Size() > verifyInMemoryMax {
		// Verified in the same pass that parses it, without a copy: every byte parsed
		// is a byte hashed.
		done, err := r.readVerified(fh, file, sha256Hex)
		if done || err != nil {
			if err != nil {
				r.removeSpooled()
				return nil, err
			}
			return r.out, nil
		}
		// A layout that cannot be read in one pass: verify a copy in memory as below.
		if _, err := fh.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("package %s: %w", pkg, err)
		}
		r.removeSpooled()
		r = &reader{ctx: ctx, pkg: pkg, budget: limit, limit: limit, out: &contents{info: map[string][]byte{}}, spool: spoolDir}
	}
	if sha256Hex != "" {
		data := make([]byte, st.Size())
		if _, err := io.ReadFull(fh, data); err != nil {
			return nil, fmt.Errorf("package %s: %w", pkg, err)
		}
		if extra, _ := fh.Read(make([]byte, 1)); extra != 0 {
			return nil, &ArchiveChangedError{Package: pkg, File: file}
		}
		if sum := sha256.Sum256(data); !strings.EqualFold(hex.EncodeToString(sum[:]), sha256Hex) {
			return nil, &ArchiveChangedError{Package: pkg, File: file}
		}
		f = bytes.NewReader(data)
	}
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return nil, &MalformedPackageError{Package: pkg, Reason: "too short to be a package"}
	}
	switch {
	case bytes.Equal(magic[:], []byte("PK\x03\x04")):
		err = r.readConda(f, st.Size())
	case bytes.HasPrefix(magic[:], []byte("BZh")):
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("package %s: %w", pkg, err)
		}
		err = r.readTar(bzip2.NewReader(bufio.NewReaderSize(f, 1<<16)), false)
	default:
		return nil, &MalformedPackageError{Package: pkg, Reason: "neither a .conda (zip) nor a .tar.bz2 archive"}
	}
	if err != nil {
		r.removeSpooled()
		return nil, err
	}
	return r.out, nil
}

func (r *reader) readConda(f io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return &MalformedPackageError{Package: r.pkg, Reason: "reading zip: " + err.Error()}
	}
	var infoTar, pkgTar *zip.File
	for _, zf := range zr.File {
		switch {
		case strings.Contains(zf.Name, "/"):
			return &MalformedPackageError{Package: r.pkg, Reason: fmt.Sprintf("zip member %q is not at the top level (zipped with a directory prefix)", zf.Name)}
		case strings.HasPrefix(zf.Name, "info-") && strings.HasSuffix(zf.Name, ".tar.zst"):
			if infoTar != nil {
				return &MalformedPackageError{Package: r.pkg, Reason: "two info-*.tar.zst members"}
			}
			infoTar = zf
		case strings.HasPrefix(zf.Name, "pkg-") && strings.HasSuffix(zf.Name, ".tar.zst"):
			if pkgTar != nil {
				return &MalformedPackageError{Package: r.pkg, Reason: "two pkg-*.tar.zst members"}
			}
			pkgTar = zf
		}
	}
	if infoTar == nil {
		return &MalformedPackageError{Package: r.pkg, Reason: "no info-*.tar.zst member"}
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(r.limit)+1<<20))
	if err != nil {
		return err
	}
	defer dec.Close()
	for _, zf := range []*zip.File{infoTar, pkgTar} {
		if zf == nil {
			continue // info-only packages are valid
		}
		if int64(zf.CompressedSize64) > r.limit {
			return &SizeLimitError{Package: r.pkg, Limit: r.limit}
		}
		rc, err := zf.Open()
		if err != nil {
			return &MalformedPackageError{Package: r.pkg, Reason: fmt.Sprintf("zip member %s: %v", zf.Name, err)}
		}
		if err := dec.Reset(bufio.NewReaderSize(rc, 1<<16)); err != nil {
			rc.Close()
			return &MalformedPackageError{Package: r.pkg, Reason: fmt.Sprintf("zip member %s: %v", zf.Name, err)}
		}
		err = r.readTar(dec, zf == infoTar)
		if cerr := rc.Close(); err == nil && cerr != nil {
			err = &MalformedPackageError{Package: r.pkg, Reason: fmt.Sprintf("zip member %s: %v", zf.Name, cerr)}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// cleanName checks a stored member name and returns it relative and clean; "" means the
// archive root itself.
func (r *reader) cleanName(raw string) (string, error) {
	name := raw
	for strings.HasPrefix(name, "./") {
		name = name[2:]
	}
	if strings.HasPrefix(name, "/") {
		return "", &PathEscapeError{Package: r.pkg, Entry: raw, Reason: "absolute path"}
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", &PathEscapeError{Package: r.pkg, Entry: raw, Reason: `".." element`}
		}
	}
	name = path.Clean(name)
	if name == "." {
		return "", nil
	}
	return name, nil
}

func (r *reader) readTar(src io.Reader, infoOnly bool) error {
	tr := tar.NewReader(src)
	for {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
				return &SizeLimitError{Package: r.pkg, Limit: r.limit}
			}
			return &MalformedPackageError{Package: r.pkg, Reason: "reading tar: " + err.Error()}
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := r.cleanName(h.Name)
		if err != nil {
			return err
		}
		m := member{name: name, raw: h.Name, exec: h.Mode&0o111 != 0}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeGNUSparse: // the reader already turns old TypeRegA into these
			m.typ = tar.TypeReg
		case tar.TypeDir:
			m.typ = tar.TypeDir
		case tar.TypeSymlink:
			m.typ, m.linkname = tar.TypeSymlink, h.Linkname
			if h.Linkname == "" {
				return &UnsafeEntryError{Package: r.pkg, Entry: h.Name, Reason: "symlink with an empty target"}
			}
		case tar.TypeLink:
			ln, err := r.cleanName(h.Linkname)
			if err != nil {
				return err
			}
			if ln == "" {
				return &UnsafeEntryError{Package: r.pkg, Entry: h.Name, Reason: "hardlink to the archive root"}
			}
			m.typ, m.linkname = tar.TypeLink, ln
		case tar.TypeChar, tar.TypeBlock:
			return &UnsafeEntryError{Package: r.pkg, Entry: h.Name, Reason: "device node"}
		case tar.TypeFifo:
			return &UnsafeEntryError{Package: r.pkg, Entry: h.Name, Reason: "fifo"}
		default:
			return &UnsafeEntryError{Package: r.pkg, Entry: h.Name, Reason: fmt.Sprintf("unsupported tar entry type %q", h.Typeflag)}
		}
		if name == "" {
			if m.typ == tar.TypeDir {
				continue
			}
			return &UnsafeEntryError{Package: r.pkg, Entry: h.Name, Reason: "names the archive root"}
		}
		r.budget -= headerCost
		if m.typ == tar.TypeReg {
			if h.Size < 0 || h.Size > r.budget {
				return &SizeLimitError{Package: r.pkg, Limit: r.limit}
			}
			r.budget -= h.Size
			var err error
			if r.spool != "" && h.Size > SpoolThreshold && !infoOnly && name != "info" && !strings.HasPrefix(name, "info/") {
				m.spool, err = r.spoolMember(tr, h.Size)
			} else {
				m.data = make([]byte, h.Size)
				_, err = io.ReadFull(tr, m.data)
			}
			if err != nil {
				var se *spoolError
				if errors.As(err, &se) {
					return fmt.Errorf("package %s: spooling member %s: %w", r.pkg, h.Name, se.err)
				}
				if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
					return &SizeLimitError{Package: r.pkg, Limit: r.limit}
				}
				return &MalformedPackageError{Package: r.pkg, Reason: fmt.Sprintf("member %s: %v", h.Name, err)}
			}
		}
		if r.budget < 0 {
			return &SizeLimitError{Package: r.pkg, Limit: r.limit}
		}
		if name == "info" || strings.HasPrefix(name, "info/") {
			if m.typ == tar.TypeReg {
				r.out.info[name] = m.data
			}
			continue
		}
		if infoOnly {
			return &MalformedPackageError{Package: r.pkg, Reason: fmt.Sprintf("info archive holds %q outside info/", h.Name)}
		}
		r.out.payload = append(r.out.payload, m)
	}
}

// spoolError is a failure of the spool directory itself, not of the archive.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return e.err.Error() }

// spoolMember streams the next size bytes of src into a new file in the spool
// directory, hashing them on the way.
func (r *reader) spoolMember(src io.Reader, size int64) (*Spooled, error) {
	f, err := os.CreateTemp(r.spool, "member-*")
	if err != nil {
		return nil, &spoolError{err}
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(&spoolWriter{f: f}, 1<<20)
	_, err = io.CopyN(io.MultiWriter(bw, h), src, size)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = &spoolError{cerr}
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	r.spooled = append(r.spooled, f.Name())
	sp := &Spooled{Path: f.Name(), Size: size}
	h.Sum(sp.SHA256[:0])
	return sp, nil
}

// spoolWriter marks write errors as the spool's, so they are not blamed on the archive.
type spoolWriter struct{ f *os.File }

func (w *spoolWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = &spoolError{err}
	}
	return n, err
}
