package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/internal/catalog"
	"github.com/reprobuild/reprobuild/recipes"
)

func newPullCommand() *cobra.Command {
	var dir, token string
	var noRegistry, sboms bool
	cmd := &cobra.Command{
		Use:   "pull URL/NAMESPACE/ENV[@VERSION] [-o DIR]",
		Short: "Write a catalogue version's recipe and lock into a directory",
		Long: "pull fetches a version (the latest without @VERSION) from a `reprobuild serve` catalogue\n" +
			"and writes its recipe as reprobuild.hcl and its lock as reprobuild.lock into DIR (default\n" +
			"the current directory), so `reprobuild image --frozen` rebuilds exactly that version.\n\n" +
			"When the catalogue pushed the version's build to a registry (serve --registry), the recipe\n" +
			"and lock are read back from the registry's artifact, pinned by the digest the catalogue\n" +
			"recorded, and checked against the catalogue's copy; --sboms also writes the SBOMs pushed\n" +
			"beside the image. --no-registry takes them from the catalogue alone.",
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
			from := "the catalogue"
			var extra []registryFile
			if reg := pushedDocuments(v); len(reg) > 0 && !noRegistry {
				var err error
				if extra, err = pullFromRegistry(cmd.Context(), v, reg, sboms, authn.DefaultKeychain); err != nil {
					return fmt.Errorf("%w (--no-registry takes the recipe and lock from the catalogue)", err)
				}
				from = reg[0].Ref
			} else if sboms && !noRegistry {
				return fmt.Errorf("%s/%s@%d has nothing in a registry (the catalogue runs without --registry, or no build of it succeeded): --sboms reads SBOMs from the registry; download them from the version's page instead", v.Namespace, v.Environment, v.Number)
			}
			for _, f := range files {
				if err := writeFileAtomic(filepath.Join(dir, f.name), []byte(f.data)); err != nil {
					return err
				}
			}
			for _, f := range extra {
				if err := writeFileAtomic(filepath.Join(dir, f.name), f.data); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s and %s for %s/%s@%d (%s) from %s\n",
				filepath.Join(dir, files[0].name), filepath.Join(dir, files[1].name), v.Namespace, v.Environment, v.Number, v.Status, from)
			for _, f := range extra {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s from %s\n", filepath.Join(dir, f.name), f.ref)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "output", "o", ".", "directory to write reprobuild.hcl and reprobuild.lock into")
	cmd.Flags().StringVar(&token, "token", "", "API token (default $REPROBUILD_TOKEN)")
	cmd.Flags().BoolVar(&noRegistry, "no-registry", false, "take the recipe and lock from the catalogue even when it pushed them to a registry")
	cmd.Flags().BoolVar(&sboms, "sboms", false, "also write the SBOMs the catalogue pushed to the registry (PLATFORM-NAME files)")
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

// pushedDocuments is what the newest succeeded build of v pushed to a registry, the
// recipe-and-lock artifact first; nil when it pushed nothing.
func pushedDocuments(v *catalog.Version) []catalog.RegistryArtifact {
	for i := len(v.Builds) - 1; i >= 0; i-- {
		b := v.Builds[i]
		if b.Status != catalog.StatusSucceeded || len(b.Registry) == 0 {
			continue
		}
		var out []catalog.RegistryArtifact
		for _, a := range b.Registry {
			if a.Name == lockArtifactName {
				out = append([]catalog.RegistryArtifact{a}, out...)
			} else {
				out = append(out, a)
			}
		}
		if out[0].Name == lockArtifactName {
			return out
		}
	}
	return nil
}

type registryFile struct {
	name, ref string
	data      []byte
}

// pullFromRegistry reads the recipe and lock back from the artifact reg[0] and checks
// them against the catalogue's v, and with sboms reads the SBOM artifacts too.
func pullFromRegistry(ctx context.Context, v *catalog.Version, reg []catalog.RegistryArtifact, sboms bool, kc authn.Keychain) ([]registryFile, error) {
	docs, err := readArtifact(ctx, reg[0].Ref, lockArtifactType, kc)
	if err != nil {
		return nil, fmt.Errorf("reading the recipe and lock from the registry: %w", err)
	}
	got := map[string]string{}
	for _, d := range docs {
		got[d.Title] = string(d.Data)
	}
	if got["reprobuild.hcl"] != v.Recipe || got["reprobuild.lock"] != v.Lock {
		return nil, fmt.Errorf("the registry's %s does not hold the catalogue's recipe and lock of %s/%s@%d (recipe equal: %v, lock equal: %v): the registry or the catalogue was changed behind the other's back",
			reg[0].Ref, v.Namespace, v.Environment, v.Number, got["reprobuild.hcl"] == v.Recipe, got["reprobuild.lock"] == v.Lock)
	}
	if !sboms {
		return nil, nil
	}
	var out []registryFile
	for _, a := range reg[1:] {
		docs, err := readArtifact(ctx, a.Ref, "", kc)
		if err != nil {
			return nil, fmt.Errorf("reading %s from the registry: %w", a.Name, err)
		}
		if len(docs) != 1 {
			return nil, fmt.Errorf("%s (%s) has %d documents, want 1", a.Ref, a.Name, len(docs))
		}
		if filepath.Base(a.Name) != a.Name || a.Name == "." || a.Name == ".." {
			return nil, fmt.Errorf("the catalogue names an SBOM %q: not a plain file name", a.Name)
		}
		out = append(out, registryFile{name: a.Name, ref: a.Ref, data: docs[0].Data})
	}
	return out, nil
}
