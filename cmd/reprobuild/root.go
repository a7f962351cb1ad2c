package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// exitError carries a specific exit code (e.g. 1 for a stale lock in `lock --check`).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "reprobuild",
		Short:         "Build reproducible Python runtimes from an HCL recipe",
		Long:          "reprobuild solves an HCL recipe into a lockfile with exact URLs and hashes, then builds a\nbit-for-bit reproducible OCI image that carries its full runtime record.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newLockCommand(),
		newImageCommand(),
		newLLBCommand(),
		newLinkCommand(),
		newInspectCommand(),
		newVerifyCommand(),
		newAuditCommand(),
		newVendorCommand(),
		newInitCommand(),
		newExportCommand(),
		newVersionCommand(),
		newServeCommand(),
		newSubmitCommand(),
		newPullCommand(),
	)
	return root
}
