package testutil

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ReadLayerFiles returns the regular files of a layer by path (no leading "/").
func ReadLayerFiles(l v1.Layer) (map[string][]byte, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(path.Clean("/"+h.Name), "/")] = b
	}
}

// ExtractTar unpacks a tar of regular files and directories (an OCI archive) into dir.
func ExtractTar(tarPath, dir string) error {
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", tarPath, err)
		}
		rel := path.Clean("/" + h.Name)
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			w, err := os.Create(dst)
			if err != nil {
				return err
			}
			if _, err := io.Copy(w, tr); err != nil {
				w.Close()
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unexpected entry %s (type %c) in an OCI archive", tarPath, h.Name, h.Typeflag)
		}
	}
}

// ImageFile returns the content of the regular file at p (no leading "/") as the image's
// top-most layer holding it has it.
func ImageFile(img v1.Image, p string) ([]byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for i := len(layers) - 1; i >= 0; i-- {
		files, err := ReadLayerFiles(layers[i])
		if err != nil {
			return nil, err
		}
		if b, ok := files[p]; ok {
			return b, nil
		}
	}
	return nil, fmt.Errorf("no file %s in the image", p)
}

// WithoutPath returns tree without the entry at p.
func WithoutPath(tree []TreeEntry, p string) []TreeEntry {
	out := make([]TreeEntry, 0, len(tree))
	for _, e := range tree {
		if e.Path != p {
			out = append(out, e)
		}
	}
	return out
}
