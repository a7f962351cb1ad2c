package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
)

func newImageCommand() *cobra.Command {
	var (
		file, output, engine, buildkitAddr string
		vars, tags, platforms              []string
		push, locked, frozen, asJSON       bool
		layers                             int
		maxPackage                         int64
		cf                                 channelFlags
	)
	cmd := &cobra.Command{
		Use:   "image [-f recipe.hcl] [--output oci:DIR|docker:FILE] [--tag REF] [--push] [--engine embedded|buildkit]",
		Short: "Build the image from the lock and print its digest",
		Long: "image builds the recipe's image from reprobuild.lock and prints its digest. A missing or\n" +
			"stale lock is relocked first; with --locked it is an error instead (exit 3), and --frozen\n" +
			"uses the lock as it is without checking it (as pixi, uv and cargo mean the two flags).\n" +
			"The same lock gives the same digest on any machine: file times and the image's created time come from the lock\n" +
			"(the newest package timestamp) unless SOURCE_DATE_EPOCH is set.\n\n" +
			"The embedded engine needs no daemon and works offline with file:// channels; the\n" +
			"buildkit engine compiles the lock to LLB and solves it on buildkitd (--buildkit-addr,\n" +
			"default $BUILDKIT_HOST).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLockFlags(locked, frozen); err != nil {
				return err
			}
			vm, co, epoch, err := buildInputs(cmd, vars, &cf)
			if err != nil {
				return err
			}
			if output == "" && !push {
				return fmt.Errorf("nothing to do: give --output oci:DIR, --output docker:FILE or --push")
			}
			o := builder.ImageOptions{
				Recipe: file, Vars: vm, Locked: locked, Frozen: frozen, Platforms: platforms, Output: output, Push: push, Tags: tags,
				Epoch: epoch, LayerBudget: layers, Channel: co, Keychain: authn.DefaultKeychain,
				MaxPackageSize: maxPackage,
			}
			if maxPackage < 0 {
				return fmt.Errorf("--max-package-size %d: want a positive number of bytes (0: the default 8 GiB)", maxPackage)
			}
			var res *builder.ImageResult
			switch engine {
			case "embedded", "":
				res, err = builder.Image(cmd.Context(), o)
			case "buildkit":
				if kind, _, _ := strings.Cut(output, ":"); kind == "vm" || kind == "kubevirt" {
					return fmt.Errorf("--output %s: with --engine buildkit is not supported yet: use --engine embedded", kind)
				}
				res, err = buildWithBuildKit(cmd, o, buildkitAddr)
			default:
				return fmt.Errorf("--engine %q: want embedded or buildkit", engine)
			}
			if err != nil {
				return imageFlagError(err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			if quiet(cmd) {
				fmt.Fprintln(cmd.OutOrStdout(), res.Digest)
				return nil
			}
			if res.Locked {
				fmt.Fprintf(cmd.ErrOrStderr(), "locked %s\n", res.LockPath)
			}
			for _, c := range res.Clobbers {
				fmt.Fprintf(cmd.ErrOrStderr(), "clobbered: %s\n", c)
			}
			for _, p := range res.Platforms {
				if len(res.Platforms) > 1 {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s %s\n", p.Platform, p.Digest)
				}
			}
			if len(res.Outputs)+len(res.Pushed) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", strings.Join(append(res.Outputs, res.Pushed...), ", "))
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Digest)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "reprobuild.hcl", "recipe file")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "oci:DIR (OCI layout), docker:FILE (docker archive), vm:PATH.qcow2|vm:PATH.raw (bootable VM disk), kubevirt:DIR (VM disk as a KubeVirt containerDisk) or sif:FILE (SIF file for Apptainer)")
	cmd.Flags().StringArrayVarP(&tags, "tag", "t", nil, "image reference to tag/push (repeatable; default image.tags)")
	cmd.Flags().BoolVar(&push, "push", false, "push to the tags")
	cmd.Flags().BoolVar(&locked, "locked", false, "refuse to lock: fail (exit 3) if reprobuild.lock is missing or stale")
	cmd.Flags().BoolVar(&frozen, "frozen", false, "use reprobuild.lock as it is, without checking it against the recipe")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().IntVar(&layers, "layers", builder.DefaultLayerBudget, "most layers the environment is split into")
	cmd.Flags().StringVar(&engine, "engine", "embedded", "embedded or buildkit")
	cmd.Flags().Int64Var(&maxPackage, "max-package-size", 0, "largest unpacked size of one package in bytes, a guard against archive bombs (0: 8 GiB)")
	cmd.Flags().StringSliceVar(&platforms, "platform", nil, "build only these targets (linux-64 or linux/amd64; repeatable); each image is the one a full build gives")
	cmd.Flags().StringVar(&buildkitAddr, "buildkit-addr", "", "buildkitd address for --engine buildkit (default $BUILDKIT_HOST)")
	cf.register(cmd)
	return cmd
}

// imageFlagError says in the image command's flags what the builder reports in its own
// terms.
func imageFlagError(err error) error {
	var frozen *builder.FrozenLockError
	var out *builder.OutputError
	var tags *builder.NoTagsError
	switch {
	case errors.As(err, &frozen):
		return fmt.Errorf("--locked: %w; run reprobuild lock -f %s", frozen.Err, frozen.Recipe)
	case errors.As(err, &out):
		if out.Err != nil {
			return fmt.Errorf("--output %q: %s: %w", out.Output, out.Reason, out.Err)
		}
		return fmt.Errorf("--output %q: %s", out.Output, out.Reason)
	case errors.As(err, &tags):
		return fmt.Errorf("--push needs --tag REF or image.tags in %s", tags.Recipe)
	case errors.Is(err, builder.ErrNoBuildKitAddr):
		return fmt.Errorf("%w: pass --buildkit-addr or set BUILDKIT_HOST", err)
	}
	return err
}

// checkLockFlags refuses --locked (fail on a stale lock) together with --frozen (use the
// lock unchecked), for every command that builds from the lock.
func checkLockFlags(locked, frozen bool) error {
	if locked && frozen {
		return usageError(fmt.Errorf("--locked (fail on a stale lock) and --frozen (use the lock unchecked) exclude each other"))
	}
	return nil
}
