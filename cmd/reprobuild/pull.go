package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/internal/catalog"
	"github.com/reprobuild/reprobuild/recipes"
)

func newPullCommand() *cobra.Command {
	var dir, token string
	cmd := &cobra.Command{
		Use:   "pull URL/NAMESPACE/ENV[@VERSION] [-o DIR]",
		Short: "Write a catalogue version's recipe and lock into a directory",
		Long: "pull fetches a version (the latest without @VERSION) from a `reprobuild serve` catalogue\n" +
			"and writes its recipe as reprobuild.hcl and its lock as reprobuild.lock into DIR (default\n" +
			"the current directory), so `reprobuild image --frozen` rebuilds exactly that version.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := catalog.ParseTarget(args[0], true)
			if err != nil {
				return err
			}
			c := &catalog.Client{Token: catalogToken(token)}
			v, err := c.Version(cmd.Context(), t, t.Version)
			if err != nil {
				return err
			}
			if v.Lock == "" {
				return fmt.Errorf("%s/%s/%s@%d has no lock (status %s): pull a version that locked", t.Base, t.Namespace, t.Environment, v.Number, v.Status)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			files := []struct{ name, data string }{{recipes.DefaultFilename, v.Recipe}, {"reprobuild.lock", v.Lock}}
			for _, f := range files {
				if err := writeFileAtomic(filepath.Join(dir, f.name), []byte(f.data)); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s and %s for %s/%s@%d (%s)\n",
				filepath.Join(dir, files[0].name), filepath.Join(dir, files[1].name), v.Namespace, v.Environment, v.Number, v.Status)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "output", "o", ".", "directory to write reprobuild.hcl and reprobuild.lock into")
	cmd.Flags().StringVar(&token, "token", "", "API token (default $REPROBUILD_TOKEN)")
	return cmd
}

// writeFileAtomic writes through a temporary file in the same directory and a rename, so
// an interrupted pull never leaves half a recipe or lock.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
