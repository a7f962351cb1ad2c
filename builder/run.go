package builder

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/hcl/v2"

	"github.com/reprobuild/reprobuild/internal/runc"
	"github.com/reprobuild/reprobuild/recipes"
)

// RunOptions configure Run.
type RunOptions struct {
	// Image configures the build (or the reuse of cached layers) of the image to run;
	// its Output and Push are ignored.
	Image ImageOptions
	// Args replace the image's cmd.
	Args []string
	// Entrypoint replaces the image's entrypoint.
	Entrypoint []string
	// Data binds a host path for a mount data block, by name, over the recipe's source.
	Data map[string]string
	// Runc is the runc binary; GPUHook is nvidia-container-runtime-hook, or "" when it
	// is not installed (a GPU recipe then fails before anything runs).
	Runc    string
	GPUHook string
	// Architecture picks the image of a multi-platform recipe (e.g. "amd64").
	Architecture string
	// TempDir holds the bundle while the container runs; it is removed afterwards.
	TempDir string
	// ID names the container (unique on this machine while it runs).
	ID string
	// Rootless runs as an unprivileged user mapped to HostUID/HostGID.
	Rootless         bool
	HostUID, HostGID int
	Stdin            io.Reader
	Stdout, Stderr   io.Writer
}

// Run builds the recipe's image (reusing cached layers, so an unchanged lock does no
// work), unpacks it into a runtime bundle and runs it with runc: the image's entrypoint,
// cmd, env, workdir and user, mount data bound at their paths, output streamed. It
// returns the container's exit status. Mount sources and the GPU hook are checked before
// anything is built.
func Run(ctx context.Context, o RunOptions) (int, error) {
	r, err := LoadRecipe(o.Image.Recipe, o.Image.Vars)
	if err != nil {
		return 0, err
	}
	mounts, err := RunMounts(r, o.Data)
	if err != nil {
		return 0, err
	}
	gpu := r.Hardware.GPUs > 0 || r.Hardware.Cuda != ""
	if gpu && o.GPUHook == "" {
		return 0, fmt.Errorf("%s asks for GPUs (hardware.gpus/cuda), but nvidia-container-runtime-hook is not installed: install the NVIDIA container toolkit (nvidia-container-toolkit) and run again", r.Filename)
	}
	if o.Runc == "" {
		return 0, fmt.Errorf("runc is not installed: install it (Debian: apt-get install runc) and run again")
	}
	img, _, err := BuildForRun(ctx, o.Image, o.Architecture)
	if err != nil {
		return 0, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return 0, err
	}
	bundle, err := os.MkdirTemp(o.TempDir, "reprobuild-run-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(bundle)
	rootfs := filepath.Join(bundle, "rootfs")
	if _, err := runc.Unpack(img, rootfs, runc.UnpackOptions{Owners: !o.Rootless}); err != nil {
		return 0, err
	}
	so := runc.SpecOptions{Args: o.Args, Entrypoint: o.Entrypoint, Mounts: mounts, Rootless: o.Rootless, HostUID: o.HostUID, HostGID: o.HostGID}
	if gpu {
		so.GPUHook = o.GPUHook
	}
	spec, err := runc.Spec(cf.Config, "rootfs", rootfs, so)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", r.Filename, err)
	}
	if err := runc.WriteBundle(bundle, spec); err != nil {
		return 0, err
	}
	return runc.Run(ctx, bundle, runc.RunOptions{
		Runc: o.Runc, ID: o.ID, StateDir: filepath.Join(bundle, "state"),
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
	})
}

// BuildForRun builds (or reuses from the layer cache) the recipe's image for one
// architecture, writing nothing, and returns it with the build's result.
func BuildForRun(ctx context.Context, o ImageOptions, arch string) (v1.Image, *ImageResult, error) {
	r, l, _, err := prepareLockFor(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	client, err := NewChannelClient(o.Channel)
	if err != nil {
		return nil, nil, err
	}
	bo := BuildOptions{Epoch: o.Epoch, LayerBudget: o.LayerBudget, Keychain: o.Keychain}
	if o.Channel.CacheDir != "" {
		bo.LayerCacheDir = filepath.Join(o.Channel.CacheDir, "layers")
	}
	res, err := BuildFromLock(ctx, r, l, client, bo)
	if err != nil {
		return nil, nil, err
	}
	if res.Image != nil {
		return res.Image, res, nil
	}
	im, err := res.Index.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		have = append(have, d.Platform.String())
		if d.Platform.Architecture == arch {
			img, err := res.Index.Image(d.Digest)
			return img, res, err
		}
	}
	return nil, nil, fmt.Errorf("%s has no image for %s (it builds %s): add its platform to platform.targets", r.Filename, arch, strings.Join(have, ", "))
}

// RunMounts resolves the host path of every mount data block: the override, else the
// recipe's host: source (relative to the recipe). A mount with neither, a cluster source
// (pvc:, nfs:) or a missing host path is a *MountSourceError.
func RunMounts(r *recipes.Recipe, overrides map[string]string) ([]runc.Mount, error) {
	known := map[string]bool{}
	var out []runc.Mount
	for _, d := range r.Data {
		if d.Mode != "mount" {
			continue
		}
		known[d.Name] = true
		src, ok := overrides[d.Name]
		if !ok {
			if d.Source == "" {
				return nil, &MountSourceError{Name: d.Name, At: hclAt(d.Range), Reason: "a mount without a source (add source = \"host:PATH\" to it)"}
			}
			ds, why := recipes.ParseDataSource(d.Source)
			if why != "" {
				return nil, &MountSourceError{Name: d.Name, At: hclAt(d.SourceRange), Reason: why}
			}
			if ds.Kind != "host" {
				return nil, &MountSourceError{Name: d.Name, At: hclAt(d.SourceRange), Reason: "source " + d.Source + " is a cluster volume that cannot be bound here"}
			}
			src = ds.Path
			if !filepath.IsAbs(src) {
				src = filepath.Join(r.Dir, src)
			}
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, &MountSourceError{Name: d.Name, At: hclAt(d.Range), Reason: "mount source " + abs + " does not exist (create it)"}
		}
		out = append(out, runc.Mount{Source: abs, Destination: d.Path})
	}
	var unknown []string
	for n := range overrides {
		if !known[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, &UnknownDataError{Name: unknown[0], Recipe: r.Filename}
	}
	return out, nil
}

// hclAt is FILE:LINE of a recipe range.
func hclAt(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }
