package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
)

func newExportCommand() *cobra.Command {
	var (
		format, platform, file, output, hash string
		vars                                 []string
	)
	cmd := &cobra.Command{
		Use:   "export --format explicit|conda-lock|environment|pixi [--platform P] [-f recipe.hcl] [-o FILE]",
		Short: "Export the lock in another format",
		Long: "Export writes the recipe's reprobuild.lock as an @EXPLICIT file (conda create --file),\n" +
			"a conda-lock.yml (conda-lock install, micromamba), an environment.yml with exact pins or a\n" +
			"pixi.lock (format 6, every target in the environment \"default\").\n" +
			"explicit and environment describe one platform: --platform, default the recipe's first target.\n" +
			"Channels and packages given relative to the recipe are written as absolute file:// URLs.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, l, err := loadLocked(file, vars)
			if err != nil {
				return err
			}
			out, err := builder.Export(r, l, builder.ExportOptions{Format: format, Platform: platform, Hash: hash})
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err = cmd.OutOrStdout().Write(out)
				return err
			}
			if err := os.WriteFile(output, out, 0o644); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "explicit, conda-lock, environment or pixi (required)")
	cmd.Flags().StringVar(&platform, "platform", "", "target platform for explicit and environment (default: the recipe's first target)")
	cmd.Flags().StringVar(&hash, "hash", "sha256", "explicit: the checksum each line carries, sha256 (#sha256:HEX, conda >= 24.9) or md5 (any conda)")
	cmd.Flags().StringVarP(&file, "file", "f", "reprobuild.hcl", "recipe file")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	_ = cmd.MarkFlagRequired("format")
	return cmd
}
