package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
)

func newVendorCommand() *cobra.Command {
	var (
		file      string
		vars      []string
		platforms []string
		cf        channelFlags
	)
	cmd := &cobra.Command{
		Use:   "vendor [-f recipe.hcl] DIR",
		Short: "Copy every locked package into DIR as a file:// channel",
		Long: "Vendor fetches every package of the recipe's reprobuild.lock (verified by sha256, through\n" +
			"the cache) and writes DIR/<subdir>/<file> with a repodata.json per subdir, so DIR is a\n" +
			"conda channel: use it as a mirror or channel to build with no network.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, l, err := loadLocked(file, vars)
			if err != nil {
				return err
			}
			co, err := cf.options(cmd)
			if err != nil {
				return err
			}
			c, err := builder.NewChannelClient(co)
			if err != nil {
				return err
			}
			ic, err := builder.NewIndexClient(co)
			if err != nil {
				return err
			}
			res, err := builder.Vendor(cmd.Context(), r, l, args[0], builder.VendorOptions{Client: c, Platforms: platforms, PyPI: ic})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "vendored %d packages into %s\n", res.Packages, res.Dir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "reprobuild.hcl", "recipe file")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	cmd.Flags().StringSliceVar(&platforms, "platform", nil, "vendor only these targets (default: all)")
	cf.register(cmd)
	return cmd
}
