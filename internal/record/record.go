package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// Path is where the runtime record lives inside every image. Like install.Entry paths it
// has no leading slash.
const Path = "opt/reprobuild/runtime.json"

// MediaType is the media type of a runtime record document.
const MediaType = "application/vnd.reprobuild.runtime-record.v1+json"

// FormatVersion is the version of the runtime record schema this package writes
// (docs/runtime-record.md).
const FormatVersion = 1

// BuildInfo is what only the build knows: the caller fills it in, so the record stays a
// pure function of its inputs.
type BuildInfo struct {
	// ReprobuildVersion is the version of the binary that built the image.
	ReprobuildVersion string
	// BaseDigest is the manifest digest of the base image actually used; when empty the
	// digest from the lock is recorded.
	BaseDigest string
	// Platform is the conda subdir of the lock target this image is for (e.g.
	// "linux-64"). It may be empty when the lock has exactly one target.
	Platform string
	// Engine is the build engine ("embedded" or "buildkit").
	Engine string
	// LockHash is the sha256 (hex) of the lock file bytes. When empty, LockDigest of the
	// lock value is recorded instead.
	LockHash string
}

// RuntimeRecord is the full description of one image's runtime: everything watermark
// would print at run time, fixed at build time. Its JSON form is the schema documented in
// docs/runtime-record.md.
type RuntimeRecord struct {
	Version           int             `json:"record_version"`
	ReprobuildVersion string          `json:"reprobuild_version"`
	Engine            string          `json:"engine,omitempty"`
	Level             string          `json:"reproducibility_level"`
	RecipeHash        string          `json:"recipe_hash"`
	LockHash          string          `json:"lock_hash"`
	Image             ImageInfo       `json:"image"`
	Platform          PlatformInfo    `json:"platform"`
	Interpreter       *Interpreter    `json:"interpreter,omitempty"`
	Virtual           []VirtualInfo   `json:"virtual_packages"`
	Hardware          HardwareInfo    `json:"hardware"`
	Channels          []ChannelInfo   `json:"channels"`
	Solver            SolverInfo      `json:"solver"`
	Packages          []PackageInfo   `json:"packages"`
	Data              []DataInfo      `json:"data"`
	Runtime           RuntimeSettings `json:"runtime"`
}

// ImageInfo names the image and its base.
type ImageInfo struct {
	Name       string   `json:"name,omitempty"`
	Tags       []string `json:"tags"`
	Prefix     string   `json:"prefix"`
	BaseRef    string   `json:"base_ref"`
	BaseDigest string   `json:"base_digest,omitempty"`
}

// PlatformInfo is the target platform, as a conda subdir and as OCI os/architecture.
type PlatformInfo struct {
	Subdir       string `json:"subdir"`
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
	Glibc        string `json:"glibc,omitempty"`
}

// Interpreter is the Python the image runs.
type Interpreter struct {
	Implementation string `json:"implementation"`
	Version        string `json:"version"`
	Build          string `json:"build,omitempty"`
	// Source is "channel" (a locked conda package) or "base" (the base image's python).
	Source string `json:"source"`
}

// VirtualInfo is a virtual package the solve assumed present on the host.
type VirtualInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Build   string `json:"build,omitempty"`
}

// HardwareInfo is what the runtime needs from the machine it runs on.
type HardwareInfo struct {
	Cuda   string `json:"cuda,omitempty"`
	CPU    string `json:"cpu,omitempty"`
	GPUs   int    `json:"gpus"`
	Memory string `json:"memory,omitempty"`
	// CPUs is how many cores a run asks for (launch specs); GPUEnv is what the image
	// config carries for GPU runtimes (see GPUEnv).
	CPUs   int               `json:"cpus,omitempty"`
	GPUEnv map[string]string `json:"gpu_env,omitempty"`
}

// ChannelInfo is one channel the lock was solved against, in priority order.
type ChannelInfo struct {
	Name    string   `json:"name"`
	URL     string   `json:"url"`
	Mirrors []string `json:"mirrors,omitempty"`
}

// SolverInfo holds the solver settings that shaped the lock.
type SolverInfo struct {
	ChannelPriority string `json:"channel_priority"`
	ExcludeNewer    string `json:"exclude_newer,omitempty"`
}

// PackageInfo is one installed conda package.
type PackageInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Build   string `json:"build"`
	Channel string `json:"channel"`
	Subdir  string `json:"subdir"`
	Fn      string `json:"fn"`
	URL     string `json:"url"`
	SHA256  string `json:"sha256,omitempty"`
	MD5     string `json:"md5,omitempty"`
	License string `json:"license,omitempty"`
	PURL    string `json:"purl"`
}

// DataInfo is one data source baked into the image or mounted at run time.
type DataInfo struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
	Path   string `json:"path"`
	Mode   string `json:"mode"`
}

// RuntimeSettings is how the image runs.
type RuntimeSettings struct {
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Workdir    string            `json:"workdir,omitempty"`
	User       string            `json:"user,omitempty"`
}

// PlatformError reports a platform the lock has no target for.
type PlatformError struct {
	Platform string
	Have     []string
}

func (e *PlatformError) Error() string {
	if e.Platform == "" {
		return fmt.Sprintf("record: the lock has %d targets (%s): name the platform to record", len(e.Have), strings.Join(e.Have, ", "))
	}
	return fmt.Sprintf("record: the lock has no target for platform %q (it has %s): relock with the platform in platform.targets", e.Platform, strings.Join(e.Have, ", "))
}

// Runtime builds the runtime record of the image for one platform of a lock.
func Runtime(r *recipes.Recipe, l *lock.Lock, b BuildInfo) (*RuntimeRecord, error) {
	if r == nil || l == nil {
		return nil, fmt.Errorf("record: a recipe and a lock are both needed to build a runtime record")
	}
	t, err := target(l, b.Platform)
	if err != nil {
		return nil, err
	}
	rr := &RuntimeRecord{
		Version:           FormatVersion,
		ReprobuildVersion: b.ReprobuildVersion,
		Engine:            b.Engine,
		Level:             r.Reproducibility.Level,
		RecipeHash:        l.RecipeHash,
		LockHash:          b.LockHash,
		Image: ImageInfo{
			Name:       r.Image.Name,
			Tags:       orEmpty(slices.Clone(r.Image.Tags)),
			Prefix:     r.Image.Prefix,
			BaseRef:    StripCredentials(l.Base.Ref),
			BaseDigest: l.Base.Digest,
		},
		Platform: platformInfo(t.Platform, r.Platform.Glibc),
		Virtual:  []VirtualInfo{},
		Hardware: HardwareInfo{
			Cuda: r.Hardware.Cuda, CPU: r.Hardware.CPU, GPUs: r.Hardware.GPUs, Memory: r.Hardware.Memory,
			CPUs: r.Hardware.CPUs, GPUEnv: GPUEnv(r.Hardware),
		},
		Channels: []ChannelInfo{},
		Solver:   SolverInfo{ChannelPriority: l.Solver.ChannelPriority, ExcludeNewer: l.Solver.ExcludeNewer},
		Packages: []PackageInfo{},
		Data:     []DataInfo{},
		Runtime: RuntimeSettings{
			Entrypoint: slices.Clone(r.Runtime.Entrypoint),
			Cmd:        slices.Clone(r.Runtime.Cmd),
			Env:        cloneMap(r.Runtime.Env),
			Workdir:    r.Runtime.Workdir,
			User:       r.Runtime.User,
		},
	}
	if rr.RecipeHash == "" {
		rr.RecipeHash = r.Hash()
	}
	if rr.LockHash == "" {
		rr.LockHash = LockDigest(l)
	}
	if b.BaseDigest != "" {
		rr.Image.BaseDigest = b.BaseDigest
	}
	if rr.Image.Prefix == "" {
		rr.Image.Prefix = recipes.DefaultPrefix
	}
	for _, v := range t.Virtual {
		rr.Virtual = append(rr.Virtual, VirtualInfo{Name: v.Name, Version: v.Version, Build: v.Build})
	}
	slices.SortFunc(rr.Virtual, func(a, b VirtualInfo) int { return strings.Compare(a.Name, b.Name) })
	// Mirrors are a build-time choice (an air-gapped rebuild from a vendored mirror must
	// give the same image), so the record names only the canonical channels.
	for _, c := range l.Channels {
		rr.Channels = append(rr.Channels, ChannelInfo{Name: c.Name, URL: StripCredentials(c.URL)})
	}
	names := channelNames(l)
	for _, p := range sortedPackages(t.Packages) {
		rr.Packages = append(rr.Packages, PackageInfo{
			Name:    p.Name,
			Version: p.Version,
			Build:   p.Build,
			Channel: StripCredentials(p.Channel),
			Subdir:  p.Subdir,
			Fn:      p.Fn,
			URL:     StripCredentials(p.URL),
			SHA256:  p.SHA256,
			MD5:     p.MD5,
			License: p.License,
			PURL:    PURL(p, names[p.Channel]),
		})
	}
	for _, d := range l.Data {
		rr.Data = append(rr.Data, DataInfo{Name: d.Name, URL: StripCredentials(d.URL), SHA256: d.SHA256, Path: d.Path, Mode: d.Mode})
	}
	slices.SortFunc(rr.Data, func(a, b DataInfo) int { return strings.Compare(a.Name, b.Name) })
	rr.Interpreter = interpreter(r, t.Packages)
	return rr, nil
}

// JSON is the canonical encoding of the record: indented, fields in schema order, map
// keys sorted, ending in a newline. Equal records give equal bytes.
func (rr *RuntimeRecord) JSON() ([]byte, error) {
	return marshal(rr)
}

// ParseRuntime decodes a runtime record written by JSON. Unknown fields are kept out, so
// a newer record still reads; a record of a newer major version is refused.
func ParseRuntime(b []byte) (*RuntimeRecord, error) {
	var rr RuntimeRecord
	if err := json.Unmarshal(b, &rr); err != nil {
		return nil, fmt.Errorf("record: decoding runtime record: %w", err)
	}
	if rr.Version == 0 {
		return nil, fmt.Errorf("record: not a runtime record (no record_version field)")
	}
	if rr.Version > FormatVersion {
		return nil, fmt.Errorf("record: runtime record version %d is newer than this reprobuild understands (%d): upgrade reprobuild", rr.Version, FormatVersion)
	}
	return &rr, nil
}

// LockDigest is the sha256 (hex) of the lock's JSON encoding: a stable identity for a
// lock value when the bytes of its file are not at hand.
func LockDigest(l *lock.Lock) string {
	b, err := json.Marshal(l)
	if err != nil {
		// A lock holds only strings, numbers and slices: encoding cannot fail.
		panic("record: encoding lock: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func target(l *lock.Lock, platform string) (*lock.Target, error) {
	var have []string
	for _, t := range l.Targets {
		have = append(have, t.Platform)
	}
	if platform == "" {
		if len(l.Targets) == 1 {
			return &l.Targets[0], nil
		}
		return nil, &PlatformError{Have: have}
	}
	if t := l.Target(platform); t != nil {
		return t, nil
	}
	return nil, &PlatformError{Platform: platform, Have: have}
}

// sortedPackages orders packages by name, then version and build, whatever order the lock
// came in.
func sortedPackages(ps []conda.PackageRecord) []conda.PackageRecord {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b conda.PackageRecord) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Version, b.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Build, b.Build)
	})
	return out
}

// channelNames maps canonical channel URLs to the names the recipe gave them.
func channelNames(l *lock.Lock) map[string]string {
	m := map[string]string{}
	for _, c := range l.Channels {
		m[c.URL] = c.Name
		m[strings.TrimSuffix(c.URL, "/")] = c.Name
	}
	return m
}

func interpreter(r *recipes.Recipe, ps []conda.PackageRecord) *Interpreter {
	impl := "cpython"
	source := recipes.DefaultPythonSource
	version := ""
	if r.Python != nil {
		if r.Python.Implementation != "" {
			impl = r.Python.Implementation
		}
		if r.Python.Source != "" {
			source = r.Python.Source
		}
		version = r.Python.Version
	}
	if source == "base" {
		if r.Python == nil {
			return nil
		}
		return &Interpreter{Implementation: impl, Version: version, Source: source}
	}
	for _, p := range ps {
		if p.Name == "python" {
			if strings.Contains(p.Build, "pypy") {
				impl = "pypy"
			}
			return &Interpreter{Implementation: impl, Version: p.Version, Build: p.Build, Source: "channel"}
		}
	}
	return nil
}

// OCIPlatform maps a conda subdir to an OCI os, architecture and variant; ok is false
// for a subdir it does not know. It is conda.OCIPlatform (the one table), kept for callers.
func OCIPlatform(subdir string) (os, arch, variant string, ok bool) {
	return conda.OCIPlatform(subdir)
}

func platformInfo(subdir, glibc string) PlatformInfo {
	os, arch, variant, _ := OCIPlatform(subdir)
	return PlatformInfo{Subdir: subdir, OS: os, Architecture: arch, Variant: variant, Glibc: glibc}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Entries are the image file-tree entries that put the record at Path: its parent
// directories and the file, sorted by path, ready to be layered like an installed package.
func Entries(rr *RuntimeRecord) ([]install.Entry, error) {
	data, err := rr.JSON()
	if err != nil {
		return nil, err
	}
	var out []install.Entry
	dir := ""
	for _, el := range strings.Split(path.Dir(Path), "/") {
		dir = path.Join(dir, el)
		out = append(out, install.Entry{Path: dir, Type: install.TypeDir, Mode: 0o755})
	}
	return append(out, install.Entry{Path: Path, Type: install.TypeFile, Mode: 0o644, Data: data}), nil
}
