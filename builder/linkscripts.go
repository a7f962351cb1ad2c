package builder

import (
	"context"
	"slices"

	"github.com/reprobuild/reprobuild/internal/install"
)

// LinkScripts looks into the locked packages' archives for pre/post-link and pre-unlink
// scripts (which reprobuild never runs, so an image may lack what they would have done).
// It uses only the cache and file:// channels, never the network: it returns nil when
// the lock is missing or an archive is not at hand, meaning "unknown".
func LinkScripts(ctx context.Context, recipePath string, vars map[string]string, co ChannelOptions) map[string][]string {
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
	out := map[string][]string{}
	for _, t := range l.Targets {
		paths, err := client.Fetch(ctx, downloadsFor(r, t.Packages))
		if err != nil {
			return nil
		}
		for i, p := range t.Packages {
			tree, err := install.Link(ctx, install.Package{Record: p, Archive: paths[i]}, install.Options{Prefix: r.Image.Prefix, PythonVersion: "3.99"})
			if err != nil {
				return nil
			}
			if len(tree.LinkScripts) > 0 {
				out[p.Name] = slices.Compact(append(out[p.Name], tree.LinkScripts...))
			}
		}
	}
	return out
}
