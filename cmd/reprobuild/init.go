package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
)

func newInitCommand() *cobra.Command {
	var (
		from, outDir string
		force        bool
	)
	cmd := &cobra.Command{
		Use:   "init --from environment.yml|explicit.txt|conda-lock.yml [-o DIR]",
		Short: "Write a recipe from an existing environment or lock file",
		Long: "Init converts an environment.yml, an @EXPLICIT file or a conda-lock.yml into reprobuild.hcl.\n" +
			"From an @EXPLICIT file or a conda-lock.yml it also writes reprobuild.lock keeping exactly\n" +
			"those packages (same URLs and hashes). The format is detected from the content.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := builder.Init(builder.InitOptions{From: from, OutDir: outDir, Force: force})
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Summary())
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "environment.yml, @EXPLICIT file or conda-lock.yml to convert (required)")
	cmd.Flags().StringVarP(&outDir, "output", "o", ".", "directory to write reprobuild.hcl (and reprobuild.lock) into")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing recipe or lock")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}
