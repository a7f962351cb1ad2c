package builder

import "fmt"

// Errors of Run and Launch, in the caller's terms (options, recipe lines); the CLI maps
// them to its flags.

// MountSourceError is a mount data block that Run cannot bind: no source and no host
// path given (Reason says which), a cluster-only source, or a missing host path.
type MountSourceError struct {
	Name   string // the data block
	At     string // FILE:LINE of the block or its source
	Reason string
}

func (e *MountSourceError) Error() string {
	return fmt.Sprintf("data %q (%s): %s; give a host path for it (RunOptions.Data)", e.Name, e.At, e.Reason)
}

// UnknownDataError is a host path given for a name that is no mount data block.
type UnknownDataError struct{ Name, Recipe string }

func (e *UnknownDataError) Error() string {
	return fmt.Sprintf("data %s: %s has no data block of that name with mode = \"mount\"", e.Name, e.Recipe)
}

// NotLockedError says a recipe has no lock, so nothing of it was built or pushed.
type NotLockedError struct{ Recipe string }

func (e *NotLockedError) Error() string {
	return fmt.Sprintf("%s was never locked, so no image of it was built or pushed: build and push it first", e.Recipe)
}

// NotPushedError says the current lock has no recorded push and no image was given.
type NotPushedError struct {
	LockHash string
	Damaged  string // the damaged push record, if that is why
	// ContainerDisk: what was looked for is the KubeVirt containerDisk of a VM recipe.
	ContainerDisk bool
}

func (e *NotPushedError) Error() string {
	if e.Damaged != "" {
		return fmt.Sprintf("the push record %s is damaged: push again, or give the image pinned by digest", e.Damaged)
	}
	if e.ContainerDisk {
		return fmt.Sprintf("no containerDisk of this lock (%.12s) was pushed from this machine: push one (image --output kubevirt:DIR --push), or give it pinned by digest", e.LockHash)
	}
	return fmt.Sprintf("this lock (%.12s) was never pushed from this machine: push it, or give the image pinned by digest", e.LockHash)
}

// UnpinnedImageError is an image reference given without a digest.
type UnpinnedImageError struct{ Ref string }

func (e *UnpinnedImageError) Error() string {
	return fmt.Sprintf("image %q is not pinned by digest: give REF@sha256:<64 hex digits> (image --push prints it)", e.Ref)
}

// UnknownTargetError is a launch target that is none of kubernetes, slurm, apptainer.
type UnknownTargetError struct{ To string }

func (e *UnknownTargetError) Error() string {
	return fmt.Sprintf("launch target %q: want kubernetes, slurm or apptainer", e.To)
}
