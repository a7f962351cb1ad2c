package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/channel"
	"github.com/reprobuild/reprobuild/internal/progress"
)

func newCacheCommand() *cobra.Command {
	var cacheDir string
	cmd := &cobra.Command{
		Use:   "cache info|prune",
		Short: "Show or prune the package, repodata and layer cache",
		Long: "cache info sums the cache directory by kind (cas: packages and repodata; layers: built\n" +
			"layers); cache prune removes the layers other reprobuild versions built (their keys\n" +
			"include the binary, so this one never reads them) and, with --older-than, every entry\n" +
			"not written for that long. Pruned entries are fetched or built again when needed.",
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&cacheDir, "cache-dir", "", "the cache (default $REPROBUILD_CACHE, else $XDG_CACHE_HOME/reprobuild or ~/.cache/reprobuild)")
	dir := func() string {
		if cacheDir != "" {
			return cacheDir
		}
		home, _ := os.UserHomeDir()
		return channel.DefaultCacheDir(os.Environ(), home)
	}

	var infoJSON bool
	info := &cobra.Command{
		Use:   "info [--json]",
		Short: "Sum the cache by kind",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ci, err := builder.CacheStat(dir())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if infoJSON {
				return writeJSON(out, ci)
			}
			fmt.Fprintf(out, "%s  %s\n", ci.Dir, progress.Bytes(ci.Bytes))
			for _, k := range ci.Kinds {
				fmt.Fprintf(out, "  %-8s %6d files  %s", k.Name, k.Files, progress.Bytes(k.Bytes))
				if k.Stale > 0 {
					fmt.Fprintf(out, "  (%d files, %s from other reprobuild versions: cache prune removes them)", k.Stale, progress.Bytes(k.StaleBytes))
				}
				fmt.Fprintln(out)
			}
			return nil
		},
	}
	info.Flags().BoolVar(&infoJSON, "json", false, "print the sums as JSON")

	var (
		olderThan string
		pruneJSON bool
	)
	prune := &cobra.Command{
		Use:   "prune [--older-than D]",
		Short: "Remove layers of other reprobuild versions and, with --older-than, old entries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := builder.PruneOptions{Dir: dir()}
			if olderThan != "" {
				d, err := parseAge(olderThan)
				if err != nil {
					return usageError(fmt.Errorf("--older-than %q: %w", olderThan, err))
				}
				o.Before = time.Now().Add(-d) // the clock is read here, in the CLI
			}
			res, err := builder.PruneCache(o)
			if err != nil {
				return err
			}
			if pruneJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d files, %s\n", res.Files, progress.Bytes(res.Bytes))
			return nil
		},
	}
	prune.Flags().StringVar(&olderThan, "older-than", "", "also remove entries not written for this long: a Go duration (72h) or days (30d)")
	prune.Flags().BoolVar(&pruneJSON, "json", false, "print what was removed as JSON")
	cmd.AddCommand(info, prune)
	return cmd
}

// parseAge reads a duration: Go's syntax, or a whole number of days ("30d").
func parseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("want a number of days such as 30d")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration such as 72h or 30d")
	}
	return d, nil
}
