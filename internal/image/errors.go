package image

import "fmt"

// EntryError reports an install.Entry that cannot be put in a layer.
type EntryError struct {
	Path   string
	Reason string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("layer entry %q: %s", e.Path, e.Reason)
}

// ConfigError reports an image Config field that cannot be used.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("image config %s: %s", e.Field, e.Reason)
}

// UnpinnedBaseError is returned when a registry base image is named by tag only.
// Tags move, so an image built on one is not reproducible.
type UnpinnedBaseError struct {
	Ref string
}

func (e *UnpinnedBaseError) Error() string {
	return fmt.Sprintf("base image %q is not pinned by digest: write it as %s@sha256:<digest> "+
		"(find the digest with `skopeo inspect docker://%s` or `crane digest %s`), or allow tags explicitly",
		e.Ref, e.Ref, e.Ref, e.Ref)
}

// BaseError reports a base image reference that cannot be loaded.
type BaseError struct {
	Ref    string
	Reason string
	Err    error
}

func (e *BaseError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("base image %q: %s: %v", e.Ref, e.Reason, e.Err)
	}
	return fmt.Sprintf("base image %q: %s", e.Ref, e.Reason)
}

func (e *BaseError) Unwrap() error { return e.Err }
