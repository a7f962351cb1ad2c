package builder

import (
	"errors"
	"fmt"
)

// The builder's errors name what is wrong in the caller's terms (the option, the file),
// never a command-line flag: the CLI maps them to its flags.

// FrozenLockError says the lock is missing or stale and the caller forbade locking
// (ImageOptions.Locked, the CLI's --locked).
type FrozenLockError struct {
	Recipe string // the recipe path
	Err    error  // why the lock cannot be used (a *MissingLockError or *lock.StaleError)
}

func (e *FrozenLockError) Error() string {
	return fmt.Sprintf("frozen: %v; lock %s first", e.Err, e.Recipe)
}

func (e *FrozenLockError) Unwrap() error { return e.Err }

// OutputError is an output destination (ImageOptions.Output) that cannot be written.
type OutputError struct {
	Output string // as given, e.g. "oci:DIR"
	Reason string
	Err    error
}

func (e *OutputError) Error() string {
	s := fmt.Sprintf("output %q: %s", e.Output, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *OutputError) Unwrap() error { return e.Err }

// NoTagsError says a push was asked for with no tags given and none in the recipe.
type NoTagsError struct{ Recipe string }

func (e *NoTagsError) Error() string {
	return fmt.Sprintf("push: no image tags given and none in image.tags of %s", e.Recipe)
}

// ErrNoBuildKitAddr is returned when a BuildKit build has no daemon address.
var ErrNoBuildKitAddr = errors.New("buildkit: no buildkitd address")
