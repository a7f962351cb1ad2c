// Package frontend compiles build plans (internal/plan) into BuildKit LLB graphs and OCI
// image configs. It is pure: no network, no disk, no clock; the same plan marshals to the
// same bytes, so the graph can be golden-tested and its digest means something.
//
// Each locked package becomes an llb.HTTP source pinned by its sha256 (file:// channels
// become a named local context). Packages are linked in exec steps that run the
// reprobuild binary itself ("reprobuild link"), one step per planned layer group in the
// plan's link order, each writing into an empty mount; reprobuild's own files and the
// baked data follow, and all are joined with llb.Merge over the base so a change to one
// group leaves the others cached. CompileTargets is the one function the gateway
// frontend, `reprobuild llb` and `reprobuild image --engine buildkit` compile through.
//
// It may import internal/plan, internal/activate, internal/conda, internal/lock,
// internal/install (for the Entry type), internal/image (for the image config), recipes,
// go-containerregistry's v1 types and BuildKit's client/llb. It must not import builder.
package frontend
