package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
)

// buildkitOptions are the image command's flags for --engine buildkit.
type buildkitOptions struct {
	recipe, output, addr string
	vars                 map[string]string
	frozen, push         bool
	tags                 []string
	epoch                *time.Time
	channel              builder.ChannelOptions
}

// buildWithBuildKit compiles the lock to LLB and solves it on buildkitd. The reprobuild
// binary itself runs the link steps inside the build, so it must be the static build
// (CGO_ENABLED=0) named "reprobuild".
func buildWithBuildKit(cmd *cobra.Command, o buildkitOptions) (*builder.ImageResult, error) {
	ctx := cmd.Context()
	addr := o.addr
	if addr == "" {
		addr = os.Getenv("BUILDKIT_HOST")
	}
	if addr == "" {
		return nil, fmt.Errorf("--engine buildkit needs a daemon: give --buildkit-addr unix:///run/buildkit/buildkitd.sock (or tcp://...), or set BUILDKIT_HOST")
	}
	r, l, locked, err := builder.PrepareLock(ctx, o.recipe, o.vars, o.frozen, o.channel)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	linkerDir, err := builder.LinkerDir(exe)
	if err != nil {
		return nil, fmt.Errorf("%w (build it with CGO_ENABLED=0 go build -o reprobuild ./cmd/reprobuild)", err)
	}
	src, _ := os.ReadFile(r.Filename)
	epoch := builder.Epoch(l, o.epoch)
	bo := builder.BuildKitOptions{
		Addr: addr, Lock: builder.ResolvedLock(r, l), Recipe: r, RecipeSource: src, LinkerDir: linkerDir,
		SourceDateEpoch: epoch.Unix(), Progress: cmd.ErrOrStderr(), ProgressMode: "auto",
	}
	var ociTar, layoutDir string
	if o.output != "" {
		kind, dest, _ := strings.Cut(o.output, ":")
		if kind != "oci" || dest == "" {
			return nil, fmt.Errorf("--engine buildkit writes --output oci:DIR or pushes (--push); %q is not supported", o.output)
		}
		layoutDir = dest
		tmp, err := os.MkdirTemp("", "reprobuild-buildkit-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		ociTar = filepath.Join(tmp, "image.tar")
		bo.OCITar = ociTar
	}
	if o.push {
		bo.Push = o.tags
		if len(bo.Push) == 0 {
			bo.Push = r.Image.Tags
		}
		if len(bo.Push) == 0 {
			return nil, fmt.Errorf("--push needs --tag REF or image.tags in %s", r.Filename)
		}
		for _, t := range bo.Push {
			if strings.HasPrefix(t, "localhost") || strings.HasPrefix(t, "127.0.0.1") {
				bo.Insecure = true
			}
		}
	}
	res, err := builder.BuildKit(ctx, bo)
	if err != nil {
		return nil, err
	}
	out := &builder.ImageResult{Digest: res.Digest, LockPath: builder.LockPath(r), Locked: locked}
	for _, p := range res.Platforms {
		out.Platforms = append(out.Platforms, builder.PlatformImage{Platform: p})
	}
	if ociTar != "" {
		if err := untarLayout(ociTar, layoutDir); err != nil {
			return nil, err
		}
		out.Outputs = append(out.Outputs, o.output)
	}
	for _, t := range bo.Push {
		out.Pushed = append(out.Pushed, t+"@"+res.Digest)
	}
	return out, nil
}

// untarLayout unpacks BuildKit's OCI archive into dir as an OCI layout, atomically: a
// half-written layout is never left behind.
func untarLayout(tarPath, dir string) error {
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return fmt.Errorf("--output oci:%s: the directory exists and is not an OCI layout; refusing to replace it", dir)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading BuildKit's OCI archive: %w", err)
		}
		name := path.Clean("/" + h.Name)
		if name == "/" {
			continue
		}
		p := filepath.Join(tmp, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
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
			return fmt.Errorf("BuildKit's OCI archive has an unexpected entry %s", h.Name)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}
