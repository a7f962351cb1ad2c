package main

import "github.com/spf13/cobra"

func newVendorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vendor [-f recipe.hcl] DIR",
		Short: "Copy every locked package into DIR as a file:// channel",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errNotImplemented("reprobuild vendor")
		},
	}
	return cmd
}
