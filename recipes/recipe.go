package recipes

import "github.com/hashicorp/hcl/v2"

// DefaultFilename is the recipe file name commands look for.
const DefaultFilename = "reprobuild.hcl"

// DefaultPrefix is where the conda environment lives inside the image.
const DefaultPrefix = "/opt/env"

// Recipe is a decoded, validated reprobuild.hcl. Nodes keep their source ranges so later
// stages (solver conflicts, missing packages) can point back at the line that caused
// them.
type Recipe struct {
	// Filename is the recipe path as the user gave it; Dir is its directory, used to
	// resolve relative channel and data paths. Neither is part of Hash.
	Filename string
	Dir      string
	// Source is the bytes the recipe was parsed from: source maps and diagnostics come
	// from them, never from a second read of a file that may have changed. Not part of
	// Hash.
	Source []byte

	Reproducibility Reproducibility
	Image           Image
	Python          *Python
	Channels        []Channel // block order = priority, first is highest
	Solver          Solver
	Dependencies    Dependencies
	Platform        Platform
	Hardware        Hardware
	Data            []Data
	Runtime         Runtime
	Licenses        LicensePolicy
	VM              *VM // nil without a vm block

	// Warnings are the non-fatal diagnostics of the decode (e.g. an unpinned base
	// image), kept so a caller that only checks for errors can still show them.
	Warnings hcl.Diagnostics
}

// Reproducibility is the declared objective.
type Reproducibility struct {
	Level string // bitwise | pinned | best-effort
	Range hcl.Range
}

// Image describes the output image.
type Image struct {
	Name   string
	Base   string // "scratch", "REF@sha256:...", "oci:PATH@sha256:..."
	Tags   []string
	Labels map[string]string
	Prefix string
	Range  hcl.Range
}

// Python selects the interpreter.
type Python struct {
	Version        string
	Implementation string
	Source         string // channel | base
	Range          hcl.Range
	// VersionRange is where version was written, so a solver conflict on the python
	// spec can point at it.
	VersionRange hcl.Range
}

// Channel is a conda channel with optional mirrors and allow-list.
type Channel struct {
	Name     string
	URL      string
	Mirrors  []string
	Packages []string
	Range    hcl.Range
}

// Solver holds solver settings.
type Solver struct {
	ChannelPriority string // strict (default) | flexible | disabled
	ExcludeNewer    string // RFC 3339, or empty
	Range           hcl.Range
}

// Spec is one dependency string with where it was written.
type Spec struct {
	Text  string
	Range hcl.Range
}

// Dependencies are the root requirements.
type Dependencies struct {
	Conda []Spec
	Pip   []Spec
}

// Platform lists target platforms (conda subdir names) and the glibc assumed.
type Platform struct {
	Targets []string
	Glibc   string
	Range   hcl.Range
}

// Hardware declares what the runtime needs to run.
type Hardware struct {
	Cuda   string
	CPU    string
	GPUs   int
	Memory string
	// CPUs is how many cores a run asks for (Kubernetes requests, Slurm
	// --cpus-per-task); 0 leaves it to the scheduler.
	CPUs  int
	Range hcl.Range
	// CPURange is where cpu is written.
	CPURange hcl.Range
}

// Data is a data source baked into the image or mounted at run time.
type Data struct {
	Name   string
	URL    string
	SHA256 string
	Path   string
	Mode   string // bake | mount
	Range  hcl.Range
	// Source is where a mount comes from when the image runs: "host:PATH", "pvc:CLAIM"
	// or "nfs:SERVER:/EXPORT" (see DataSource); empty when not given.
	Source      string
	SourceRange hcl.Range
}

// Runtime configures how the image runs.
type Runtime struct {
	Entrypoint []string
	Cmd        []string
	Env        map[string]string
	Workdir    string
	User       string
	Range      hcl.Range
}

// LicensePolicy is an optional allow/deny list of licence identifiers.
type LicensePolicy struct {
	Allow []string
	Deny  []string
	Range hcl.Range
}
