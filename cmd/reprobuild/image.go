package main

import "github.com/spf13/cobra"

func newImageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image [-f recipe.hcl] [--output oci:DIR|docker:FILE] [--tag REF] [--push]",
		Short: "Build the image from the lock and print its digest",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errNotImplemented("reprobuild image")
		},
	}
	return cmd
}
