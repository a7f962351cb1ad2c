package lock

import "github.com/reprobuild/reprobuild/internal/conda"

// FormatVersion is the version of the reprobuild.lock format this package writes.
const FormatVersion = 1

// Lock is the solved, exact record of a recipe: everything a build needs, with no
// reference to the machine that produced it.
type Lock struct {
	Version int `json:"version"`
	// RecipeHash is the sha256 of the recipe's semantic content (recipes.Recipe.Hash).
	RecipeHash string `json:"recipe_hash"`
	// Channels in priority order, with canonical URLs (mirrors are a build-time choice
	// and are not recorded).
	Channels []Channel `json:"channels"`
	// PyPI are the package indexes pip packages were locked from, in priority order,
	// with their canonical URLs (mirrors are not recorded).
	PyPI   []Channel `json:"pypi,omitempty"`
	Solver Solver    `json:"solver"`
	Base   Base      `json:"base"`
	Data   []Data    `json:"data,omitempty"`
	// Targets are sorted by platform name.
	Targets []Target `json:"targets"`
}

// Channel is one channel the lock was solved against.
type Channel struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Solver records the solver settings that shaped the lock.
type Solver struct {
	ChannelPriority string `json:"channel_priority"` // strict | flexible | disabled
	// ExcludeNewer is an RFC 3339 UTC time, or empty.
	ExcludeNewer string `json:"exclude_newer,omitempty"`
}

// Base is the base image of the runtime.
type Base struct {
	// Ref is "scratch", a registry reference, or "oci:PATH".
	Ref string `json:"ref"`
	// Digest is the manifest digest the reference was pinned to ("" for scratch).
	Digest string `json:"digest,omitempty"`
}

// Data is one data source declared by the recipe.
type Data struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
	Path   string `json:"path"`
	Mode   string `json:"mode"` // bake | mount
}

// Target is the solution for one platform.
type Target struct {
	Platform string `json:"platform"`
	// Virtual are the virtual packages assumed for this target (e.g. __glibc, __cuda).
	Virtual []VirtualPackage `json:"virtual,omitempty"`
	// Packages are sorted by name.
	Packages []conda.PackageRecord `json:"packages"`
	// Pip are the PyPI packages, installed as wheels after the conda packages.
	Pip []PipPackage `json:"pip,omitempty"`
}

// PipPackage is a PyPI package pinned by wheel URL and hash.
type PipPackage struct {
	Name    string `json:"name"` // PEP 503 normalised
	Version string `json:"version"`
	URL     string `json:"url"` // the wheel
	SHA256  string `json:"sha256,omitempty"`
	// Index is the name of the pypi block it was locked from ("" when imported).
	Index string `json:"index,omitempty"`
	// RequiresPython is the wheel's requires-python as the index published it.
	RequiresPython string `json:"requires_python,omitempty"`
	// Requested lists what it satisfies: recipe requirements and the "name==version"
	// of packages that depend on it, sorted.
	Requested []string `json:"requested,omitempty"`
	Depends   []string `json:"depends,omitempty"`
}

// VirtualPackage is a virtual package assumed present on a target.
type VirtualPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Build   string `json:"build,omitempty"`
}

// Target returns the target for platform, or nil.
func (l *Lock) Target(platform string) *Target {
	for i := range l.Targets {
		if l.Targets[i].Platform == platform {
			return &l.Targets[i]
		}
	}
	return nil
}
