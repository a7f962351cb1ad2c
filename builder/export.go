package builder

import (
	"fmt"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// Export formats.
const (
	FormatExplicit    = "explicit"
	FormatCondaLock   = "conda-lock"
	FormatEnvironment = "environment"
)

// ExportOptions selects what Export writes.
type ExportOptions struct {
	// Format is FormatExplicit, FormatCondaLock or FormatEnvironment.
	Format string
	// Platform picks the target for the single-platform formats (explicit,
	// environment). Empty means the recipe's first target.
	Platform string
}

// Export writes the recipe's lock in another format. It refuses a lock that no longer
// matches the recipe, since the export would then describe something the recipe does not
// ask for.
func Export(r *recipes.Recipe, l *lock.Lock, opts ExportOptions) ([]byte, error) {
	if l.RecipeHash != r.Hash() {
		return nil, fmt.Errorf("export: %s does not match %s (the recipe changed since it was locked); run `reprobuild lock` first", LockPath(r), r.Filename)
	}
	platform := opts.Platform
	if platform == "" {
		platform = r.Targets()[0]
	}
	switch opts.Format {
	case FormatExplicit:
		return lock.ExportExplicit(l, platform)
	case FormatCondaLock:
		return lock.ExportCondaLock(l)
	case FormatEnvironment:
		name := r.Image.Name
		if name == "" {
			name = "reprobuild"
		}
		return lock.ExportEnvironment(l, platform, name)
	default:
		return nil, fmt.Errorf("export: unknown format %q; use %s, %s or %s", opts.Format, FormatExplicit, FormatCondaLock, FormatEnvironment)
	}
}
