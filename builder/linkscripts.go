package builder

import (
	"context"
	"slices"

	"github.com/reprobuild/reprobuild/internal/activate"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/recipes"
)

// PackageScripts is what the locked packages' archives carry that the audit reports:
// per package, the pre/post-link and pre-unlink scripts (which reprobuild never runs, so
// an image may lack what they would have done) and the activation scripts the image
// applies (as environment when exact, else sourced by the entrypoint), as image paths.
type PackageScripts struct {
	Link       map[string][]string
	Activation map[string][]string
}

// ReadPackageScripts links every locked package once and collects both kinds of
// scripts. It uses only the cache and file:// channels, never the network: it returns
// nil when the lock is missing or an archive is not at hand, meaning "unknown".
func ReadPackageScripts(ctx context.Context, recipePath string, vars map[string]string, co ChannelOptions) *PackageScripts {
	r, err := LoadRecipe(recipePath, vars)
	if err != nil {
		return nil
	}
	l, err := LoadLock(r)
	if err != nil {
		return nil
	}
	co.Offline, co.Progress = true, nil
	client, err := NewChannelClient(co)
	if err != nil {
		return nil
	}
	prefix := r.Image.Prefix
	if prefix == "" {
		prefix = recipes.DefaultPrefix
	}
	out := &PackageScripts{Link: map[string][]string{}, Activation: map[string][]string{}}
	for _, t := range l.Targets {
		paths, err := client.Fetch(ctx, downloadsFor(r, t.Packages))
		if err != nil {
			return nil
		}
		for i, p := range t.Packages {
			tree, err := install.Link(ctx, install.Package{Record: p, Archive: paths[i]}, install.Options{Prefix: prefix, PythonVersion: "3.99"})
			if err != nil {
				return nil
			}
			if len(tree.LinkScripts) > 0 {
				out.Link[p.Name] = slices.Compact(append(out.Link[p.Name], tree.LinkScripts...))
			}
			for _, e := range tree.Entries {
				if activate.IsScript(e.Path, prefix) && !slices.Contains(out.Activation[p.Name], "/"+e.Path) {
					out.Activation[p.Name] = append(out.Activation[p.Name], "/"+e.Path)
				}
			}
		}
	}
	return out
}
