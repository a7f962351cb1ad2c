package solver

import (
	"errors"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// Spec is one requested package, with where the user asked for it.
type Spec struct {
	MatchSpec conda.MatchSpec
	Text      string // as the user wrote it
	Origin    string // where it came from, e.g. "reprobuild.hcl:12,5" (shown in explanations)
}

// ChannelRecords is the content of one channel (all its subdirs) for a solve.
type ChannelRecords struct {
	Name, URL string
	Records   []conda.PackageRecord
	// Subdirs holds further records of the same channel (its noarch subdir beside the
	// platform's), read after Records as if appended to it: a caller with one slice per
	// subdir passes them without copying hundreds of thousands of records into one.
	Subdirs [][]conda.PackageRecord
	// Indexes holds further subdirs of the channel indexed by name, read after Subdirs:
	// only the records of the names a solve reaches are decoded. The answer is the
	// one the same records passed in Records or Subdirs give.
	Indexes []*conda.RepodataIndex
	// Allow is an optional allow-list of package-name globs (path.Match syntax); when
	// set, other names are invisible in this channel.
	Allow []string
}

// Channel priority modes, as conda names them.
const (
	PriorityStrict   = "strict"
	PriorityFlexible = "flexible"
	PriorityDisabled = "disabled"
)

// Task is everything a solve depends on. Solve never reads anything else, so equal
// tasks give equal solutions.
type Task struct {
	Specs    []Spec
	Channels []ChannelRecords // priority order, first is highest
	// Constraints restrict a name if it ends up installed, without requesting it
	// (conda's pinned or constrained specs).
	Constraints []Spec
	// Virtual are always installed and fixed (see conda.VirtualPackages).
	Virtual []conda.PackageRecord
	// Locked is a previous solution: its records are kept unless they must move.
	Locked []conda.PackageRecord
	// Update frees these names from Locked (--update NAME).
	Update []string
	// ChannelPriority is "strict" (the default when empty), "flexible" or "disabled".
	ChannelPriority string
	// ExcludeNewer hides records with a later timestamp (ms since the epoch); 0 = none.
	// Records without a timestamp stay visible, as in rattler.
	ExcludeNewer int64
}

// Solution is the chosen records, sorted by name, virtual packages excluded.
type Solution struct {
	Records []conda.PackageRecord
}

// TaskError reports a task that cannot be solved as given (not a conflict between
// packages), such as an unknown channel priority.
type TaskError struct{ Reason string }

func (e *TaskError) Error() string { return "solver: invalid task: " + e.Reason }

var errCanceled = errors.New("solver: canceled")
