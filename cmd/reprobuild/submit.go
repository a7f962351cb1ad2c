package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/internal/catalog"
	"github.com/reprobuild/reprobuild/recipes"
)

// catalogToken is --token, else $REPROBUILD_TOKEN.
func catalogToken(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("REPROBUILD_TOKEN")
}

func newSubmitCommand() *cobra.Command {
	var (
		file, to, token string
		wait, asJSON    bool
		timeout         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "submit [-f recipe.hcl] --to URL/NAMESPACE/ENV [--wait]",
		Short: "Submit a recipe to a catalogue as the next version of an environment",
		Long: "submit sends the recipe to a `reprobuild serve` catalogue, which locks and builds it as the\n" +
			"next version of NAMESPACE/ENV, and prints the version. With --wait it follows the build\n" +
			"and exits non-zero when it fails. The token is --token or $REPROBUILD_TOKEN (an editor or\n" +
			"admin token of the namespace). A recipe with errors is refused with the same diagnostics\n" +
			"as `reprobuild lock` prints.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return fmt.Errorf("submit needs --to URL/NAMESPACE/ENV")
			}
			t, err := catalog.ParseTarget(to, false)
			if err != nil {
				return fmt.Errorf("--to %w", err)
			}
			if fi, err := os.Stat(file); err == nil && fi.IsDir() {
				file = filepath.Join(file, recipes.DefaultFilename)
			}
			src, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("reading recipe: %w", err)
			}
			c := &catalog.Client{Token: catalogToken(token)}
			ctx := cmd.Context()
			v, err := c.Submit(ctx, t, filepath.Base(file), src)
			var ae *catalog.APIError
			if errors.As(err, &ae) && ae.Recipe != nil {
				if ae.Recipe.Rendered != "" {
					fmt.Fprint(cmd.ErrOrStderr(), ae.Recipe.Rendered)
				} else {
					for _, d := range ae.Recipe.Diagnostics {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n  on %s line %d: %s\n", d.Severity, d.Summary, file, d.Line, d.Detail)
					}
				}
				return errors.New(ae.Recipe.Message)
			}
			if err != nil {
				return err
			}
			where := fmt.Sprintf("%s/%s/%s@%d", t.Base, v.Namespace, v.Environment, v.Number)
			fmt.Fprintf(cmd.ErrOrStderr(), "submitted %s (%s)\n", where, v.Status)
			if wait {
				deadline := time.Now().Add(timeout)
				for v.Status != catalog.StatusSucceeded && v.Status != catalog.StatusFailed {
					if time.Now().After(deadline) {
						return fmt.Errorf("%s is still %s after %s: see its log at %s/ns/%s/%s/%d", where, v.Status, timeout, t.Base, v.Namespace, v.Environment, v.Number)
					}
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(time.Second):
					}
					if v, err = c.Version(ctx, t, v.Number); err != nil {
						return err
					}
				}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			if len(v.Builds) > 0 {
				b := v.Builds[len(v.Builds)-1]
				if v.Status == catalog.StatusFailed {
					return fmt.Errorf("%s failed: %s", where, b.Error)
				}
				if b.Digest != "" {
					fmt.Fprintln(cmd.OutOrStdout(), b.Digest)
					return nil
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), where)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", recipes.DefaultFilename, "recipe file (or a directory holding reprobuild.hcl)")
	cmd.Flags().StringVar(&to, "to", "", "catalogue URL/NAMESPACE/ENV")
	cmd.Flags().StringVar(&token, "token", "", "API token (default $REPROBUILD_TOKEN)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the build and print its digest")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "with --wait, give up after this long")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON")
	return cmd
}
