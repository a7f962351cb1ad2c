package gateway

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"

	"github.com/reprobuild/reprobuild/frontend"
)

// Target is one compiled platform with its image config (JSON).
type Target struct {
	Build  *frontend.Build
	Config []byte
}

// Result solves every target and returns them as one gateway result: a single ref for
// one target, or refs keyed by platform (exported as an index) for several.
func Result(ctx context.Context, c gwclient.Client, targets []Target) (*gwclient.Result, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("nothing to build: the lock has no targets")
	}
	res := gwclient.NewResult()
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
