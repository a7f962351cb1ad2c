package install

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Shape keeps of a tree what the whole-environment check needs: every path with its kind
// and symlink target, and the data of conda-meta records only (to name the package that
// owns a path). File contents are dropped, so the shapes of every layer group fit in
// memory together.
func Shape(entries []Entry) []Entry {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		out[i] = Entry{Path: e.Path, Type: e.Type, Mode: e.Mode, Linkname: e.Linkname}
		if isCondaMeta(e.Path) && e.Type == TypeFile {
			out[i].Data = e.Data
		}
	}
	return out
}

func isCondaMeta(p string) bool {
	return path.Base(path.Dir(p)) == "conda-meta" && strings.HasSuffix(p, ".json")
}

// CheckEnvironment checks the environment made of layers (image-root relative entries,
// applied in order: a later file or symlink replaces an earlier one) as one tree: every
// symlink, followed through the symlinks of every layer, must stay inside prefix; no
// path may be reached through a file or symlink; and no layer may put a file or symlink
// where another needs a directory. A chain of links that is safe in each package or
// layer group alone but escapes once they are together is refused here.
//
// Both engines call it on the same entries (the embedded engine on the trees it links or
// the layers it reuses, the BuildKit link step on the trees of the groups before it
// plus its own), so they give the same verdict. Packages are named from the conda-meta
// records found in the layers.
func CheckEnvironment(prefix string, layers ...[]Entry) error {
	if !strings.HasPrefix(prefix, "/") || path.Clean(prefix) != prefix || prefix == "/" {
		return fmt.Errorf("install: prefix %q must be a clean absolute path other than /", prefix)
	}
	root := strings.TrimPrefix(prefix, "/")
	owners := map[string]string{}
	merged := map[string]Entry{}
	for li, l := range layers {
		layerOwner := map[string]string{}
		for _, e := range l {
			if e.Type != TypeFile || !isCondaMeta(e.Path) || path.Dir(e.Path) != root+"/conda-meta" {
				continue
			}
			var m struct {
				Fn    string   `json:"fn"`
				Files []string `json:"files"`
			}
			if json.Unmarshal(e.Data, &m) != nil || m.Fn == "" {
				continue
			}
			layerOwner[e.Path] = m.Fn
			for _, f := range m.Files {
				layerOwner[root+"/"+f] = m.Fn
			}
		}
		for _, e := range l {
			name := layerOwner[e.Path]
			if name == "" {
				name = fmt.Sprintf("layer %d", li+1)
			}
			if prev, ok := merged[e.Path]; ok {
				if (prev.Type == TypeDir) != (e.Type == TypeDir) {
					return &ConflictError{Path: e.Path, Packages: [2]string{owners[e.Path], name}, Reason: "one installs a directory, the other a file or symlink"}
				}
				if e.Type == TypeDir {
					continue
				}
			}
			merged[e.Path] = e
			owners[e.Path] = name
		}
	}
	all := make([]Entry, 0, len(merged))
	for _, e := range merged {
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return checkTree(all, root, func(p string) string { return owners[p] })
}

// ShapeOfTar reads the shape (see Shape) of an uncompressed layer tar. Whiteouts are
// not expected in package layers and are refused.
func ShapeOfTar(r io.Reader) ([]Entry, error) {
	tr := tar.NewReader(r)
	var out []Entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("install: reading layer: %w", err)
		}
		p := strings.TrimSuffix(strings.TrimPrefix(path.Clean("/"+h.Name), "/"), "/")
		if p == "" {
			continue
		}
		if strings.HasPrefix(path.Base(p), ".wh.") {
			return nil, fmt.Errorf("install: layer holds whiteout %s; package layers never do", h.Name)
		}
		e := Entry{Path: p, Mode: fs.FileMode(h.Mode).Perm()}
		switch h.Typeflag {
		case tar.TypeDir:
			e.Type = TypeDir
		case tar.TypeSymlink:
			e.Type, e.Linkname = TypeSymlink, h.Linkname
		case tar.TypeLink:
			e.Type, e.Linkname = TypeHardlink, strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
		case tar.TypeReg:
			e.Type = TypeFile
			if isCondaMeta(p) {
				if e.Data, err = io.ReadAll(io.LimitReader(tr, 64<<20)); err != nil {
					return nil, fmt.Errorf("install: reading layer: %w", err)
				}
			}
		default:
			return nil, fmt.Errorf("install: layer entry %s has unsupported type %q", h.Name, h.Typeflag)
		}
		out = append(out, e)
	}
}

// ShapeOfDir reads the shape (see Shape) of a tree written on disk (paths relative to
// dir). Symlinks are read, never followed.
func ShapeOfDir(dir string) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Path: filepath.ToSlash(rel), Mode: info.Mode().Perm()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.Type = TypeSymlink
			if e.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
		case info.IsDir():
			e.Type = TypeDir
		case info.Mode().IsRegular():
			e.Type = TypeFile
			if isCondaMeta(e.Path) {
				if e.Data, err = os.ReadFile(p); err != nil {
					return err
				}
			}
		default:
			return errors.New(p + " is not a file, directory or symlink")
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("install: reading tree %s: %w", dir, err)
	}
	return out, nil
}

// ShapeOfTrees is the shape of the layer made of trees (as LinkAll returns them): their
// entries in order, directories once.
func ShapeOfTrees(trees []*PackageTree) []Entry {
	var out []Entry
	seen := map[string]bool{}
	for _, t := range trees {
		for _, e := range t.Entries {
			if e.Type == TypeDir {
				if seen[e.Path] {
					continue
				}
				seen[e.Path] = true
			}
			out = append(out, e)
		}
	}
	return Shape(out)
}
