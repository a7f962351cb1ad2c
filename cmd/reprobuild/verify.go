package main

import (
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
)

func newVerifyCommand() *cobra.Command {
	var (
		file    string
		vars    []string
		asJSON  bool
		noCache bool
		layers  int
		cf      channelFlags
	)
	cmd := &cobra.Command{
		Use:   "verify [-f recipe.hcl] [--no-cache] [REF|oci:DIR]",
		Short: "Rebuild from the lock and compare digests",
		Long: "verify rebuilds the image from reprobuild.lock with the embedded engine (never\n" +
			"relocking) and compares its digest with REF: a registry reference, oci:DIR[:NAME],\n" +
			"oci-archive:FILE or docker:FILE (a docker archive keeps no manifest: image IDs are compared).\n" +
			"On a mismatch it names the first differing layer and file and exits 5. --no-cache\n" +
			"rebuilds every layer from the package archives instead of the layer cache. Without\n" +
			"REF it builds from the archives and again from the cache, and compares the two.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vm, co, epoch, err := buildInputs(cmd, vars, &cf)
			if err != nil {
				return err
			}
			o := builder.VerifyOptions{Recipe: file, Vars: vm, Epoch: epoch, LayerBudget: layers, Channel: co, Keychain: authn.DefaultKeychain, NoCache: noCache}
			if len(args) == 1 {
				o.Image = args[0]
			}
			res, err := builder.Verify(cmd.Context(), o)
			var mm *builder.MismatchError
			if err != nil && !errors.As(err, &mm) {
				return err
			}
			if asJSON {
				if werr := writeJSON(cmd.OutOrStdout(), res); werr != nil {
					return werr
				}
			} else if res.Match {
				fmt.Fprintf(cmd.OutOrStdout(), "verified: rebuilt %s matches %s\n", res.Rebuilt, res.Expected)
			}
			if mm != nil {
				return &codeError{code: exitMismatch, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "reprobuild.hcl", "recipe file")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().IntVar(&layers, "layers", builder.DefaultLayerBudget, "the --layers the image was built with")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "rebuild every layer from the package archives, not from the layer cache (always so without REF)")
	cf.register(cmd)
	return cmd
}
