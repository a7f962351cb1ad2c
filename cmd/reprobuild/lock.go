package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/lock"
)

func newLockCommand() *cobra.Command {
	var (
		file   string
		vars   []string
		check  bool
		update []string
		asJSON bool
		cf     channelFlags
	)
	cmd := &cobra.Command{
		Use:   "lock [-f recipe.hcl] [--check] [--update NAME]",
		Short: "Solve the recipe and write reprobuild.lock beside it",
		Long: "lock solves the recipe for every target platform against its channels and writes\n" +
			"reprobuild.lock beside it. Packages of an existing lock are kept where they still fit;\n" +
			"--update NAME frees NAME (and what must move with it). --check solves nothing: it exits 3\n" +
			"with the reasons when the lock is missing or stale (for CI).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vm, err := parseVars(vars)
			if err != nil {
				return err
			}
			if check {
				path, err := builder.Check(builder.CheckOptions{Recipe: file, Vars: vm})
				if err != nil && exitCode(err) != exitStaleLock {
					return err // the recipe or the lock itself is broken
				}
				if asJSON {
					res := map[string]any{"path": path, "up_to_date": err == nil, "reasons": staleReasons(err)}
					if werr := writeJSON(cmd.OutOrStdout(), res); werr != nil {
						return werr
					}
				}
				if err != nil {
					return fmt.Errorf("lock --check: %s is stale: %w", path, err)
				}
				if !asJSON {
					fmt.Fprintf(cmd.OutOrStdout(), "%s is up to date\n", path)
				}
				return nil
			}
			co, err := cf.options(cmd)
			if err != nil {
				return err
			}
			res, err := builder.Lock(cmd.Context(), builder.LockOptions{Recipe: file, Vars: vm, Update: update, Channel: co})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"path": res.Path, "changed": res.Changed, "targets": res.Lock.Targets})
			}
			n := 0
			for _, t := range res.Lock.Targets {
				n += len(t.Packages)
			}
			state := "unchanged"
			if res.Changed {
				state = "written"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%d targets, %d packages)\n", res.Path, state, len(res.Lock.Targets), n)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "reprobuild.hcl", "recipe file")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	cmd.Flags().BoolVar(&check, "check", false, "exit 3 if the lock is missing or stale; write nothing")
	cmd.Flags().StringArrayVar(&update, "update", nil, "free NAME from the existing lock (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cf.register(cmd)
	return cmd
}

// staleReasons lists why a lock is stale, for --json; empty when it is not.
func staleReasons(err error) []string {
	var stale *lock.StaleError
	switch {
	case err == nil:
		return []string{}
	case errors.As(err, &stale):
		return stale.Reasons
	}
	return []string{err.Error()}
}
