package builder

import (
	"context"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// prepareLockFor is PrepareLock as the image options ask: with Frozen (the CLI's
// --frozen, as pixi, uv and cargo mean it) the lock is used as it is, without checking
// it against the recipe or solving; with Locked (the CLI's --locked) a missing or stale
// lock is an error; otherwise a missing or stale lock is relocked first.
//
// It then refuses targets no image can hold (checkImagePlatforms), before anything is
// fetched or built.
func prepareLockFor(ctx context.Context, o ImageOptions) (*recipes.Recipe, *lock.Lock, bool, error) {
	var (
		r      *recipes.Recipe
		l      *lock.Lock
		locked bool
		err    error
	)
	if o.Frozen {
		if r, err = LoadRecipe(o.Recipe, o.Vars); err == nil {
			l, err = LoadLock(r)
		}
		// Unchecked against the recipe, but never unusable on its own terms: a package
		// whose dependency was removed from the lock (or one without url or sha256)
		// cannot give a working environment.
		if err == nil {
			if ps := lock.Problems(l); len(ps) > 0 {
				err = &FrozenLockError{Recipe: o.Recipe, Err: &lock.StaleError{Reasons: ps}}
			}
		}
	} else {
		r, l, locked, err = PrepareLock(ctx, o.Recipe, o.Vars, o.Locked, o.Channel)
	}
	if err != nil {
		return nil, nil, false, err
	}
	if err := checkImagePlatforms(ctx, r, l, o.Platforms, o.Keychain); err != nil {
		return nil, nil, false, err
	}
	return r, l, locked, nil
}
