package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/reprobuild/reprobuild/internal/install"
)

// GzipLevel is the pinned compression level of every layer. Changing it (or upgrading
// klauspost/compress) changes layer digests; the golden-digest test makes that visible.
const GzipLevel = 6

// LayerOptions shape the tar headers of a layer.
type LayerOptions struct {
	// Epoch is the mtime of every entry, truncated to whole seconds. The zero value
	// means the Unix epoch (1970-01-01T00:00:00Z).
	Epoch time.Time
	// UID and GID own every entry; user and group names are never written.
	UID, GID int
}

func (o LayerOptions) mtime() time.Time {
	if o.Epoch.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return o.Epoch.UTC().Truncate(time.Second)
}

// Default permission bits for entries that carry none.
const (
	defaultFileMode = 0o644
	defaultDirMode  = 0o755
	symlinkMode     = 0o777
)

// LayerFromEntries builds a gzip-compressed OCI layer from entries. The bytes depend only
// on the set of entries and o: entries are sorted by path, missing parent directories are
// added (mode 0755), headers carry no user/group names, xattrs or access times, and the
// tar format is USTAR unless a path or size needs PAX.
//
// Hardlinked files are canonicalised: of all paths sharing one file, the smallest carries
// the content and the others link to it, whichever was declared the original.
func LayerFromEntries(entries []install.Entry, o LayerOptions) (v1.Layer, error) {
	plan, err := planTar(entries)
	if err != nil {
		return nil, err
	}
	return buildLayer(plan, o)
}

// tarEntry is one header-to-be, after validation and hardlink canonicalisation.
type tarEntry struct {
	path     string
	typ      install.EntryType
	mode     int64
	data     []byte
	linkname string
	// open and size stream a file's content from the host instead of data.
	open func() (io.ReadCloser, error)
	size int64
}

func planTar(entries []install.Entry) ([]tarEntry, error) {
	byPath := make(map[string]*install.Entry, len(entries))
	for i := range entries {
		e := &entries[i]
		if err := checkPath(e.Path); err != nil {
			return nil, &EntryError{Path: e.Path, Reason: err.Error()}
		}
		if e.Type > install.TypeHardlink {
			return nil, &EntryError{Path: e.Path, Reason: fmt.Sprintf("unknown entry type %d", e.Type)}
		}
		if prev, dup := byPath[e.Path]; dup {
			// Two directory entries for one path are harmless only if identical.
			if !(prev.Type == install.TypeDir && e.Type == install.TypeDir && prev.Mode == e.Mode) {
				return nil, &EntryError{Path: e.Path, Reason: "path appears twice with different content; a layer holds each path once"}
			}
			continue
		}
		byPath[e.Path] = e
	}

	// Resolve each hardlink to the regular file at the end of its chain.
	root := make(map[string]string) // hardlink path -> regular file path
	for p, e := range byPath {
		if e.Type != install.TypeHardlink {
			continue
		}
		target, seen := e.Linkname, map[string]bool{p: true}
		for {
			t, ok := byPath[target]
			if !ok {
				return nil, &EntryError{Path: p, Reason: fmt.Sprintf("hardlink target %q is not in the same layer", e.Linkname)}
			}
			if t.Type == install.TypeFile {
				break
			}
			if t.Type != install.TypeHardlink || seen[target] {
				return nil, &EntryError{Path: p, Reason: fmt.Sprintf("hardlink target %q is not a regular file", e.Linkname)}
			}
			seen[target] = true
			target = t.Linkname
		}
		root[p] = target
	}
	// The smallest path of each hardlink group carries the content.
	owner := make(map[string]string) // regular file path -> smallest path of its group
	for link, file := range root {
		cur, ok := owner[file]
		if !ok {
			cur = file
		}
		if link < cur {
			cur = link
		}
		owner[file] = cur
	}

	out := make([]tarEntry, 0, len(byPath))
	have := make(map[string]bool, len(byPath))
	for p, e := range byPath {
		te := tarEntry{path: p, typ: e.Type}
		switch e.Type {
		case install.TypeFile, install.TypeHardlink:
			file := p
			if e.Type == install.TypeHardlink {
				file = root[p]
			}
			f := byPath[file]
			carrier := file
			if o, ok := owner[file]; ok {
				carrier = o
			}
			if p == carrier {
				te.typ, te.mode, te.data = install.TypeFile, permBits(f.Mode, defaultFileMode), f.Data
				if sp := f.Spool; sp != nil {
					// Streamed from the spool file into the tar writer, never loaded.
					te.open, te.size = sp.Open, sp.Size
				}
			} else {
				te.typ, te.linkname = install.TypeHardlink, carrier
				te.mode = permBits(f.Mode, defaultFileMode)
			}
		case install.TypeDir:
			te.mode = permBits(e.Mode, defaultDirMode)
		case install.TypeSymlink:
			if e.Linkname == "" {
				return nil, &EntryError{Path: p, Reason: "symlink has an empty target"}
			}
			te.mode, te.linkname = symlinkMode, e.Linkname
		}
		out = append(out, te)
		have[p] = true
	}
	// Add missing parent directories so extractors never invent their own modes.
	for _, te := range out[:len(out):len(out)] {
		for dir := path.Dir(te.path); dir != "."; dir = path.Dir(dir) {
			if have[dir] {
				if byPath[dir] != nil && byPath[dir].Type != install.TypeDir {
					return nil, &EntryError{Path: te.path, Reason: fmt.Sprintf("parent %q is not a directory", dir)}
				}
				continue
			}
			have[dir] = true
			out = append(out, tarEntry{path: dir, typ: install.TypeDir, mode: defaultDirMode})
		}
	}
	// A plain byte sort puts every directory before its contents: a parent is a prefix.
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

func checkPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("path must be relative to the image root (no leading /)")
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("path contains a NUL byte")
	case path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("path is not clean (no \".\", \"..\", doubled or trailing slashes)")
	}
	return nil
}

// permBits keeps permission, setuid, setgid and sticky bits, in tar's octal form.
func permBits(m fs.FileMode, def int64) int64 {
	if m&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0 {
		return def
	}
	bits := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}

// LayerInfo describes a layer written by WriteLayer.
type LayerInfo struct {
	Digest, DiffID v1.Hash
	Size           int64
	MediaType      types.MediaType
}

// WriteLayer writes the gzip-compressed layer of entries to w, byte for byte what
// LayerFromEntries would hold in memory, and returns its digests and size. It lets a
// caller stream a layer straight into a file instead of buffering it.
func WriteLayer(w io.Writer, entries []install.Entry, o LayerOptions) (LayerInfo, error) {
	plan, err := planTar(entries)
	if err != nil {
		return LayerInfo{}, err
	}
	if err := o.check(); err != nil {
		return LayerInfo{}, err
	}
	var n countWriter
	zsum, tsum := sha256.New(), sha256.New()
	if err := writeLayer(io.MultiWriter(w, zsum, &n), tsum, plan, o); err != nil {
		return LayerInfo{}, err
	}
	return LayerInfo{Digest: sum(zsum), DiffID: sum(tsum), Size: int64(n), MediaType: types.OCILayer}, nil
}

func buildLayer(plan []tarEntry, o LayerOptions) (v1.Layer, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	var size int
	for _, te := range plan {
		size += len(te.data) + 1024
	}
	compressed := bytes.NewBuffer(make([]byte, 0, size/3+4096))
	zsum, tsum := sha256.New(), sha256.New()
	if err := writeLayer(io.MultiWriter(compressed, zsum), tsum, plan, o); err != nil {
		return nil, err
	}
	return &memLayer{
		compressed: compressed.Bytes(),
		digest:     sum(zsum),
		diffID:     sum(tsum),
		mediaType:  types.OCILayer,
	}, nil
}

func (o LayerOptions) check() error {
	if o.UID < 0 || o.GID < 0 {
		return &EntryError{Path: "", Reason: fmt.Sprintf("negative uid/gid %d/%d", o.UID, o.GID)}
	}
	return nil
}

// writeLayer writes the gzip-compressed tar of plan to zw and, if tw is not nil, the
// uncompressed tar to tw as well. A nil zw writes only the uncompressed tar.
func writeLayer(zw, tw io.Writer, plan []tarEntry, o LayerOptions) error {
	var (
		gz  *gzip.Writer
		dst []io.Writer
	)
	if zw != nil {
		var err error
		if gz, err = gzip.NewWriterLevel(zw, GzipLevel); err != nil {
			return fmt.Errorf("creating gzip writer: %w", err)
		}
		dst = append(dst, gz)
	}
	if tw != nil {
		dst = append(dst, tw)
	}
	tarw := tar.NewWriter(io.MultiWriter(dst...))
	mtime := o.mtime()
	for _, te := range plan {
		h := &tar.Header{
			Name:    te.path,
			Mode:    te.mode,
			Uid:     o.UID,
			Gid:     o.GID,
			ModTime: mtime,
		}
		switch te.typ {
		case install.TypeFile:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(te.data))
			if te.open != nil {
				h.Size = te.size
			}
		case install.TypeDir:
			h.Typeflag, h.Name = tar.TypeDir, te.path+"/"
		case install.TypeSymlink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, te.linkname
		case install.TypeHardlink:
			h.Typeflag, h.Linkname = tar.TypeLink, te.linkname
		}
		if err := tarw.WriteHeader(h); err != nil {
			return &EntryError{Path: te.path, Reason: fmt.Sprintf("writing tar header: %v", err)}
		}
		if te.typ != install.TypeFile {
			continue
		}
		if te.open == nil {
			if _, err := tarw.Write(te.data); err != nil {
				return fmt.Errorf("writing %s to layer: %w", te.path, err)
			}
			continue
		}
		if err := copyExactly(tarw, te); err != nil {
			return err
		}
	}
	if err := tarw.Close(); err != nil {
		return fmt.Errorf("closing layer tar: %w", err)
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return fmt.Errorf("closing layer gzip: %w", err)
		}
	}
	return nil
}

// copyExactly streams a host file into the tar and fails if its size changed since it was
// planned: a file that changes under a build must not give a silently different layer.
func copyExactly(w io.Writer, te tarEntry) error {
	rc, err := te.open()
	if err != nil {
		return fmt.Errorf("opening data for %s: %w", te.path, err)
	}
	defer rc.Close()
	n, err := io.CopyN(w, rc, te.size)
	if err != nil {
		return fmt.Errorf("reading data for %s (%d of %d bytes): %w", te.path, n, te.size, err)
	}
	if extra, _ := io.CopyN(io.Discard, rc, 1); extra != 0 {
		return fmt.Errorf("data for %s grew beyond %d bytes while the layer was written; do not modify data during a build", te.path, te.size)
	}
	return nil
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// memLayer is a finished layer held in memory with its digests already known, so reading
// digests never recompresses.
type memLayer struct {
	compressed     []byte
	digest, diffID v1.Hash
	mediaType      types.MediaType
}

func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *memLayer) Size() (int64, error)     { return int64(len(l.compressed)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) {
	return l.mediaType, nil
}
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	zr, err := gzip.NewReader(bytes.NewReader(l.compressed))
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", l.digest, err)
	}
	return zr, nil
}

// DataLayer builds a layer holding one file at inImage (a slash path relative to the image
// root, e.g. "data/ref/genome.fa") with mode 0644, read from content. Baked data blocks get
// their own layer so a package change never re-uploads them.
func DataLayer(inImage string, content io.Reader, o LayerOptions) (v1.Layer, error) {
	data, err := io.ReadAll(content)
	if err != nil {
		return nil, fmt.Errorf("reading data for %s: %w", inImage, err)
	}
	return LayerFromEntries([]install.Entry{{Path: inImage, Type: install.TypeFile, Mode: defaultFileMode, Data: data}}, o)
}
