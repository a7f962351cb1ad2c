package main

import "github.com/spf13/cobra"

func newInspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect REF|oci:DIR",
		Short: "Print the runtime record of an image",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errNotImplemented("reprobuild inspect")
		},
	}
	return cmd
}
