package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
)

// buildkitOptions are the image command's flags for --engine buildkit.
type buildkitOptions struct {
	recipe, output, addr string
	vars                 map[string]string
	frozen, push         bool
	tags                 []string
	epoch                *time.Time
	channel              builder.ChannelOptions
}

func buildWithBuildKit(cmd *cobra.Command, o buildkitOptions) (*builder.ImageResult, error) {
	return nil, errNotImplemented("reprobuild image --engine buildkit")
}
