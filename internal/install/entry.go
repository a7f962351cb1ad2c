package install

import (
	"io/fs"

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
	// Data is the content of a TypeFile entry.
	Data []byte
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
