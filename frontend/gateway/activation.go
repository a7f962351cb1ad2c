package gateway

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	gwclient "github.com/moby/buildkit/frontend/gateway/client"

	"github.com/reprobuild/reprobuild/frontend"
	"github.com/reprobuild/reprobuild/internal/activate"
)

// activateTarget reads the activation scripts of the solved tree (ref) and sets the
// target's config to the plan's decision for them, as the embedded engine does with the
// scripts of its layers. The tree is read inside BuildKit: nothing is downloaded to the
// client.
func activateTarget(ctx context.Context, ref gwclient.Reference, t *frontend.Target) error {
	dir := t.Build.Plan.ActivationDir()
	scripts, err := readScripts(ctx, ref, dir, t.Build.Plan.Prefix)
	if err != nil {
		return fmt.Errorf("reading the activation scripts of %s in /%s: %w", t.Build.Subdir, dir, err)
	}
	if len(scripts) == 0 {
		return nil
	}
	// The embedded engine looks for the shell in the base's layers; here the whole tree
	// is read, which differs only if a baked data file were /bin/sh.
	shell := false
	for _, p := range []string{"bin/sh", "usr/bin/sh"} {
		ok, err := exists(ctx, ref, p)
		if err != nil {
			return fmt.Errorf("looking for /%s in %s: %w", p, t.Build.Subdir, err)
		}
		shell = shell || ok
	}
	return t.Activate(scripts, shell)
}

// readScripts reads the activation scripts of the environment at prefix from dir (an
// image path without leading slash), nil when dir does not exist.
func readScripts(ctx context.Context, ref gwclient.Reference, dir, prefix string) ([]activate.Script, error) {
	ok, err := exists(ctx, ref, dir)
	if err != nil || !ok {
		return nil, err
	}
	stats, err := ref.ReadDir(ctx, gwclient.ReadDirRequest{Path: "/" + dir, IncludePattern: "*.sh"})
	if err != nil {
		return nil, err
	}
	var out []activate.Script
	for _, st := range stats {
		p := path.Join(dir, path.Base(st.Path))
		if !activate.IsScript(p, prefix) {
			continue
		}
		if !fs.FileMode(st.Mode).IsRegular() {
			out = append(out, activate.NotRegular(p, st.Linkname))
			continue
		}
		b, err := ref.ReadFile(ctx, gwclient.ReadRequest{Filename: "/" + p, Range: &gwclient.FileRange{Length: activate.MaxScriptSize}})
		if err != nil {
			return nil, err
		}
		out = append(out, activate.Script{Path: p, Data: b})
	}
	return out, nil
}

// exists reports whether p (an image path without leading slash) exists in the tree,
// walking down from the root so that a missing path is an empty listing, not an error.
func exists(ctx context.Context, ref gwclient.Reference, p string) (bool, error) {
	parent := "/"
	for _, name := range strings.Split(p, "/") {
		stats, err := ref.ReadDir(ctx, gwclient.ReadDirRequest{Path: parent, IncludePattern: name})
		if err != nil {
			return false, err
		}
		found := false
		for _, st := range stats {
			if path.Base(st.Path) == name {
				found = true
			}
		}
		if !found {
			return false, nil
		}
		parent = path.Join(parent, name)
	}
	return true, nil
}
