package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/recipes"
)

// DefaultLayerBudget is how many layers the environment is split into at most when
// Info.LayerBudget is not set.
const DefaultLayerBudget = image.DefaultLayerBudget

// Engine names, as the runtime record's engine field has them.
const (
	EngineEmbedded = "embedded"
	EngineBuildKit = "buildkit"
)

// Info is what only the build knows. Its zero value is valid.
type Info struct {
	// ReprobuildVersion is the version of the binary that builds the image.
	ReprobuildVersion string
	// Engine is recorded in the runtime record ("embedded" or "buildkit").
	Engine string
	// Epoch is the time stamped on every file and on the image (SOURCE_DATE_EPOCH);
	// the zero time means the lock's own epoch, so the same lock gives the same image.
	Epoch time.Time
	// LayerBudget is the most layers the environment is split into (0: the default).
	LayerBudget int
}

// Plan is everything an engine needs to build one target of a lock.
type Plan struct {
	// Recipe and Lock are what the plan was made from. Recipe may be nil (a plan of the
	// lock alone: no runtime record, SBOMs or runtime settings).
	Recipe *recipes.Recipe
	Lock   *lock.Lock

	// Subdir is the conda platform of the target ("linux-64") and Platform its OCI form.
	Subdir   string
	Platform v1.Platform
	// Prefix is the absolute path of the environment in the image.
	Prefix string
	// Python is the major.minor version noarch python packages are placed for ("" when
	// the environment has no python).
	Python string
	// Epoch is the time stamped on every file, history entry and the image.
	Epoch time.Time
	// LockHash is the sha256 (hex) of the canonical lock bytes.
	LockHash string
	// Engine is the engine the plan is for, as recorded in Record.
	Engine string

	// Base is the base image, pinned by the lock.
	Base Base
	// Groups are the package layer groups, in layer order; each group's packages are in
	// link order (dependencies first, then by name), so when two packages of a group
	// write the same path the later one wins, in every engine.
	Groups []Group
	// Own are reprobuild's own files (runtime record, SBOMs, and a bin/python link for
	// an interpreter from the base), one layer after the package groups. Empty when
	// Recipe is nil.
	Own []install.Entry
	// Record is the runtime record (nil when Recipe is nil) and SBOMs its SBOM documents.
	Record *record.RuntimeRecord
	SBOMs  []record.Artifact
	// Data are the data sources baked into the image, one layer each after Own, in lock
	// order.
	Data []lock.Data

	// Config is the image configuration; its Labels are also the manifest annotations.
	Config image.Config
	// History has one entry per layer the build adds over the base, in layer order.
	History []v1.History
}

// Group is one layer's packages, in link order.
type Group struct {
	Packages []conda.PackageRecord
}

// Names are the names of the group's packages, in link order.
func (g Group) Names() []string {
	out := make([]string, len(g.Packages))
	for i, p := range g.Packages {
		out[i] = p.Name
	}
	return out
}

// Base is the base image of a plan.
type Base struct {
	// Ref is the reference as the lock has it: "" or "scratch", a registry reference,
	// or "oci:DIR" with DIR made absolute against the recipe's directory.
	Ref string
	// Digest is the digest the lock pins (a manifest, or an index for a multi-platform
	// base); the runtime record names it.
	Digest string
}

// Scratch reports whether the image has no base.
func (b Base) Scratch() bool { return b.Ref == "" || b.Ref == "scratch" }

// Pinned is the reference with the lock's digest ("REF@sha256:..."), or Ref when the
// lock pins none (or Ref already carries it).
func (b Base) Pinned() string {
	if b.Scratch() || b.Digest == "" || strings.Contains(b.Ref, "@") {
		return b.Ref
	}
	return b.Ref + "@" + b.Digest
}

// PlatformError reports a target that has no OCI platform.
type PlatformError struct{ Subdir string }

func (e *PlatformError) Error() string {
	return fmt.Sprintf("platform %s has no OCI equivalent: build a linux-* target", e.Subdir)
}

// Targets returns the plans of the given subdirs (every target of the lock when subdirs
// is empty), in that order.
func Targets(r *recipes.Recipe, l *lock.Lock, subdirs []string, info Info) ([]*Plan, error) {
	if l == nil {
		return nil, fmt.Errorf("plan: no lock")
	}
	if len(subdirs) == 0 {
		for _, t := range l.Targets {
			subdirs = append(subdirs, t.Platform)
		}
	}
	if len(subdirs) == 0 {
		return nil, fmt.Errorf("plan: the lock has no targets: relock with a platform block")
	}
	out := make([]*Plan, 0, len(subdirs))
	for _, sd := range subdirs {
		p, err := New(r, l, sd, info)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// New returns the plan of one target of l. An empty subdir means the lock's only target.
func New(r *recipes.Recipe, l *lock.Lock, subdir string, info Info) (*Plan, error) {
	if l == nil {
		return nil, fmt.Errorf("plan: no lock")
	}
	t, err := pickTarget(l, subdir)
	if err != nil {
		return nil, err
	}
	os_, arch, variant, ok := conda.OCIPlatform(t.Platform)
	if !ok {
		return nil, &PlatformError{Subdir: t.Platform}
	}
	lockBytes, err := lock.Marshal(l)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(lockBytes)
	p := &Plan{
		Recipe: r, Lock: l,
		Subdir:   t.Platform,
		Platform: v1.Platform{OS: os_, Architecture: arch, Variant: variant},
		Prefix:   Prefix(r),
		Python:   pythonVersion(r, t.Packages),
		Epoch:    info.Epoch.UTC(),
		LockHash: hex.EncodeToString(sum[:]),
		Engine:   info.Engine,
		Base:     base(r, l),
	}
	if info.Epoch.IsZero() {
		p.Epoch = record.Epoch(l)
	}
	p.Groups = Groups(t.Packages, info.LayerBudget)
	for _, d := range l.Data {
		if d.Mode == "bake" {
			p.Data = append(p.Data, d)
		}
	}
	if r != nil {
		p.Record, err = record.Runtime(r, l, record.BuildInfo{
			ReprobuildVersion: info.ReprobuildVersion, Engine: info.Engine, Platform: t.Platform, LockHash: p.LockHash,
		})
		if err != nil {
			return nil, err
		}
		p.SBOMs, err = record.SBOMs(r, l, t.Platform, record.SBOMOptions{Created: p.Epoch, ReprobuildVersion: info.ReprobuildVersion, LockHash: p.LockHash})
		if err != nil {
			return nil, err
		}
		if p.Own, err = ownEntries(r, p.Record, p.SBOMs, p.Prefix); err != nil {
			return nil, err
		}
	}
	p.Config = config(r, l, p)
	n := len(p.Groups) + len(p.Data)
	if len(p.Own) > 0 {
		n++
	}
	for i := range n {
		p.History = append(p.History, v1.History{
			Created:   v1.Time{Time: p.Epoch},
			CreatedBy: image.HistoryCreatedBy,
			Comment:   fmt.Sprintf("layer %d of %d", i+1, n),
		})
	}
	return p, nil
}

// Prefix is the environment path of a recipe (recipes.DefaultPrefix for a nil recipe or
// one that sets none).
func Prefix(r *recipes.Recipe) string {
	if r == nil || r.Image.Prefix == "" {
		return recipes.DefaultPrefix
	}
	return r.Image.Prefix
}

func pickTarget(l *lock.Lock, subdir string) (*lock.Target, error) {
	if subdir == "" {
		if len(l.Targets) != 1 {
			names := make([]string, len(l.Targets))
			for i, t := range l.Targets {
				names[i] = t.Platform
			}
			return nil, fmt.Errorf("the lock has %d targets (%s): choose one with --platform", len(l.Targets), strings.Join(names, ", "))
		}
		return &l.Targets[0], nil
	}
	if t := l.Target(subdir); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("the lock has no target for platform %s: add it to the recipe's platform block and relock", subdir)
}

// pythonVersion is the major.minor noarch python packages are placed for: the locked
// python's, else the base image's interpreter the recipe names.
func pythonVersion(r *recipes.Recipe, pkgs []conda.PackageRecord) string {
	for _, p := range pkgs {
		if p.Name == "python" {
			return conda.MajorMinor(p.Version)
		}
	}
	if r != nil && r.Python != nil && r.Python.Source == "base" {
		return conda.MajorMinor(r.Python.Version)
	}
	return ""
}

func base(r *recipes.Recipe, l *lock.Lock) Base {
	b := Base{Ref: l.Base.Ref, Digest: l.Base.Digest}
	if rest, ok := strings.CutPrefix(b.Ref, "oci:"); ok {
		dir, dgst, _ := strings.Cut(rest, "@")
		if !path.IsAbs(dir) && r != nil && r.Dir != "" {
			dir = path.Join(r.Dir, dir)
		}
		b.Ref = "oci:" + dir
		if dgst != "" && b.Digest == "" {
			b.Digest = dgst
		}
	}
	return b
}

// Groups splits packages into at most budget layer groups with image.PlanLayers (by
// archive size, the only size known before anything is fetched), each group in link
// order: dependencies before dependents, ties by name.
func Groups(pkgs []conda.PackageRecord, budget int) []Group {
	if budget <= 0 {
		budget = DefaultLayerBudget
	}
	recs := LinkOrder(pkgs)
	sizes := make([]image.Sized, len(recs))
	byName := make(map[string]conda.PackageRecord, len(recs))
	order := make(map[string]int, len(recs))
	for i, p := range recs {
		sizes[i] = image.Sized{Name: p.Name, Size: p.Size}
		byName[p.Name] = p
		order[p.Name] = i
	}
	var out []Group
	for _, names := range image.PlanLayers(sizes, budget) {
		g := Group{Packages: make([]conda.PackageRecord, 0, len(names))}
		for _, n := range names {
			g.Packages = append(g.Packages, byName[n])
		}
		slices.SortFunc(g.Packages, func(a, b conda.PackageRecord) int { return order[a.Name] - order[b.Name] })
		if len(g.Packages) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// LinkOrder sorts packages so that dependencies come before dependents (conda's link
// order), breaking ties by name, so clobbering resolves the same way everywhere. A
// dependency cycle keeps name order.
func LinkOrder(recs []conda.PackageRecord) []conda.PackageRecord {
	byName := map[string]int{}
	for i, p := range recs {
		byName[p.Name] = i
	}
	sorted := slices.Clone(recs)
	slices.SortFunc(sorted, func(a, b conda.PackageRecord) int { return strings.Compare(a.Name, b.Name) })
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	out := make([]conda.PackageRecord, 0, len(recs))
	var visit func(p conda.PackageRecord)
	visit = func(p conda.PackageRecord) {
		if state[p.Name] != 0 {
			return
		}
		state[p.Name] = 1
		deps := make([]string, 0, len(p.Depends))
		for _, d := range p.Depends {
			if ms, err := conda.ParseMatchSpec(d); err == nil {
				deps = append(deps, ms.Name)
			}
		}
		slices.Sort(deps)
		for _, d := range deps {
			if i, ok := byName[d]; ok {
				visit(recs[i])
			}
		}
		state[p.Name] = 2
		out = append(out, p)
	}
	for _, p := range sorted {
		visit(p)
	}
	return out
}

// config is the image configuration of a plan. Labels are the runtime record's, then
// the recipe's; the manifest annotations are the same map.
func config(r *recipes.Recipe, l *lock.Lock, p *Plan) image.Config {
	c := image.Config{Platform: p.Platform, Prefix: p.Prefix, Epoch: p.Epoch}
	labels := map[string]string{}
	if p.Record != nil {
		for k, v := range record.Labels(p.Record) {
			labels[k] = v
		}
	}
	env := map[string]string{}
	if r != nil {
		for k, v := range r.Image.Labels {
			labels[k] = v
		}
		if r.Python != nil && r.Python.Source == "base" {
			env["PYTHONPATH"] = path.Join(p.Prefix, "lib", "python"+conda.MajorMinor(r.Python.Version), "site-packages")
		}
		maps.Copy(env, record.GPUEnv(r.Hardware))
		for k, v := range r.Runtime.Env {
			env[k] = v
		}
		c.Entrypoint, c.Cmd = r.Runtime.Entrypoint, r.Runtime.Cmd
		c.Workdir, c.User = r.Runtime.Workdir, r.Runtime.User
	}
	var volumes []string
	for _, d := range l.Data {
		if d.Mode == "mount" {
			volumes = append(volumes, d.Path)
		}
	}
	slices.Sort(volumes)
	c.Env, c.Labels, c.Annotations, c.Volumes = env, labels, labels, volumes
	return c
}

// ownEntries are reprobuild's own files in the image: the runtime record, the SBOMs,
// and for an interpreter from the base image a bin/python link to it.
func ownEntries(r *recipes.Recipe, rr *record.RuntimeRecord, arts []record.Artifact, prefix string) ([]install.Entry, error) {
	js, err := rr.JSON()
	if err != nil {
		return nil, err
	}
	dir := path.Dir(record.Path)
	entries := []install.Entry{
		{Path: "opt", Type: install.TypeDir, Mode: 0o755},
		{Path: dir, Type: install.TypeDir, Mode: 0o755},
		{Path: record.Path, Type: install.TypeFile, Mode: 0o644, Data: js},
	}
	for _, a := range arts {
		entries = append(entries, install.Entry{Path: path.Join(dir, a.Filename), Type: install.TypeFile, Mode: 0o644, Data: a.Data})
	}
	if r.Python != nil && r.Python.Source == "base" {
		p := strings.TrimPrefix(prefix, "/")
		// Debian, Ubuntu and the official python images all have it there.
		const exe = "/usr/bin/python3"
		for _, d := range parents(p + "/bin") {
			entries = append(entries, install.Entry{Path: d, Type: install.TypeDir, Mode: 0o755})
		}
		entries = append(entries, install.Entry{Path: p + "/bin/python", Type: install.TypeSymlink, Mode: 0o777, Linkname: exe})
	}
	slices.SortFunc(entries, func(a, b install.Entry) int { return strings.Compare(a.Path, b.Path) })
	return slices.CompactFunc(entries, func(a, b install.Entry) bool { return a.Path == b.Path }), nil
}

// parents returns p and every ancestor directory of it, outermost first.
func parents(p string) []string {
	var out []string
	for d := p; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}
