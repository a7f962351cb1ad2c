package install

import (
	"archive/tar"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// verifyPaths checks an archive's payload against its info/paths.json the way rattler
// validates an extracted package: every listed path is present with the listed kind, a
// listed file has the listed size and sha256, and nothing but directories is left
// unlisted. A package that lies about its content is refused before anything is linked,
// so the lie never reaches conda-meta, an image or the layer cache.
func verifyPaths(pkg string, listed map[string]pathInfo, files map[string]member, hasChild map[string]bool) error {
	names := make([]string, 0, len(listed))
	for n := range listed {
		names = append(names, n)
	}
	slices.Sort(names) // the first problem reported does not depend on map order
	for _, name := range names {
		p := listed[name]
		m, ok := files[name]
		switch p.PathType {
		case "hardlink", "":
			if !ok {
				return &PathsMismatchError{Package: pkg, Path: name, Reason: "listed in info/paths.json but missing from the archive"}
			}
			if m.typ == tar.TypeLink {
				t, ok := files[m.linkname]
				if !ok {
					continue // refused with its own reason when linked
				}
				m.data, m.spool = t.data, t.spool
			} else if m.typ != tar.TypeReg {
				return &PathsMismatchError{Package: pkg, Path: name, Reason: "listed as a file in info/paths.json but stored as " + kindName(m.typ)}
			}
			if p.Size != nil && *p.Size != m.size() {
				return &PathsMismatchError{Package: pkg, Path: name, Reason: fmt.Sprintf("info/paths.json says %d bytes, the archive holds %d", *p.Size, m.size())}
			}
			if p.SHA256 != "" {
				sum := m.digest()
				if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, p.SHA256) {
					return &PathsMismatchError{Package: pkg, Path: name, Reason: fmt.Sprintf("info/paths.json says sha256 %s, the archive holds %s", p.SHA256, got)}
				}
			}
		case "softlink":
			if !ok {
				return &PathsMismatchError{Package: pkg, Path: name, Reason: "listed in info/paths.json but missing from the archive"}
			}
			// Some real archives (conda's own test data) store symlinks as empty files,
			// as archivers without link support write them; conda installs the empty
			// file, and conda-meta records what is really there.
			if m.typ != tar.TypeSymlink && (m.typ != tar.TypeReg || m.size() != 0) {
				return &PathsMismatchError{Package: pkg, Path: name, Reason: "listed as a symlink in info/paths.json but stored as " + kindName(m.typ)}
			}
		case "directory":
			if !ok && !hasChild[name] {
				return &PathsMismatchError{Package: pkg, Path: name, Reason: "listed in info/paths.json but missing from the archive"}
			}
			if ok && m.typ != tar.TypeDir {
				return &PathsMismatchError{Package: pkg, Path: name, Reason: "listed as a directory in info/paths.json but stored as " + kindName(m.typ)}
			}
		default:
			// Kinds conda creates at link time (entry points, pyc files) are not in the
			// archive; nothing is installed from such an entry.
		}
	}
	unlisted := make([]string, 0)
	for name, m := range files {
		if m.typ == tar.TypeDir {
			continue
		}
		if _, ok := listed[name]; !ok {
			unlisted = append(unlisted, name)
		}
	}
	if len(unlisted) > 0 {
		slices.Sort(unlisted)
		return &PathsMismatchError{Package: pkg, Path: unlisted[0], Reason: fmt.Sprintf("stored in the archive but not listed in info/paths.json (%d unlisted)", len(unlisted))}
	}
	return nil
}

func kindName(typ byte) string {
	switch typ {
	case tar.TypeReg:
		return "a file"
	case tar.TypeDir:
		return "a directory"
	case tar.TypeSymlink:
		return "a symlink"
	case tar.TypeLink:
		return "a hardlink"
	}
	return fmt.Sprintf("tar type %q", typ)
}
