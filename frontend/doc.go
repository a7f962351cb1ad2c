// Package frontend compiles a lock (and its recipe) into a BuildKit LLB graph and an OCI
// image config. It is pure: no network, no disk, no clock; the same input marshals to the
// same bytes, so the graph can be golden-tested and its digest means something.
//
// Each locked package becomes an llb.HTTP source pinned by its sha256 (file:// channels
// become a named local context). Packages are linked in exec steps that run the
// reprobuild binary itself ("reprobuild link"), one step per layer group, each writing
// into an empty mount; the groups and the base are then joined with llb.Merge so a change
// to one group leaves the others cached.
//
// It may import the conda, lock, recipes and image (for the shared layer plan and image
// config) packages, go-containerregistry's v1 types and BuildKit's client/llb.
package frontend
