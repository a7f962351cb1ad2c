package main

import "github.com/spf13/cobra"

func newInitCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init --from environment.yml",
		Short: "Write a recipe from an existing environment or lock file",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errNotImplemented("reprobuild init")
		},
	}
	return cmd
}
