package install

import "fmt"

// PathEscapeError reports an archive member (or a link target) that would land outside
// the prefix: an absolute path, a ".." element, or a link that resolves outside.
type PathEscapeError struct {
	Package string // archive file name
	Entry   string // member name as stored
	Reason  string
}

func (e *PathEscapeError) Error() string {
	return fmt.Sprintf("package %s: member %q escapes the prefix: %s; the archive is unsafe, do not install it", e.Package, e.Entry, e.Reason)
}

// UnsafeEntryError reports a member that is refused for what it is rather than where it
// goes: device nodes, fifos, a file replacing a directory, a path through a symlink.
type UnsafeEntryError struct {
	Package string
	Entry   string
	Reason  string
}

func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("package %s: member %q refused: %s", e.Package, e.Entry, e.Reason)
}

// SizeLimitError reports an archive whose unpacked content exceeds Options.MaxUnpackedSize.
type SizeLimitError struct {
	Package string
	Limit   int64
}

func (e *SizeLimitError) Error() string {
	return fmt.Sprintf("package %s: unpacked content exceeds %d bytes (archive bomb?); raise --max-package-size (Options.MaxUnpackedSize) if the package is genuine", e.Package, e.Limit)
}

// MalformedPackageError reports an archive that is not a valid conda package.
type MalformedPackageError struct {
	Package string
	Reason  string
}

func (e *MalformedPackageError) Error() string {
	return fmt.Sprintf("package %s is malformed: %s; re-download it or rebuild it with conda-build/rattler-build", e.Package, e.Reason)
}

// PaddingError reports a binary file whose placeholder is shorter than the new prefix,
// so the prefix cannot be written in place.
type PaddingError struct {
	Package     string
	Path        string
	Placeholder string
	Prefix      string
}

func (e *PaddingError) Error() string {
	return fmt.Sprintf("package %s: binary file %s: prefix %q (%d bytes) is longer than the placeholder %q (%d bytes); choose a shorter prefix",
		e.Package, e.Path, e.Prefix, len(e.Prefix), e.Placeholder, len(e.Placeholder))
}

// PythonVersionError reports a noarch: python package with no python version to link
// it for.
type PythonVersionError struct {
	Package string
}

func (e *PythonVersionError) Error() string {
	return fmt.Sprintf("package %s is noarch: python but no python version is known; install a python package with it or set Options.PythonVersion", e.Package)
}

// ConflictError reports two packages whose paths cannot coexist: one installs a file or
// symlink where the other needs a directory.
type ConflictError struct {
	Path     string
	Packages [2]string
	Reason   string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("packages %s and %s conflict at %s: %s", e.Packages[0], e.Packages[1], e.Path, e.Reason)
}

// ArchiveChangedError reports an archive whose bytes no longer match the sha256 it was
// verified against when it was fetched: the file changed in between.
type ArchiveChangedError struct {
	Package string
	File    string
}

func (e *ArchiveChangedError) Error() string {
	return fmt.Sprintf("package %s: %s changed after it was verified (its sha256 no longer matches the lock); retry once the channel is no longer being written", e.Package, e.File)
}

// PathsMismatchError reports an archive whose content disagrees with its
// info/paths.json: a listed file missing or of another kind, size or sha256, or a file
// the list does not mention.
type PathsMismatchError struct {
	Package string
	Path    string
	Reason  string
}

func (e *PathsMismatchError) Error() string {
	return fmt.Sprintf("package %s: %s: %s; the package metadata lies about its content, do not install it (re-download it or report it to the channel)", e.Package, e.Path, e.Reason)
}
