package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/channel"
)

// channelFlags are the flags of every command that fetches from channels.
type channelFlags struct {
	cacheDir string
	offline  bool
	jobs     int
	authFile string
}

func (f *channelFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", "", "package and repodata cache (default $REPROBUILD_CACHE, else $XDG_CACHE_HOME/reprobuild or ~/.cache/reprobuild)")
	cmd.Flags().BoolVar(&f.offline, "offline", false, "use only the cache and file:// channels")
	cmd.Flags().IntVarP(&f.jobs, "jobs", "j", 8, "parallel downloads")
	cmd.Flags().StringVar(&f.authFile, "auth-file", "", "JSON credentials file (default $REPROBUILD_AUTH_FILE); REPROBUILD_AUTH_<HOST> variables also apply")
}

// client builds a channel client from the flags and the environment: the environment
// is read here, in the command, and passed down as options.
func (f *channelFlags) client(stderr io.Writer) (*channel.Client, error) {
	environ := os.Environ()
	dir := f.cacheDir
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = channel.DefaultCacheDir(environ, home)
	}
	creds, err := channel.CredentialsFromEnv(environ)
	if err != nil {
		return nil, err
	}
	authFile := f.authFile
	if authFile == "" {
		authFile = os.Getenv("REPROBUILD_AUTH_FILE")
	}
	if authFile != "" {
		fc, err := channel.LoadCredentials(authFile)
		if err != nil {
			return nil, err
		}
		creds = fc.Merge(creds) // variables override the file
	}
	return channel.New(
		channel.WithCacheDir(dir),
		channel.WithOffline(f.offline),
		channel.WithParallelism(f.jobs),
		channel.WithCredentials(creds),
		channel.WithProgress(stderr, isTerminal(stderr)),
	)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newVendorCommand() *cobra.Command {
	var (
		file      string
		vars      []string
		platforms []string
		cf        channelFlags
	)
	cmd := &cobra.Command{
		Use:   "vendor [-f recipe.hcl] DIR",
		Short: "Copy every locked package into DIR as a file:// channel",
		Long: "Vendor fetches every package of the recipe's reprobuild.lock (verified by sha256, through\n" +
			"the cache) and writes DIR/<subdir>/<file> with a repodata.json per subdir, so DIR is a\n" +
			"conda channel: use it as a mirror or channel to build with no network.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vm, err := parseVars(vars)
			if err != nil {
				return err
			}
			r, err := builder.LoadRecipe(file, vm)
			if err != nil {
				return err
			}
			l, err := builder.LoadLock(r)
			if err != nil {
				return err
			}
			c, err := cf.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			res, err := builder.Vendor(cmd.Context(), r, l, args[0], builder.VendorOptions{Client: c, Platforms: platforms})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "vendored %d packages into %s\n", res.Packages, res.Dir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "reprobuild.hcl", "recipe file")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a recipe variable, NAME=VALUE (repeatable)")
	cmd.Flags().StringSliceVar(&platforms, "platform", nil, "vendor only these targets (default: all)")
	cf.register(cmd)
	return cmd
}
