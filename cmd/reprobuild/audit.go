package main

import "github.com/spf13/cobra"

func newAuditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit [-f recipe.hcl]",
		Short: "Report the reproducibility risks of a recipe and its lock",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errNotImplemented("reprobuild audit")
		},
	}
	return cmd
}
