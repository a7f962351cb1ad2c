package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/lock"
)

func newShowCommand() *cobra.Command {
	var (
		file, platform string
		vars           []string
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "show [-f recipe.hcl] [--platform P] [--json]",
		Short: "Print the lock's packages without solving",
		Long: "show reads reprobuild.lock beside the recipe and prints each target's packages, or\n" +
			"with --json the whole lock as JSON (for jq). It solves nothing, reaches no channel\n" +
			"and does not check whether the lock is stale (see lock --check).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, l, err := loadLocked(file, vars)
			if err != nil {
				return err
			}
			if platform != "" {
				t := l.Target(platform)
				if t == nil {
					var have []string
					for _, t := range l.Targets {
						have = append(have, t.Platform)
					}
					return fmt.Errorf("--platform %s: %s has no such target (it has %v)", platform, builder.LockPath(r), have)
				}
				cp := *l
				cp.Targets = []lock.Target{*t}
				l = &cp
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, l)
			}
			for i, t := range l.Targets {
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "%s (%d packages)\n", t.Platform, len(t.Packages))
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				for _, p := range t.Packages {
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.Name, p.Version, p.Build, p.Channel)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "reprobuild.hcl", "recipe file")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	cmd.Flags().StringVar(&platform, "platform", "", "only this target (a conda subdir such as linux-64)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the lock as JSON")
	return cmd
}
