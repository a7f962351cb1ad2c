package frontend

import (
	"encoding/json"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/plan"
)

// ImageConfig is the config JSON to pass as the exporter's containerimage.config:
// image.ConfigFile of the plan's config over the base's config (nil for scratch), the
// embedded engine's function, with the plan's history for the layers the graph adds.
// Giving every history entry keeps BuildKit from describing layers by how it obtained
// them (an exec, or a cache import), which would change the digest when a team shares a
// cache. The creation time and our history times are left out: BuildKit only lowers
// times to its source-date-epoch (the plan's epoch), so it must fill them itself.
func ImageConfig(base *v1.ConfigFile, p *plan.Plan) ([]byte, error) {
	cf, err := image.ConfigFile(base, p.Config)
	if err != nil {
		return nil, err
	}
	history := make([]ocispecs.History, 0, len(cf.History)+len(p.History))
	for _, h := range cf.History {
		e := ocispecs.History{CreatedBy: h.CreatedBy, Author: h.Author, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if !h.Created.IsZero() {
			t := h.Created.Time
			e.Created = &t
		}
		history = append(history, e)
	}
	for _, h := range p.History {
		history = append(history, ocispecs.History{CreatedBy: h.CreatedBy, Author: h.Author, Comment: h.Comment, EmptyLayer: h.EmptyLayer})
	}
	dt, err := json.Marshal(cf)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(dt, &m); err != nil {
		return nil, err
	}
	delete(m, "created")
	delete(m, "rootfs") // BuildKit computes the layer list itself.
	if m["history"], err = json.Marshal(history); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}
