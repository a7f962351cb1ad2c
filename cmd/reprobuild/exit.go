package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/lock"
)

// Exit codes, documented in `reprobuild --help` and the README, so CI can tell a stale
// lock from a broken recipe.
const (
	exitError      = 1 // any other failure
	exitUsage      = 2 // unknown command or flag, wrong arguments
	exitStaleLock  = 3 // the lock is missing or does not match the recipe
	exitAuditLevel = 4 // audit: the declared reproducibility level is not met
	exitMismatch   = 5 // verify: the rebuilt image differs
)

const exitCodesHelp = `Exit codes:
  0  success
  1  error
  2  usage (unknown command or flag, wrong arguments)
  3  the lock is missing or stale (lock --check, image --locked)
  4  audit: the declared reproducibility level is not met
  5  verify: the rebuilt image differs from the one checked
  run exits with the container's own status`

// codeError carries a specific exit code.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	var stale *lock.StaleError
	var missing *builder.MissingLockError
	if errors.As(err, &stale) || errors.As(err, &missing) {
		return exitStaleLock
	}
	return exitError
}

func usageError(err error) error { return &codeError{code: exitUsage, err: err} }

// markUsageErrors makes argument and flag errors of every command exit 2.
func markUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Args != nil {
			args := c.Args
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError(fmt.Errorf("%s: %w (see %s --help)", cmd.CommandPath(), err, cmd.CommandPath()))
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	// The root runs nothing itself: an argument there is an unknown command.
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, a []string) error {
		if len(a) > 0 {
			return usageError(fmt.Errorf("unknown command %q (see reprobuild --help)", a[0]))
		}
		return cmd.Help()
	}
}
