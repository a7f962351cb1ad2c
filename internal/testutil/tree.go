package testutil

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TreeEntry is one path of a file tree as both engines must agree on it: no owners,
// no times, content by hash.
type TreeEntry struct {
	Path   string // slash-separated, relative to the root
	Type   string // "file", "dir", "symlink", "char", "block", "fifo"
	Mode   fs.FileMode
	SHA256 string // files only
	Link   string // symlinks only; "major:minor" for devices
}

func (e TreeEntry) String() string {
	return fmt.Sprintf("%s %s %o %s%s", e.Path, e.Type, e.Mode, e.SHA256, e.Link)
}

// TreeFromDir describes the tree under dir (hard links appear as files).
func TreeFromDir(dir string) ([]TreeEntry, error) {
	var out []TreeEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := TreeEntry{Path: filepath.ToSlash(rel), Mode: info.Mode().Perm()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.Type, e.Mode = "symlink", 0
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case info.IsDir():
			e.Type = "dir"
		case info.Mode().IsRegular():
			e.Type = "file"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.SHA256 = hashHex(b)
		default:
			return fmt.Errorf("%s: unexpected file type %v", p, info.Mode().Type())
		}
		out = append(out, e)
		return nil
	})
	sortTree(out)
	return out, err
}

// TreeFromImage applies the image's layers in order (with OCI whiteouts) and describes
// the resulting root filesystem.
func TreeFromImage(img v1.Image) ([]TreeEntry, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	tree := map[string]TreeEntry{}
	for i, l := range layers {
		if err := applyLayer(tree, l); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	out := make([]TreeEntry, 0, len(tree))
	for _, e := range tree {
		out = append(out, e)
	}
	sortTree(out)
	return out, nil
}

func applyLayer(tree map[string]TreeEntry, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if p == "" {
			continue
		}
		dir, base := path.Split(p)
		if base == ".wh..wh..opq" {
			removeUnder(tree, strings.TrimSuffix(dir, "/"), false)
			continue
		}
		if strings.HasPrefix(base, ".wh.") {
			removeUnder(tree, dir+strings.TrimPrefix(base, ".wh."), true)
			continue
		}
		e := TreeEntry{Path: p, Mode: fs.FileMode(h.Mode).Perm()}
		switch h.Typeflag {
		case tar.TypeDir:
			e.Type = "dir"
		case tar.TypeReg:
			e.Type = "file"
			b, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			e.SHA256 = hashHex(b)
		case tar.TypeSymlink:
			e.Type, e.Mode, e.Link = "symlink", 0, h.Linkname
		case tar.TypeLink:
			target, ok := tree[strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")]
			if !ok {
				return fmt.Errorf("hard link %s to missing %s", p, h.Linkname)
			}
			e.Type, e.SHA256 = "file", target.SHA256
		case tar.TypeChar, tar.TypeBlock:
			e.Type = map[byte]string{tar.TypeChar: "char", tar.TypeBlock: "block"}[h.Typeflag]
			e.Link = fmt.Sprintf("%d:%d", h.Devmajor, h.Devminor)
		case tar.TypeFifo:
			e.Type = "fifo"
		default:
			return fmt.Errorf("%s: unexpected tar type %c", p, h.Typeflag)
		}
		if e.Type != "dir" {
			removeUnder(tree, p, true)
		}
		tree[p] = e
	}
}

// removeUnder deletes everything below p, and p itself when self is set.
func removeUnder(tree map[string]TreeEntry, p string, self bool) {
	for k := range tree {
		if (self && k == p) || strings.HasPrefix(k, p+"/") || p == "" {
			delete(tree, k)
		}
	}
}

// Under keeps the entries at or below prefix (a path relative to the root).
func Under(tree []TreeEntry, prefix string) []TreeEntry {
	var out []TreeEntry
	for _, e := range tree {
		if e.Path == prefix || strings.HasPrefix(e.Path, prefix+"/") {
			out = append(out, e)
		}
	}
	return out
}

func sortTree(t []TreeEntry) {
	sort.Slice(t, func(i, j int) bool { return t[i].Path < t[j].Path })
}

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
