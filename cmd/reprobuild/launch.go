package main

import (
	"errors"
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
			"              node affinity, mount data as volumes, no restarts); for a VM recipe a\n" +
			"              KubeVirt VirtualMachineInstance booting its containerDisk (the last\n" +
			"              image --output kubevirt:DIR --push of the lock, or --image)\n" +
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
				return launchFlagError(err)
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

// launchFlagError says in the run and launch commands' flags what the builder reports in
// its own terms.
func launchFlagError(err error) error {
	var mount *builder.MountSourceError
	var unknown *builder.UnknownDataError
	var notLocked *builder.NotLockedError
	var notPushed *builder.NotPushedError
	var unpinned *builder.UnpinnedImageError
	var target *builder.UnknownTargetError
	switch {
	case errors.As(err, &mount):
		return fmt.Errorf("data %q (%s): %s: pass --data %s=HOSTPATH", mount.Name, mount.At, mount.Reason, mount.Name)
	case errors.As(err, &unknown):
		return fmt.Errorf("--data %s: %s has no data block of that name with mode = \"mount\"", unknown.Name, unknown.Recipe)
	case errors.As(err, &notLocked):
		return fmt.Errorf("%s was never locked, so no image of it was built or pushed: run reprobuild image -f %s --push --tag REF first", notLocked.Recipe, notLocked.Recipe)
	case errors.As(err, &notPushed):
		if notPushed.Damaged != "" {
			return fmt.Errorf("the push record %s is damaged: push again, or pass --image REF@sha256:DIGEST", notPushed.Damaged)
		}
		if notPushed.ContainerDisk {
			return fmt.Errorf("this VM recipe's lock (%.12s) has no containerDisk pushed from this machine: run reprobuild image --output kubevirt:DIR --push --tag REF, or pass --image REF@sha256:DIGEST of one", notPushed.LockHash)
		}
		return fmt.Errorf("this lock (%.12s) was never pushed from this machine: run reprobuild image --push --tag REF, or pass --image REF@sha256:DIGEST", notPushed.LockHash)
	case errors.As(err, &unpinned):
		return fmt.Errorf("--image %q is not pinned by digest: give REF@sha256:<64 hex digits> (reprobuild image --push prints it)", unpinned.Ref)
	case errors.As(err, &target):
		return fmt.Errorf("--to %q: want kubernetes, slurm or apptainer", target.To)
	}
	return err
}
