package builder

import (
	"fmt"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// Export formats.
const (
	FormatExplicit    = "explicit"
	FormatCondaLock   = "conda-lock"
	FormatEnvironment = "environment"
	FormatPixi        = "pixi"
)

// ExportOptions selects what Export writes.
type ExportOptions struct {
	// Format is FormatExplicit, FormatCondaLock, FormatEnvironment or FormatPixi.
	Format string
	// Platform picks the target for the single-platform formats (explicit,
	// environment). Empty means the recipe's first target.
	Platform string
	// Hash is the checksum an explicit file's lines carry: "sha256" (the default) or
	// "md5" (for conda older than 24.9, which reads no other).
	Hash string
}

// Export writes the recipe's lock in another format. It refuses a lock that no longer
// matches the recipe, since the export would then describe something the recipe does not
// ask for. Channel and package locations relative to the recipe (a file:// channel
// written as "../channel") become absolute file:// URLs, so the export works from any
// directory.
func Export(r *recipes.Recipe, l *lock.Lock, opts ExportOptions) ([]byte, error) {
	if l.RecipeHash != r.Hash() {
		return nil, fmt.Errorf("export: %s does not match %s (the recipe changed since it was locked); run `reprobuild lock` first", LockPath(r), r.Filename)
	}
	l = absoluteLocations(r, l)
	platform := opts.Platform
	if platform == "" {
		platform = r.Targets()[0]
	}
	switch opts.Format {
	case FormatExplicit:
		hash := opts.Hash
		if hash == "" {
			hash = "sha256"
		}
		return lock.ExportExplicitHash(l, platform, hash)
	case FormatCondaLock:
		return lock.ExportCondaLock(l)
	case FormatPixi:
		return lock.ExportPixi(l)
	case FormatEnvironment:
		name := r.Image.Name
		if name == "" {
			name = "reprobuild"
		}
		return lock.ExportEnvironment(l, platform, name)
	default:
		return nil, fmt.Errorf("export: unknown format %q; use %s, %s, %s or %s", opts.Format, FormatExplicit, FormatCondaLock, FormatEnvironment, FormatPixi)
	}
}

// absoluteLocations returns a copy of l whose channel and package URLs are absolute:
// relative ones are resolved against the recipe's directory.
func absoluteLocations(r *recipes.Recipe, l *lock.Lock) *lock.Lock {
	cp := *l
	cp.Channels = slices.Clone(l.Channels)
	for i := range cp.Channels {
		cp.Channels[i].URL = r.ResolveURL(cp.Channels[i].URL)
	}
	cp.Targets = slices.Clone(l.Targets)
	for i := range cp.Targets {
		pk := slices.Clone(cp.Targets[i].Packages)
		for j := range pk {
			if pk[j].URL != "" {
				pk[j].URL = r.ResolveURL(pk[j].URL)
			}
			if pk[j].Channel != "" && !strings.HasPrefix(pk[j].Channel, "@") {
				pk[j].Channel = r.ResolveURL(pk[j].Channel)
			}
		}
		cp.Targets[i].Packages = pk
	}
	return &cp
}
