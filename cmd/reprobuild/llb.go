package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/authn"
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
	attrsOut    string
	layers      int
	vars        []string
	cf          channelFlags
}

func newLLBCommand() *cobra.Command {
	var o llbOptions
	cmd := &cobra.Command{
		Use:   "llb [-f recipe.hcl] [--platform P]",
		Short: "Write the BuildKit LLB definition of the recipe to stdout",
		Long: `Write the BuildKit LLB definition of the locked recipe to stdout, in the form
"buildctl build" reads from stdin: the same graph "reprobuild image --engine buildkit"
solves (the same plan: layers, runtime record and SBOMs, epoch from the lock or
SOURCE_DATE_EPOCH). The local contexts the build needs are listed on stderr. Pass the
image config (--config-out) as the exporter's containerimage.config attribute and the
attributes of --attrs-out (source-date-epoch, rewrite-timestamp, annotations) to get the
same image as "reprobuild image --engine buildkit". The config applies the packages'
activation scripts (etc/conda/activate.d), which are read from the package archives,
fetched into the cache like "image" does (--offline: only the cache and file:// channels).`,
		Example: `  reprobuild llb --config-out cfg.json --attrs-out attrs.json | buildctl build \
    --local reprobuild-bin=$(dirname $(command -v reprobuild)) \
    --output type=oci,dest=image.tar,source-date-epoch=N,rewrite-timestamp=true`,
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
	f.StringVar(&o.attrsOut, "attrs-out", "", "also write the exporter attributes (JSON object) to this file")
	f.IntVar(&o.layers, "layers", builder.DefaultLayerBudget, "most layers the environment is split into")
	f.StringArrayVar(&o.vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	o.cf.register(cmd) // the packages' activation scripts are read from their archives
	return cmd
}

func runLLB(cmd *cobra.Command, o llbOptions) error {
	vars, err := parseVars(o.vars)
	if err != nil {
		return err
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	r, l, err := loadRecipeAndLock(o.recipe, vars)
	if err != nil {
		return err
	}
	subdir, err := platformFlag(o.platform)
	if err != nil {
		return err
	}
	lo := builder.LLBOptions{Lock: l, Recipe: r, Platform: subdir, LayerBudget: o.layers, Epoch: epoch, BaseKeychain: authn.DefaultKeychain}
	if o.linkerImage != "" {
		lo.Linker = frontend.Linker{Image: o.linkerImage}
	}
	co, err := o.cf.options(cmd)
	if err != nil {
		return err
	}
	if lo.Channel, err = builder.NewChannelClient(co); err != nil {
		return err
	}
	res, err := builder.LLB(cmd.Context(), lo)
	var choice *builder.TargetChoiceError
	if errors.As(err, &choice) {
		return fmt.Errorf("%s: the lock has %d targets (%s): choose one with --platform", o.recipe, len(choice.Targets), strings.Join(choice.Targets, ", "))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", o.recipe, err)
	}
	if o.configOut != "" {
		if err := os.WriteFile(o.configOut, res.Config, 0o644); err != nil {
			return fmt.Errorf("writing image config: %w", err)
		}
	}
	if o.attrsOut != "" {
		b, err := json.MarshalIndent(res.ExporterAttrs, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.attrsOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing exporter attributes: %w", err)
		}
	}
	for _, loc := range res.Locals {
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
	for _, st := range res.OCIStores {
		fmt.Fprintf(cmd.ErrOrStderr(), "llb: this build needs --oci-layout %s=%s\n", st.ID, st.Dir)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "llb: export with source-date-epoch=%s,rewrite-timestamp=true\n", res.ExporterAttrs["source-date-epoch"])
	_, err = cmd.OutOrStdout().Write(res.Definition)
	return err
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
func loadRecipeAndLock(path string, vars map[string]string) (*recipes.Recipe, *lock.Lock, error) {
	r, err := builder.LoadRecipe(path, vars)
	if err != nil {
		return nil, nil, err
	}
	l, err := builder.LoadLock(r)
	if err != nil {
		return nil, nil, err
	}
	if err := builder.CheckLock(r, l); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", builder.LockPath(r), err)
	}
	return r, l, nil
}
