package install

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// EntryType is the kind of a file-tree entry.
type EntryType uint8

// Entry types.
const (
	TypeFile EntryType = iota
	TypeDir
	TypeSymlink
	TypeHardlink
)

// Entry is one file, directory or link of an installed environment, independent of any
// host filesystem: no owner, no times, no host path. Layers and on-disk trees are both
// made from entries, so every engine produces the same tree.
type Entry struct {
	// Path is slash-separated and relative to the image root, with no leading "/" and no
	// "." or ".." elements (e.g. "opt/env/lib/libz.so.1").
	Path string
	Type EntryType
	// Mode holds permission bits only (e.g. 0o755, 0o644).
	Mode fs.FileMode
	// Data is the content of a TypeFile entry, unless Spool holds it.
	Data []byte
	// Spool, when not nil, holds a TypeFile entry's content on disk (Data is then nil):
	// read it with Open; Size works for both.
	Spool *Spooled
	// Linkname is the target of a symlink as stored, or for a hardlink the Path of the
	// entry it links to.
	Linkname string
}

// PackageTree is everything one package contributes to the environment, including its
// conda-meta record and generated entry points. Entries are sorted by Path.
type PackageTree struct {
	Record  conda.PackageRecord
	Entries []Entry
	// LinkScripts names the actions ("pre-link", "post-link", "pre-unlink") for which
	// the package ships a script (bin/.<name>-<action>.sh). They are never run; audit
	// reports them.
	LinkScripts []string
}

// Spooled is a TypeFile entry's content kept in a file instead of memory: members above
// SpoolThreshold of archives linked with Options.SpoolDir. The file is written once,
// by linking, and never changed; whoever set SpoolDir removes it after the build.
type Spooled struct {
	Path   string // the spool file
	Size   int64
	SHA256 [32]byte // of the content, computed while it was spooled
}

// Open opens the spooled content.
func (s *Spooled) Open() (io.ReadCloser, error) { return os.Open(s.Path) }

// ReadAll loads the spooled content into memory.
func (s *Spooled) ReadAll() ([]byte, error) {
	data, err := os.ReadFile(s.Path)
	if err == nil && int64(len(data)) != s.Size {
		err = fmt.Errorf("spool file %s holds %d bytes, want %d; do not modify the spool directory during a build", s.Path, len(data), s.Size)
	}
	return data, err
}

// Size returns the length of a TypeFile entry's content, in memory or spooled.
func (e *Entry) Size() int64 {
	if e.Spool != nil {
		return e.Spool.Size
	}
	return int64(len(e.Data))
}

// Open returns a TypeFile entry's content as a stream, from memory or the spool file.
func (e *Entry) Open() (io.ReadCloser, error) {
	if e.Spool != nil {
		return e.Spool.Open()
	}
	return io.NopCloser(bytes.NewReader(e.Data)), nil
}
