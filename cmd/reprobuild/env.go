package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/channel"
)

// The environment is read here, in the CLI, and passed down as options: library code
// never reads it, so nothing it shapes depends on it by accident.

// channelFlags are the flags every command that reaches channels shares.
type channelFlags struct {
	cacheDir string
	offline  bool
}

func (f *channelFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", "", "package and repodata cache (default $REPROBUILD_CACHE, else $XDG_CACHE_HOME/reprobuild)")
	cmd.Flags().BoolVar(&f.offline, "offline", false, "use only the cache and file:// channels")
}

func (f *channelFlags) options(cmd *cobra.Command) (builder.ChannelOptions, error) {
	o := builder.ChannelOptions{Offline: f.offline, CacheDir: f.cacheDir}
	if o.CacheDir == "" {
		o.CacheDir = defaultCacheDir()
	}
	creds, err := channel.CredentialsFromEnv(os.Environ())
	if err != nil {
		return o, err
	}
	o.Credentials = creds
	o.Progress = cmd.ErrOrStderr()
	if f, ok := o.Progress.(*os.File); ok {
		o.Terminal = term.IsTerminal(int(f.Fd()))
	}
	return o, nil
}

func defaultCacheDir() string {
	if d := os.Getenv("REPROBUILD_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "reprobuild")
	}
	return filepath.Join(os.TempDir(), "reprobuild-cache")
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH; nil when unset (the lock decides the epoch).
func sourceDateEpoch() (*time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a non-negative number of seconds: unset it or fix it", s)
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}
