package frontend

import (
	"path"
	"sort"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprobuild/reprobuild/recipes"
)

// Config is the image config for a build when no config from the embedded engine's
// image package is supplied: platform, PATH with the environment first, and the
// recipe's runtime block and labels. BuildKit fills the rootfs and history; the
// exporter's source-date-epoch sets the creation time.
func Config(r *recipes.Recipe, b *Build, prefix string) ocispecs.Image {
	if prefix == "" && r != nil {
		prefix = r.Image.Prefix
	}
	if prefix == "" {
		prefix = recipes.DefaultPrefix
	}
	img := ocispecs.Image{Platform: b.Platform}
	env := []string{"PATH=" + path.Join(prefix, "bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if r != nil {
		keys := make([]string, 0, len(r.Runtime.Env))
		for k := range r.Runtime.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			env = append(env, k+"="+r.Runtime.Env[k])
		}
		img.Config.Entrypoint = r.Runtime.Entrypoint
		img.Config.Cmd = r.Runtime.Cmd
		img.Config.WorkingDir = r.Runtime.Workdir
		img.Config.User = r.Runtime.User
		if len(r.Image.Labels) > 0 {
			img.Config.Labels = map[string]string{}
			for k, v := range r.Image.Labels {
				img.Config.Labels[k] = v
			}
		}
	}
	img.Config.Env = env
	// With no base layers the history is fully known; giving it keeps BuildKit from
	// describing layers by how it obtained them (an exec, or a cache import), which
	// would change the digest when a cache is shared.
	if b.ScratchBase {
		img.History = b.History
	}
	return img
}
