package runc

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// UnpackOptions configure Unpack.
type UnpackOptions struct {
	// Owners sets file owners from the image (needs root); otherwise files belong to
	// the caller.
	Owners bool
}

// Entry is one file of an unpacked tree, as the image describes it.
type Entry struct {
	Path     string // relative, slash-separated, clean
	Mode     fs.FileMode
	UID, GID int
	Type     byte // a tar type flag
	Linkname string
}

// Unpack writes the flattened file system of img (whiteouts applied) into dir, which is
// created and must not exist yet, and returns its entries. Entries that would leave the
// root (escaping paths and links) are refused by mutate.Extract or by os.Root. Device nodes are skipped (a runtime provides /dev). Directory modes are set
// last, so a read-only directory can still be filled.
func Unpack(img v1.Image, dir string, o UnpackOptions) ([]Entry, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("unpacking the image: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var entries []Entry
	var dirs, links []Entry
	// made holds the directories created so far: the flattened stream names each path
	// once, so only these can already exist, and their parents need no MkdirAll.
	made := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the image's layers: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." || name == "/" {
			continue
		}
		name = strings.TrimPrefix(name, "/")
		if name == ".." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("image entry %q points outside the root file system", h.Name)
		}
		e := Entry{Path: name, Mode: fs.FileMode(h.Mode) & fs.ModePerm, UID: h.Uid, GID: h.Gid, Type: h.Typeflag, Linkname: h.Linkname}
		e.Mode |= specialBits(h.Mode)
		if h.Typeflag == tar.TypeLink {
			// The flattened stream lists upper layers first, so a link's target may
			// come later: links are made once every file exists.
			links = append(links, e)
			entries = append(entries, e)
			continue
		}
		if err := writeEntry(root, tr, e, made); err != nil {
			return nil, fmt.Errorf("unpacking %s: %w", h.Name, err)
		}
		switch h.Typeflag {
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			continue
		case tar.TypeDir:
			dirs = append(dirs, e)
		default:
			if o.Owners {
				if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
					return nil, fmt.Errorf("unpacking %s: %w", h.Name, err)
				}
			}
			if h.Typeflag == tar.TypeReg {
				// Chmod after chown: chown clears setuid bits.
				if err := root.Chmod(name, e.Mode); err != nil {
					return nil, fmt.Errorf("unpacking %s: %w", h.Name, err)
				}
			}
		}
		entries = append(entries, e)
	}
	for _, e := range links {
		if err := writeEntry(root, nil, e, made); err != nil {
			return nil, fmt.Errorf("unpacking %s: %w", e.Path, err)
		}
	}
	// Deepest first, so a directory made read-only does not block its children.
	slices.SortStableFunc(dirs, func(a, b Entry) int { return strings.Count(b.Path, "/") - strings.Count(a.Path, "/") })
	for _, d := range dirs {
		if o.Owners {
			if err := root.Lchown(d.Path, d.UID, d.GID); err != nil {
				return nil, fmt.Errorf("unpacking %s: %w", d.Path, err)
			}
		}
		if err := root.Chmod(d.Path, d.Mode); err != nil {
			return nil, fmt.Errorf("unpacking %s: %w", d.Path, err)
		}
	}
	return entries, nil
}

func specialBits(mode int64) fs.FileMode {
	var m fs.FileMode
	if mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func writeEntry(root *os.Root, r io.Reader, e Entry, made map[string]bool) error {
	if parent := path.Dir(e.Path); parent != "." && !made[parent] {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return err
		}
		for d := parent; d != "." && !made[d]; d = path.Dir(d) {
			made[d] = true
		}
	}
	if made[e.Path] && e.Type != tar.TypeDir {
		// A directory made as a parent, now named as another kind of entry.
		if err := root.RemoveAll(e.Path); err != nil {
			return err
		}
		delete(made, e.Path)
	}
	switch e.Type {
	case tar.TypeDir:
		if made[e.Path] {
			return nil
		}
		made[e.Path] = true
		err := root.Mkdir(e.Path, 0o755)
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	case tar.TypeReg:
		f, err := root.OpenFile(e.Path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	case tar.TypeSymlink:
		return root.Symlink(e.Linkname, e.Path)
	case tar.TypeLink:
		target := path.Clean(strings.TrimPrefix(e.Linkname, "/"))
		if target == ".." || strings.HasPrefix(target, "../") {
			return fmt.Errorf("hard link to %q points outside the root file system", e.Linkname)
		}
		return root.Link(target, e.Path)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return nil
	}
	return fmt.Errorf("unsupported entry type %q", e.Type)
}
