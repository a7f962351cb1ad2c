package frontend

import (
	"encoding/json"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// ImageSettings maps the recipe and lock onto the embedded engine's image.Config, so
// both engines set the same config fields. r may be nil (no runtime block, no labels).
func ImageSettings(r *recipes.Recipe, l *lock.Lock, b *Build, prefix string, epoch time.Time) image.Config {
	if prefix == "" && r != nil {
		prefix = r.Image.Prefix
	}
	if prefix == "" {
		prefix = recipes.DefaultPrefix
	}
	c := image.Config{
		Platform: v1.Platform{OS: b.Platform.OS, Architecture: b.Platform.Architecture, Variant: b.Platform.Variant},
		Prefix:   prefix,
		Epoch:    epoch,
	}
	if r != nil {
		c.Entrypoint = nilIfEmpty(r.Runtime.Entrypoint)
		c.Cmd = nilIfEmpty(r.Runtime.Cmd)
		c.Env = r.Runtime.Env
		c.Workdir = r.Runtime.Workdir
		c.User = r.Runtime.User
		c.Labels = r.Image.Labels
	}
	if l != nil {
		for _, d := range l.Data {
			if d.Mode == "mount" {
				c.Volumes = append(c.Volumes, d.Path)
			}
		}
	}
	return c
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// ImageConfig is the config JSON to pass as the exporter's containerimage.config:
// image.ConfigFile over the base's config (nil for scratch), with one history entry per
// layer the graph adds. Giving every history entry keeps BuildKit from describing layers
// by how it obtained them (an exec, or a cache import), which would change the digest
// when a team shares a cache. The creation time and our history times are left out:
// BuildKit only lowers times to its source-date-epoch, so it must fill them itself.
func ImageConfig(base *v1.ConfigFile, c image.Config, b *Build) ([]byte, error) {
	cf, err := image.ConfigFile(base, c)
	if err != nil {
		return nil, err
	}
	history := make([]ocispecs.History, 0, len(cf.History)+len(b.History))
	for _, h := range cf.History {
		e := ocispecs.History{CreatedBy: h.CreatedBy, Author: h.Author, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if !h.Created.IsZero() {
			t := h.Created.Time
			e.Created = &t
		}
		history = append(history, e)
	}
	history = append(history, b.History...)
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
