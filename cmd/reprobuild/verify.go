package main

import "github.com/spf13/cobra"

func newVerifyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify [-f recipe.hcl] [REF|oci:DIR]",
		Short: "Rebuild from the lock and compare digests",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errNotImplemented("reprobuild verify")
		},
	}
	return cmd
}
