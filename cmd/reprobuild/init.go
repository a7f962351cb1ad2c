package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
)

func newInitCommand() *cobra.Command {
	var (
		from, outDir, env string
		force             bool
	)
	cmd := &cobra.Command{
		Use:   "init --from environment.yml|explicit.txt|conda-lock.yml|pixi.lock [-o DIR]",
		Short: "Write a recipe from an existing environment or lock file",
		Long: "Init converts an environment.yml, an @EXPLICIT file, a conda-lock.yml or a pixi.lock\n" +
			"(format 6, one --environment) into reprobuild.hcl. From the lock formats it also writes\n" +
			"reprobuild.lock keeping exactly those packages (same URLs and hashes). The format is\n" +
			"detected from the content.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := builder.Init(builder.InitOptions{From: from, OutDir: outDir, Force: force, Environment: env})
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
	cmd.Flags().StringVar(&from, "from", "", "environment.yml, @EXPLICIT file, conda-lock.yml or pixi.lock to convert (required)")
	cmd.Flags().StringVarP(&outDir, "output", "o", ".", "directory to write reprobuild.hcl (and reprobuild.lock) into")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing recipe or lock")
	cmd.Flags().StringVar(&env, "environment", "", "the pixi.lock environment to import (default: default)")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}
