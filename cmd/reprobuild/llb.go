package main

import "github.com/spf13/cobra"

func newLLBCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "llb [-f recipe.hcl] [--platform P]",
		Short: "Write the BuildKit LLB definition of the recipe to stdout",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errNotImplemented("reprobuild llb")
		},
	}
	return cmd
}
