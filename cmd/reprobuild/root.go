package main

import (
	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "reprobuild",
		Short:         "Build reproducible Python runtimes from an HCL recipe",
		Long:          "reprobuild solves an HCL recipe into a lockfile with exact URLs and hashes, then builds a\nbit-for-bit reproducible OCI image that carries its full runtime record.\n\n" + exitCodesHelp,
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
		newShowCommand(),
		newCacheCommand(),
		newVersionCommand(),
		newRunCommand(),
		newLaunchCommand(),
		newServeCommand(),
		newSubmitCommand(),
		newPullCommand(),
	)
	var out outputFlags
	registerOutputFlags(root, &out)
	markUsageErrors(root)
	registerCompletions(root)
	return root
}
