package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/activate"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/plan"
)

// activationScripts finds the packages' activation scripts in their layers. A script
// that is not a regular file (a link) is returned with a placeholder that makes it
// inexact. What a layer holds is remembered in the layer cache (by layer digest), so a
// rebuild from cached layers does not decompress them again.
func activationScripts(layers []v1.Layer, prefix string, cache layerCache) ([]activate.Script, error) {
	var out []activate.Script
	for i, l := range layers {
		memo := cache.activationPath(l, prefix)
		if found, ok := readActivationMemo(memo); ok {
			out = append(out, found...)
			continue
		}
		var found []activate.Script
		links := map[string][]int{} // hardlink target -> scripts that are links to it
		err := eachTarEntry(l, func(h *tar.Header, r io.Reader) (bool, error) {
			p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			if !activate.IsScript(p, prefix) {
				return false, nil
			}
			s := activate.Script{Path: p}
			switch h.Typeflag {
			case tar.TypeReg:
				b, err := io.ReadAll(io.LimitReader(r, activate.MaxScriptSize))
				if err != nil {
					return false, err
				}
				s.Data = b
			case tar.TypeLink:
				// A hard link is a regular file in the image (and in BuildKit's tree):
				// its content is the link target's, read below.
				t := strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
				links[t] = append(links[t], len(found))
			default:
				s = activate.NotRegular(p, h.Linkname)
			}
			found = append(found, s)
			return false, nil
		})
		if err == nil && len(links) > 0 {
			err = eachTarEntry(l, func(h *tar.Header, r io.Reader) (bool, error) {
				idx, ok := links[strings.TrimPrefix(path.Clean("/"+h.Name), "/")]
				if !ok || h.Typeflag != tar.TypeReg {
					return false, nil
				}
				b, err := io.ReadAll(io.LimitReader(r, activate.MaxScriptSize))
				for _, j := range idx {
					found[j].Data = b
				}
				return false, err
			})
		}
		if err != nil {
			return nil, fmt.Errorf("reading layer %d for activation scripts: %w", i+1, err)
		}
		writeActivationMemo(memo, found)
		out = append(out, found...)
	}
	return out, nil
}

// activationMemo is what one layer holds of activation scripts, kept beside the layer
// cache. Binary marks it as this reprobuild's for `cache prune`.
type activationMemo struct {
	Binary  string            `json:"binary"`
	Scripts []activate.Script `json:"scripts"`
}

// activationPath is the memo file of a layer for prefix, or "" without a cache.
func (c layerCache) activationPath(l v1.Layer, prefix string) string {
	if c.dir == "" || binaryHash() == "" {
		return ""
	}
	d, err := l.Digest()
	if err != nil {
		return ""
	}
	return filepath.Join(c.dir, "activation", hexSHA256([]byte(d.String()+"\x00"+prefix))+".json")
}

func readActivationMemo(p string) ([]activate.Script, bool) {
	if p == "" {
		return nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	var m activationMemo
	if json.Unmarshal(b, &m) != nil || m.Binary != binaryHash() {
		return nil, false
	}
	return m.Scripts, true
}

// writeActivationMemo stores a layer's scripts; failing to is only a later rescan.
func writeActivationMemo(p string, scripts []activate.Script) {
	if p == "" {
		return
	}
	b, err := json.Marshal(activationMemo{Binary: binaryHash(), Scripts: scripts})
	if err != nil {
		return
	}
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		_ = writeAtomic(p, bytes.NewReader(b))
	}
}

// eachTarEntry calls f for every entry of a layer until f says stop.
func eachTarEntry(l v1.Layer, f func(*tar.Header, io.Reader) (bool, error)) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return eachTar(rc, f)
}

// eachTar calls f for every entry of the tar stream r until f says stop.
func eachTar(r io.Reader, f func(*tar.Header, io.Reader) (bool, error)) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		stop, err := f(h, tr)
		if err != nil || stop {
			return err
		}
	}
}

// activationBase is what the plan's activation decision needs of a base image (nil:
// scratch).
func activationBase(base v1.Image) (plan.ActivationBase, error) {
	if base == nil {
		return plan.ActivationBase{}, nil
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return plan.ActivationBase{}, fmt.Errorf("reading the base config: %w", err)
	}
	return plan.ActivationBase{Config: cf, HasShell: func() (bool, error) { return hasShell(base), nil }}, nil
}

// hasShell reports whether an image has /bin/sh (or /usr/bin/sh, for a merged /usr).
func hasShell(img v1.Image) bool {
	layers, err := img.Layers()
	if err != nil {
		return false
	}
	for _, l := range layers {
		found := false
		_ = eachTarEntry(l, func(h *tar.Header, _ io.Reader) (bool, error) {
			p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			if p == "bin/sh" || p == "usr/bin/sh" {
				found = true
			}
			return found, nil
		})
		if found {
			return true
		}
	}
	return false
}

// packageActivationScripts are the activation scripts of a plan's packages, linked as
// the build links them, read from the archives through the verified cache: what an
// engine finds in the tree it builds, for a consumer that builds nothing (`llb`).
func packageActivationScripts(ctx context.Context, client *ChannelClient, p *plan.Plan) ([]activate.Script, error) {
	var recs []conda.PackageRecord
	for _, g := range p.Groups {
		recs = append(recs, g.Packages...)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	paths, err := client.Fetch(ctx, downloadsFor(p.Recipe, recs))
	if err != nil {
		return nil, err
	}
	var out []activate.Script
	for i, rec := range recs {
		tree, err := install.Link(ctx, install.Package{Record: rec, Archive: paths[i]}, install.Options{Prefix: p.Prefix, PythonVersion: p.Python})
		if err != nil {
			return nil, fmt.Errorf("reading %s for activation scripts: %w", rec.Fn, err)
		}
		byPath := map[string]install.Entry{}
		for _, e := range tree.Entries {
			byPath[e.Path] = e
		}
		for _, e := range tree.Entries {
			if !activate.IsScript(e.Path, p.Prefix) {
				continue
			}
			f := e
			// A hard link is a regular file in the image: its chain's file's content.
			for n := 0; f.Type == install.TypeHardlink && n < len(tree.Entries); n++ {
				f = byPath[f.Linkname]
			}
			if f.Type != install.TypeFile {
				out = append(out, activate.NotRegular(e.Path, e.Linkname))
				continue
			}
			data := f.Data
			if len(data) > activate.MaxScriptSize {
				data = data[:activate.MaxScriptSize]
			}
			out = append(out, activate.Script{Path: e.Path, Data: data})
		}
	}
	return out, nil
}
