package main

import "github.com/spf13/cobra"

func newExportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export --format explicit|conda-lock|environment",
		Short: "Export the lock in another format",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errNotImplemented("reprobuild export")
		},
	}
	return cmd
}
