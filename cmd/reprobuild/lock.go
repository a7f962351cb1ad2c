package main

import "github.com/spf13/cobra"

func newLockCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lock [-f recipe.hcl] [--check]",
		Short: "Solve the recipe and write reprobuild.lock beside it",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errNotImplemented("reprobuild lock")
		},
	}
	return cmd
}
