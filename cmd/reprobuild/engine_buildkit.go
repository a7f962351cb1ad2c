package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/progress"
)

// buildWithBuildKit builds o on buildkitd: the same lock, epoch, config and outputs as
// the embedded engine, with packages fetched and linked inside the build. The reprobuild
// binary itself runs the link steps there, so it must be the static build
// (CGO_ENABLED=0) named "reprobuild".
func buildWithBuildKit(cmd *cobra.Command, o builder.ImageOptions, addr string) (*builder.ImageResult, error) {
	if addr == "" {
		addr = os.Getenv("BUILDKIT_HOST")
	}
	if addr == "" {
		return nil, fmt.Errorf("--engine buildkit needs a daemon: give --buildkit-addr unix:///run/buildkit/buildkitd.sock (or tcp://...), or set BUILDKIT_HOST")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	linkerDir, err := builder.LinkerDir(exe)
	if err != nil {
		return nil, fmt.Errorf("%w (build it with CGO_ENABLED=0 go build -o reprobuild ./cmd/reprobuild)", err)
	}
	bk := builder.BuildKitOptions{Addr: addr, LinkerDir: linkerDir}
	bk.Progress, bk.ProgressMode = buildkitProgress(cmd)
	return builder.ImageBuildKit(cmd.Context(), o, bk)
}

// buildkitProgress shows BuildKit's solve in the scheme of -q and -v: nothing with -q;
// BuildKit's own display on a terminal, and its plain log (every step with its output)
// with -v; otherwise a line when each step starts and ends, as the embedded engine's
// phases are reported.
func buildkitProgress(cmd *cobra.Command) (io.Writer, string) {
	var f outputFlags
	f.quiet, _ = cmd.Flags().GetBool("quiet")
	f.verbose, _ = cmd.Flags().GetBool("verbose")
	switch f.mode(cmd) {
	case progress.Quiet:
		return nil, "quiet"
	case progress.TTY:
		return cmd.ErrOrStderr(), "tty"
	case progress.Verbose:
		return cmd.ErrOrStderr(), "plain"
	}
	return nil, builder.ProgressSteps
}
