package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprobuild/reprobuild/frontend"
)

// Solve solves every compiled target through a gateway client and returns them as one
// result: a single ref for one target, or refs keyed by platform (exported as an index)
// for several. The CLI's BuildKit engine and the gateway frontend both use it.
// Each target's annotations go on its image manifest, as result metadata the exporter
// reads.
func Solve(ctx context.Context, c gwclient.Client, ts *frontend.Targets) (*gwclient.Result, error) {
	if ts == nil || len(ts.Targets) == 0 {
		return nil, fmt.Errorf("nothing to build: the lock has no targets")
	}
	imports, err := cacheImports(c)
	if err != nil {
		return nil, err
	}
	res := gwclient.NewResult()
	var ps exptypes.Platforms
	for _, t := range ts.Targets {
		var plat *ocispecs.Platform
		if len(ts.Targets) > 1 {
			plat = &t.Build.Platform
		}
		keys := make([]string, 0, len(t.Annotations))
		for k := range t.Annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			res.AddMeta(exptypes.AnnotationManifestKey(plat, k), []byte(t.Annotations[k]))
		}
		def, err := t.Build.Marshal(ctx)
		if err != nil {
			return nil, fmt.Errorf("marshalling %s: %w", t.Build.Subdir, err)
		}
		r, err := c.Solve(ctx, gwclient.SolveRequest{Definition: def.ToPB(), CacheImports: imports})
		if err != nil {
			return nil, fmt.Errorf("building %s: %w", t.Build.Subdir, err)
		}
		ref, err := r.SingleRef()
		if err != nil {
			return nil, err
		}
		if err := activateTarget(ctx, c, &t, imports); err != nil {
			return nil, err
		}
		if len(ts.Targets) == 1 {
			res.SetRef(ref)
			res.AddMeta(exptypes.ExporterImageConfigKey, t.Config)
			return res, nil
		}
		id := platforms.FormatAll(t.Build.Platform)
		res.AddRef(id, ref)
		res.AddMeta(exptypes.ExporterImageConfigKey+"/"+id, t.Config)
		ps.Platforms = append(ps.Platforms, exptypes.Platform{ID: id, Platform: t.Build.Platform})
	}
	dt, err := json.Marshal(ps)
	if err != nil {
		return nil, err
	}
	res.AddMeta(exptypes.ExporterPlatformsKey, dt)
	return res, nil
}

// cacheImports are the caches the client asked to import (buildctl --import-cache,
// SolveOpt.CacheImports), which a gateway build must pass on with its solves: BuildKit
// hands them to the frontend as the "cache-imports" option (JSON).
func cacheImports(c gwclient.Client) ([]gwclient.CacheOptionsEntry, error) {
	raw := c.BuildOpts().Opts["cache-imports"]
	if raw == "" {
		return nil, nil
	}
	var entries []struct {
		Type  string
		Attrs map[string]string
	}
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return nil, fmt.Errorf("the cache-imports option %q is not JSON: %w", raw, err)
	}
	out := make([]gwclient.CacheOptionsEntry, len(entries))
	for i, e := range entries {
		out[i] = gwclient.CacheOptionsEntry{Type: e.Type, Attrs: e.Attrs}
	}
	return out, nil
}
