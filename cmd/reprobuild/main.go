// Command reprobuild builds reproducible Python runtimes from an HCL recipe.

// The pure-Go resolver, also when built with cgo (see static_cgo.go).
//
//go:debug netdns=go
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfiles := startProfiles()
	err := newRootCommand().ExecuteContext(ctx)
	stopProfiles()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reprobuild:", err)
		os.Exit(exitCode(err))
	}
}
