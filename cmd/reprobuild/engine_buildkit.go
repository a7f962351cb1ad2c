package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
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
	return builder.ImageBuildKit(cmd.Context(), o, builder.BuildKitOptions{
		Addr: addr, LinkerDir: linkerDir, Progress: cmd.ErrOrStderr(), ProgressMode: "auto",
	})
}
