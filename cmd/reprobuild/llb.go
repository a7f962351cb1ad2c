package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/frontend"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

type llbOptions struct {
	recipe      string
	platform    string
	linkerImage string
	configOut   string
	vars        []string
}

func newLLBCommand() *cobra.Command {
	var o llbOptions
	cmd := &cobra.Command{
		Use:   "llb [-f recipe.hcl] [--platform P]",
		Short: "Write the BuildKit LLB definition of the recipe to stdout",
		Long: `Write the BuildKit LLB definition of the locked recipe to stdout, in the form
"buildctl build" reads from stdin. The local contexts the build needs are listed on
stderr. Pass the image config (--config-out) as the exporter's containerimage.config
attribute to get the same image as "reprobuild image --engine buildkit".`,
		Example: `  reprobuild llb --config-out cfg.json | buildctl build \
    --local reprobuild-bin=$(dirname $(command -v reprobuild)) \
    --output type=oci,dest=image.tar,source-date-epoch=0,rewrite-timestamp=true`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLLB(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.recipe, "file", "f", recipes.DefaultFilename, "recipe file; its lock is read from "+lock.Filename+" beside it")
	f.StringVar(&o.platform, "platform", "", "target to compile, as a conda subdir (linux-64) or OCI platform (linux/amd64); default: the lock's only target")
	f.StringVar(&o.linkerImage, "linker-image", "", "image (REF@sha256:...) holding a static reprobuild at /usr/local/bin/reprobuild; default: local context "+frontend.DefaultLinkerLocal)
	f.StringVar(&o.configOut, "config-out", "", "also write the image config JSON to this file")
	f.StringArrayVar(&o.vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	return cmd
}

func runLLB(cmd *cobra.Command, o llbOptions) error {
	vars, err := parseVars(o.vars)
	if err != nil {
		return err
	}
	r, src, l, err := loadRecipeAndLock(o.recipe, vars)
	if err != nil {
		return err
	}
	subdir, err := platformFlag(o.platform)
	if err != nil {
		return err
	}
	fo := frontend.Options{Platform: subdir, RecipeSource: src}
	if o.linkerImage != "" {
		fo.Linker = frontend.Linker{Image: o.linkerImage}
	} else {
		// The local linker is this binary (or one like it), so its steps run on this
		// machine's architecture, whatever the target.
		fo.LinkPlatform = &ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH}
	}
	b, err := frontend.Compile(l, r, fo)
	if err != nil {
		return fmt.Errorf("%s: %w", o.recipe, err)
	}
	def, err := b.Marshal(cmd.Context())
	if err != nil {
		return err
	}
	if o.configOut != "" {
		if !b.ScratchBase {
			return fmt.Errorf("--config-out: a config over base %s needs the base's config; use `reprobuild image --engine buildkit`", b.BaseRef)
		}
		cfg, err := frontend.ImageConfig(nil, frontend.ImageSettings(r, l, b, "", time.Unix(0, 0).UTC()), b)
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.configOut, cfg, 0o644); err != nil {
			return fmt.Errorf("writing image config: %w", err)
		}
	}
	for _, loc := range b.Locals {
		dir := loc.Dir
		if dir == "" {
			dir = "DIR-WITH-STATIC-reprobuild"
			if exe, err := os.Executable(); err == nil {
				if d, err := builder.LinkerDir(exe); err == nil {
					dir = d
				}
			}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "llb: this build needs --local %s=%s\n", loc.Name, dir)
	}
	return frontend.WriteDefinition(def, cmd.OutOrStdout())
}

// platformFlag accepts a conda subdir or an OCI platform and returns the subdir.
func platformFlag(s string) (string, error) {
	if s == "" || !strings.Contains(s, "/") {
		return s, nil
	}
	p, err := platforms.Parse(s)
	if err != nil {
		return "", fmt.Errorf("--platform %q: %w", s, err)
	}
	return frontend.CondaSubdir(p)
}

// loadRecipeAndLock reads the recipe and its lock, and refuses a stale lock: the graph
// must build exactly what the recipe says.
func loadRecipeAndLock(path string, vars map[string]string) (*recipes.Recipe, []byte, *lock.Lock, error) {
	r, err := builder.LoadRecipe(path, vars)
	if err != nil {
		return nil, nil, nil, err
	}
	src, err := os.ReadFile(r.Filename)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading recipe: %w", err)
	}
	l, err := builder.LoadLock(r)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := builder.CheckLock(r, l); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", builder.LockPath(r), err)
	}
	return r, src, l, nil
}
