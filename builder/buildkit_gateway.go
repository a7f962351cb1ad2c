package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"

	"github.com/reprobuild/reprobuild/frontend"
)

// BuildKitTarget is one compiled platform with its image config (JSON).
type BuildKitTarget struct {
	Build  *frontend.Build
	Config []byte
}

// SolveTargets solves every target through a gateway client and returns them as one
// result: a single ref for one target, or refs keyed by platform (exported as an index)
// for several. builder.BuildKit and the gateway frontend both use it.
// Annotations go on every image manifest, as result metadata the exporter reads.
func SolveTargets(ctx context.Context, c gwclient.Client, targets []BuildKitTarget, annotations map[string]string) (*gwclient.Result, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("nothing to build: the lock has no targets")
	}
	res := gwclient.NewResult()
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		res.AddMeta(exptypes.AnnotationManifestKey(nil, k), []byte(annotations[k]))
	}
	var ps exptypes.Platforms
	for _, t := range targets {
		def, err := t.Build.Marshal(ctx)
		if err != nil {
			return nil, fmt.Errorf("marshalling %s: %w", t.Build.Subdir, err)
		}
		r, err := c.Solve(ctx, gwclient.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return nil, fmt.Errorf("building %s: %w", t.Build.Subdir, err)
		}
		ref, err := r.SingleRef()
		if err != nil {
			return nil, err
		}
		if len(targets) == 1 {
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
