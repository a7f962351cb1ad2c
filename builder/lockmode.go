package builder

import (
	"context"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// prepareLockFor is PrepareLock as the image options ask: with LockAsIs (the CLI's
// --frozen, as pixi, uv and cargo mean it) the lock is used as it is, without checking
// it against the recipe or solving; with Frozen (the CLI's --locked) a missing or stale
// lock is an error; otherwise a missing or stale lock is relocked first.
func prepareLockFor(ctx context.Context, o ImageOptions) (*recipes.Recipe, *lock.Lock, bool, error) {
	if !o.LockAsIs {
		return PrepareLock(ctx, o.Recipe, o.Vars, o.Frozen, o.Channel)
	}
	r, err := LoadRecipe(o.Recipe, o.Vars)
	if err != nil {
		return nil, nil, false, err
	}
	l, err := LoadLock(r)
	if err != nil {
		return nil, nil, false, err
	}
	return r, l, false, nil
}
