package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/channel"
)

func newLaunchCommand() *cobra.Command {
	var (
		file, to, image, out, runtime, cacheDir string
		vars                                    []string
		asJSON                                  bool
	)
	cmd := &cobra.Command{
		Use:   "launch --to kubernetes|slurm|apptainer [-f recipe.hcl] [--image REF@sha256:...] [--out DIR]",
		Short: "Write the launch spec of the built image for a cluster, pinned by digest",
		Long: "launch writes what a cluster takes to run the recipe's image, always pinned by digest:\n" +
			"the image given with --image, or else the last `reprobuild image --push` of the current\n" +
			"lock from this machine.\n\n" +
			"  kubernetes  a batch/v1 Job (requests/limits from hardware, nvidia.com/gpu, CUDA driver\n" +
			"              node affinity, mount data as volumes, no restarts)\n" +
			"  slurm       an sbatch script (--cpus-per-task, --mem, --gres=gpu:N) running the image\n" +
			"              with srun --container (--runtime oci) or apptainer (--runtime apptainer)\n" +
			"  apptainer   the apptainer run line (--nv for GPUs, --bind for data)\n\n" +
			"With --out DIR the spec is written to a file in DIR (its path is printed); otherwise it\n" +
			"is printed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vm, err := parseVars(vars)
			if err != nil {
				return err
			}
			if cacheDir == "" {
				home, _ := os.UserHomeDir()
				cacheDir = channel.DefaultCacheDir(os.Environ(), home)
			}
			res, err := builder.Launch(cmd.Context(), builder.LaunchOptions{
				Recipe: file, Vars: vm, To: to, Image: image, CacheDir: cacheDir, SlurmRuntime: runtime,
			})
			if err != nil {
				return err
			}
			if out == "" || res.Filename == "" {
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"to": res.To, "image": res.Image, "content": string(res.Content)})
				}
				_, err := cmd.OutOrStdout().Write(res.Content)
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out %s: %w", out, err)
			}
			p := filepath.Join(out, res.Filename)
			mode := os.FileMode(0o644)
			if to == builder.LaunchSlurm {
				mode = 0o755
			}
			tmp := p + ".partial"
			if err := os.WriteFile(tmp, res.Content, mode); err != nil {
				os.Remove(tmp)
				return err
			}
			if err := os.Rename(tmp, p); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"to": res.To, "image": res.Image, "file": p})
			}
			fmt.Fprintln(cmd.OutOrStdout(), p)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "reprobuild.hcl", "recipe file")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	cmd.Flags().StringVar(&to, "to", "", "kubernetes, slurm or apptainer")
	cmd.Flags().StringVar(&image, "image", "", "the image to launch, REF@sha256:... (default: the last push of this lock)")
	cmd.Flags().StringVar(&out, "out", "", "write the spec into this directory instead of printing it")
	cmd.Flags().StringVar(&runtime, "runtime", "oci", "for --to slurm: oci (srun --container with runc) or apptainer")
	cmd.Flags().StringVar(&cacheDir, "cache-dir", "", "where pushes are remembered (default $REPROBUILD_CACHE, else $XDG_CACHE_HOME/reprobuild)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}
