package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
)

func newRunCommand() *cobra.Command {
	var (
		file             string
		vars, data       []string
		locked, frozen   bool
		runc, entrypoint string
		cf               channelFlags
	)
	cmd := &cobra.Command{
		Use:   "run [-f recipe.hcl] [--data NAME=HOSTPATH ...] [-- CMD ARGS...]",
		Short: "Build (or reuse) the image and run it locally with runc",
		Long: "run builds the recipe's image with the embedded engine (an unchanged lock reuses the\n" +
			"cached layers), unpacks it into a runtime bundle and runs it with runc: the image's\n" +
			"entrypoint and cmd (arguments after -- replace the cmd), env, workdir and user, with\n" +
			"every data block of mode \"mount\" bound at its path (from --data NAME=HOSTPATH or the\n" +
			"block's source = \"host:PATH\"). Output is streamed; the exit status is the container's.\n" +
			"As an unprivileged user the container is rootless (a user namespace, the host network).\n" +
			"A recipe with hardware.gpus or cuda needs nvidia-container-runtime-hook (NVIDIA\n" +
			"container toolkit).",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkLockFlags(locked, frozen); err != nil {
				return err
			}
			vm, co, epoch, err := buildInputs(cmd, vars, &cf)
			if err != nil {
				return err
			}
			dm := map[string]string{}
			for _, d := range data {
				k, v, ok := strings.Cut(d, "=")
				if !ok || k == "" || v == "" {
					return fmt.Errorf("--data %q: want NAME=HOSTPATH", d)
				}
				abs, err := filepath.Abs(v)
				if err != nil {
					return err
				}
				dm[k] = abs
			}
			if runc == "" {
				runc, _ = exec.LookPath("runc")
			}
			hook, _ := exec.LookPath("nvidia-container-runtime-hook")
			var entry []string
			if entrypoint != "" {
				entry = []string{entrypoint}
			}
			o := builder.RunOptions{
				Entrypoint: entry,
				Image: builder.ImageOptions{
					Recipe: file, Vars: vm, Locked: locked, Frozen: frozen, Epoch: epoch,
					Channel: co, Keychain: authn.DefaultKeychain,
				},
				Args: args, Data: dm, Runc: runc, GPUHook: hook,
				Architecture: runtime.GOARCH,
				ID:           fmt.Sprintf("reprobuild-%d", os.Getpid()),
				Rootless:     os.Geteuid() != 0, HostUID: os.Geteuid(), HostGID: os.Getegid(),
				Stdin: cmd.InOrStdin(), Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(),
			}
			code, err := builder.Run(cmd.Context(), o)
			if err != nil {
				return launchFlagError(imageFlagError(err))
			}
			if code != 0 {
				return &codeError{code: code, err: fmt.Errorf("the container exited with status %d", code)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "reprobuild.hcl", "recipe file")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	cmd.Flags().StringArrayVar(&data, "data", nil, "bind a host path for a mount data block, NAME=HOSTPATH (repeatable)")
	cmd.Flags().BoolVar(&locked, "locked", false, "refuse to lock: fail (exit 3) if reprobuild.lock is missing or stale")
	cmd.Flags().BoolVar(&frozen, "frozen", false, "use reprobuild.lock as it is, without checking it against the recipe")
	cmd.Flags().StringVar(&entrypoint, "entrypoint", "", "run this program instead of the image's entrypoint (arguments after -- follow it)")
	cmd.Flags().StringVar(&runc, "runc", "", "runc binary (default: runc on PATH)")
	cf.register(cmd)
	return cmd
}
