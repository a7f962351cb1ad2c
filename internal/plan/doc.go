// Package plan decides, once, everything an engine needs to build one target of a locked
// recipe: the OCI platform, the environment prefix and python version, the package
// layer groups in link order, reprobuild's own files (runtime record, SBOMs), the baked
// data, the image config, labels and annotations, the pinned base, the layer history and
// the epoch. The embedded engine executes a Plan; the frontend compiles it to LLB; other
// outputs (VM disks, SIF files, launch specs) read it. Engines that consume the same
// Plan cannot disagree on any of these decisions.
//
// It is pure: no I/O, no clock, no environment; what only the build knows (version,
// engine name, an epoch override, the layer budget) comes in as Info. What only the
// linked tree holds, the packages' activation scripts, comes in to Plan.Activation: the
// one decision of how they take effect, which every engine executes with the scripts of
// the tree it built.
//
// It may import recipes, internal/activate, internal/conda, internal/lock,
// internal/record, internal/install (for the Entry type), internal/image (for the layer
// plan and config types), go-containerregistry's v1 types and the standard library.
package plan
