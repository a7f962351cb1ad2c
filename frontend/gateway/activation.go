package gateway

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/moby/buildkit/client/llb"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"

	"github.com/reprobuild/reprobuild/frontend"
	"github.com/reprobuild/reprobuild/internal/activate"
)

// activateTarget reads the activation scripts of the solved layer groups and sets the
// target's config to the plan's decision for them, as the embedded engine does with the
// scripts of its layers. The trees are read inside BuildKit (nothing is downloaded to
// the client), from each group's own output, in layer order; the base is read only if
// the scripts must be sourced at start and the image needs a shell (by the caller, when
// it set Target.BaseHasShell).
func activateTarget(ctx context.Context, c gwclient.Client, t *frontend.Target, imports []gwclient.CacheOptionsEntry) error {
	b := t.Build
	dir := b.Plan.ActivationDir()
	var scripts []activate.Script
	for i, g := range b.Groups {
		ref, err := solvePart(ctx, c, b, g, imports)
		if err != nil {
			return fmt.Errorf("%s: layer group %d: %w", b.Subdir, i+1, err)
		}
		found, err := readScripts(ctx, ref, dir, b.Plan.Prefix)
		if err != nil {
			return fmt.Errorf("reading the activation scripts of %s in /%s: %w", b.Subdir, dir, err)
		}
		scripts = append(scripts, found...)
	}
	if len(scripts) == 0 {
		return nil
	}
	if t.BaseHasShell != nil {
		return t.Activate(scripts, t.BaseHasShell)
	}
	return t.Activate(scripts, func() (bool, error) {
		ref, err := solvePart(ctx, c, b, b.Base, imports)
		if err != nil {
			return false, err
		}
		for _, p := range []string{"bin/sh", "usr/bin/sh"} {
			if ok, err := exists(ctx, ref, p); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	})
}

// solvePart solves a part of a compiled target (already solved as part of the whole).
func solvePart(ctx context.Context, c gwclient.Client, b *frontend.Build, st llb.State, imports []gwclient.CacheOptionsEntry) (gwclient.Reference, error) {
	def, err := b.MarshalPart(ctx, st)
	if err != nil {
		return nil, err
	}
	r, err := c.Solve(ctx, gwclient.SolveRequest{Definition: def.ToPB(), CacheImports: imports})
	if err != nil {
		return nil, err
	}
	return r.SingleRef()
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
