package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/reprobuild/reprobuild/internal/progress"
)

// outputFlags are the global -q and -v.
type outputFlags struct{ quiet, verbose bool }

// registerOutputFlags adds -q/--quiet and -v/--verbose to every command and puts the
// progress reporter they choose into the command's context before it runs.
func registerOutputFlags(root *cobra.Command, f *outputFlags) {
	root.PersistentFlags().BoolVarP(&f.quiet, "quiet", "q", false, "print no progress (results and errors only)")
	root.PersistentFlags().BoolVarP(&f.verbose, "verbose", "v", false, "print progress as plain lines, every step included")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if f.quiet && f.verbose {
			return usageError(errQuietVerbose)
		}
		cmd.SetContext(progress.WithReporter(cmd.Context(), progress.New(cmd.ErrOrStderr(), f.mode(cmd), time.Now)))
		return nil
	}
}

var errQuietVerbose = errorString("-q (quiet) and -v (verbose) exclude each other")

type errorString string

func (e errorString) Error() string { return string(e) }

// mode is quiet with -q, verbose lines with -v, a redrawn status line on a terminal,
// plain lines otherwise.
func (f *outputFlags) mode(cmd *cobra.Command) progress.Mode {
	switch {
	case f.quiet:
		return progress.Quiet
	case f.verbose:
		return progress.Verbose
	case isTerminal(cmd):
		return progress.TTY
	}
	return progress.Plain
}

func isTerminal(cmd *cobra.Command) bool {
	fh, ok := cmd.ErrOrStderr().(*os.File)
	return ok && term.IsTerminal(int(fh.Fd()))
}

// quiet reports whether -q was given: informational lines are left out too.
func quiet(cmd *cobra.Command) bool {
	q, _ := cmd.Flags().GetBool("quiet")
	return q
}
