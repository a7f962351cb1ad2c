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
	"github.com/reprobuild/reprobuild/recipes"
)

// The environment is read here, in the CLI, and passed down as options: library code
// never reads it, so nothing it shapes depends on it by accident.

// channelFlags are the flags of every command that reaches channels.
type channelFlags struct {
	cacheDir string
	offline  bool
	jobs     int
	authFile string
	// network limits (see docs/channels.md)
	idleTimeout time.Duration
	deadline    time.Duration
	minRate     int64
	maxRepodata int64
}

func (f *channelFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", "", "package and repodata cache (default $REPROBUILD_CACHE, else $XDG_CACHE_HOME/reprobuild or ~/.cache/reprobuild)")
	cmd.Flags().BoolVar(&f.offline, "offline", false, "use only the cache and file:// channels")
	cmd.Flags().IntVarP(&f.jobs, "jobs", "j", 8, "parallel downloads")
	cmd.Flags().StringVar(&f.authFile, "auth-file", "", "JSON credentials file (default $REPROBUILD_AUTH_FILE); REPROBUILD_AUTH_<HOST> variables also apply")
	cmd.Flags().DurationVar(&f.idleTimeout, "net-idle-timeout", 60*time.Second, "a download with no byte for this long fails over to the next location")
	cmd.Flags().DurationVar(&f.deadline, "net-deadline", 0, "most time one download from one location may take, body included (0: none)")
	cmd.Flags().Int64Var(&f.minRate, "net-min-rate", channel.DefaultMinRate, "slowest accepted transfer in bytes/s, averaged over 30s; slower fails over to the next location (0: none)")
	cmd.Flags().Int64Var(&f.maxRepodata, "max-repodata-size", channel.DefaultMaxRepodataSize, "largest repodata document accepted, in bytes once decompressed")
}

// options reads the flags and the environment into channel options for the builder.
func (f *channelFlags) options(cmd *cobra.Command) (builder.ChannelOptions, error) {
	environ := os.Environ()
	o := builder.ChannelOptions{Offline: f.offline, CacheDir: f.cacheDir, Parallelism: f.jobs,
		IdleTimeout: f.idleTimeout, Deadline: f.deadline, MinRate: f.minRate, MaxRepodataSize: f.maxRepodata}
	if f.minRate == 0 {
		o.MinRate = -1 // explicitly off
	}
	if f.idleTimeout < 0 || f.deadline < 0 || f.minRate < 0 || f.maxRepodata < 0 {
		return o, fmt.Errorf("--net-idle-timeout, --net-deadline, --net-min-rate and --max-repodata-size must not be negative")
	}
	if o.CacheDir == "" {
		home, _ := os.UserHomeDir()
		o.CacheDir = channel.DefaultCacheDir(environ, home)
	}
	creds, err := channel.CredentialsFromEnv(environ)
	if err != nil {
		return o, err
	}
	authFile := f.authFile
	if authFile == "" {
		authFile = os.Getenv("REPROBUILD_AUTH_FILE")
	}
	if authFile != "" {
		fc, err := channel.LoadCredentials(authFile)
		if err != nil {
			return o, err
		}
		creds = fc.Merge(creds) // variables override the file
	}
	o.Credentials = creds
	// Package downloads report through the channel client; -q silences them and -v
	// makes them plain lines, as the other phases (progress.go).
	if q, _ := cmd.Flags().GetBool("quiet"); !q {
		o.Progress = cmd.ErrOrStderr()
		v, _ := cmd.Flags().GetBool("verbose")
		o.Terminal = !v && isTerminal(cmd)
	}
	return o, nil
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

// parseVars reads repeated --var NAME=VALUE flags.
func parseVars(vars []string) (map[string]string, error) {
	m := map[string]string{}
	for _, v := range vars {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--var %q: write it as NAME=VALUE", v)
		}
		m[k] = val
	}
	return m, nil
}

// buildInputs is what every command that builds an image reads first, in this order:
// the --var values, the channel flags and SOURCE_DATE_EPOCH.
func buildInputs(cmd *cobra.Command, vars []string, cf *channelFlags) (map[string]string, builder.ChannelOptions, *time.Time, error) {
	vm, err := parseVars(vars)
	if err != nil {
		return nil, builder.ChannelOptions{}, nil, err
	}
	co, err := cf.options(cmd)
	if err != nil {
		return nil, builder.ChannelOptions{}, nil, err
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return nil, builder.ChannelOptions{}, nil, err
	}
	return vm, co, epoch, nil
}

// loadLocked reads the recipe (with its --var values) and the lock beside it, for the
// commands that work from the lock as it is.
func loadLocked(file string, vars []string) (*recipes.Recipe, *builder.LockFile, error) {
	vm, err := parseVars(vars)
	if err != nil {
		return nil, nil, err
	}
	r, err := builder.LoadRecipe(file, vm)
	if err != nil {
		return nil, nil, err
	}
	l, err := builder.LoadLock(r)
	if err != nil {
		return nil, nil, err
	}
	return r, l, nil
}
