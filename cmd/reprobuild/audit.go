package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/record"
)

func newAuditCommand() *cobra.Command {
	var (
		file, vendor string
		vars         []string
		asJSON       bool
		cf           channelFlags
	)
	cmd := &cobra.Command{
		Use:   "audit [-f recipe.hcl] [--json] [--vendor DIR]",
		Short: "Report the reproducibility risks of a recipe and its lock",
		Long: "Audit reports a recipe and its lock in the four steps of the reproducibility framework:\n" +
			"the declared scope, the components, the threats (each with the level it breaks) and the\n" +
			"mitigations in place. It exits 4 when the declared reproducibility level is not met.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vm, err := parseVars(vars)
			if err != nil {
				return err
			}
			co, err := cf.options(cmd)
			if err != nil {
				return err
			}
			// Link and activation scripts are read, in one pass, from archives already in
			// the cache or in file:// channels; nothing is downloaded for an audit.
			var linkScripts, activation map[string][]string
			if ps := builder.ReadPackageScripts(cmd.Context(), file, vm, co); ps != nil {
				linkScripts, activation = ps.Link, ps.Activation
			}
			rep, err := builder.Audit(file, builder.AuditOptions{Vars: vm, VendorDir: vendor, LinkScripts: linkScripts})
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), struct {
					*record.Report
					Activation map[string][]string `json:"activation_scripts,omitempty"`
				}{rep, activation}); err != nil {
					return err
				}
			} else {
				if _, err := fmt.Fprint(cmd.OutOrStdout(), rep.Text()); err != nil {
					return err
				}
				printActivation(cmd.OutOrStdout(), activation)
			}
			if !rep.LevelMet() {
				return &codeError{code: exitAuditLevel, err: fmt.Errorf("audit: reproducibility level %q is not met (strongest level met: %s)", rep.Scope.Level, rep.Achieved)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "reprobuild.hcl", "recipe file")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&vendor, "vendor", "", "a `reprobuild vendor` directory that backs the lock")
	cf.register(cmd)
	return cmd
}

// printActivation lists the packages' activation scripts, which the image applies: as
// environment when they only assign known values, else sourced by its entrypoint.
func printActivation(w io.Writer, scripts map[string][]string) {
	if len(scripts) == 0 {
		return
	}
	names := make([]string, 0, len(scripts))
	for n := range scripts {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "\nActivation scripts (%d packages; applied in the image: as environment when exact, else sourced by the entrypoint)\n", len(names))
	for _, n := range names {
		fmt.Fprintf(w, "   %s: %s\n", n, strings.Join(scripts[n], ", "))
	}
}
