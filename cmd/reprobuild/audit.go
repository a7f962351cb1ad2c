package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
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
			// Link scripts are read from archives already in the cache or in file://
			// channels; nothing is downloaded for an audit.
			scripts := builder.LinkScripts(cmd.Context(), file, vm, co)
			rep, err := builder.Audit(file, builder.AuditOptions{Vars: vm, VendorDir: vendor, LinkScripts: scripts})
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else if _, err := fmt.Fprint(cmd.OutOrStdout(), rep.Text()); err != nil {
				return err
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
