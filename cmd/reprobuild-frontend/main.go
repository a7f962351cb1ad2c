// Command reprobuild-frontend is the BuildKit gateway frontend of reprobuild: run by
// buildkitd from an image (buildctl --frontend gateway.v0 --opt source=IMAGE, or a
// "# syntax=IMAGE" line), it builds the recipe and lock of the "dockerfile" context.
// The image must also hold a static reprobuild at /usr/local/bin/reprobuild, which runs
// the link steps. See docs/buildkit.md.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"

	"github.com/reprobuild/reprobuild/frontend/gateway"
)

func main() {
	if err := run(appcontext.Context()); err != nil {
		fmt.Fprintln(os.Stderr, "reprobuild-frontend:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	return grpcclient.RunFromEnvironment(ctx, gateway.Build)
}
