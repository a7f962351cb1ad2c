package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// Paths inside a link step. "reprobuild link" reads the records and archives and
// writes the linked tree (paths relative to the image root) under OutDir.
const (
	LinkerDir   = "/.reprobuild"
	PkgsDir     = "/pkgs"
	MetaDir     = "/meta"
	RecordsFile = MetaDir + "/records.json"
	OutDir      = "/out"
)

// DefaultLinkerLocal is the local context that holds the reprobuild binary by default.
const DefaultLinkerLocal = "reprobuild-bin"

// LinkerBinary is the file name of the binary in the linker context.
const LinkerBinary = "reprobuild"

// Linker says where the build finds the static reprobuild binary that runs the link
// step. One of Local, Image and State is used, in that order of preference.
type Linker struct {
	// Local names a local context whose root holds the binary as "reprobuild".
	Local string
	// Image is an image reference, pinned by digest, holding the binary at ImagePath.
	Image string
	// State is a filesystem holding the binary at ImagePath (the gateway frontend
	// passes its own image).
	State     *llb.State
	ImagePath string // default /usr/local/bin/reprobuild
}

// GroupFunc splits the packages of a target into layer groups. Each group is linked in
// one cached exec step; the embedded engine layers by the same function.
type GroupFunc func(pkgs []conda.PackageRecord) [][]conda.PackageRecord

// PlannedGroups groups packages with the embedded engine's image.PlanLayers, by archive
// size (the only size known before linking), in at most budget groups (0: the image
// package's default). It is the default GroupFunc.
func PlannedGroups(budget int) GroupFunc {
	return func(pkgs []conda.PackageRecord) [][]conda.PackageRecord {
		sized := make([]image.Sized, len(pkgs))
		byName := make(map[string]conda.PackageRecord, len(pkgs))
		for i, p := range pkgs {
			sized[i] = image.Sized{Name: p.Name, Size: p.Size}
			byName[p.Name] = p
		}
		plan := image.PlanLayers(sized, budget)
		out := make([][]conda.PackageRecord, 0, len(plan))
		for _, names := range plan {
			g := make([]conda.PackageRecord, 0, len(names))
			for _, n := range names {
				g = append(g, byName[n])
			}
			out = append(out, g)
		}
		return out
	}
}

// OnePerPackage puts every package in its own step, so changing one package relinks
// only that package.
func OnePerPackage(pkgs []conda.PackageRecord) [][]conda.PackageRecord {
	out := make([][]conda.PackageRecord, len(pkgs))
	for i, p := range pkgs {
		out[i] = []conda.PackageRecord{p}
	}
	return out
}

// Options controls Compile. The zero value is valid when the lock has one target.
type Options struct {
	// Platform is the conda subdir to build; empty means the lock's only target.
	Platform string
	// Prefix is the environment path in the image; default recipe.Image.Prefix, then
	// recipes.DefaultPrefix.
	Prefix string
	Linker Linker
	// Group splits packages into link steps (layers); default PlannedGroups(0).
	Group GroupFunc
	// LinkPlatform, when set, is where link steps run: the platform of the linker
	// binary. Linking only writes files, so a linux/amd64 linker can prepare an arm64
	// image without emulation. Nil runs them on the target platform.
	LinkPlatform *ocispecs.Platform
	// PythonVersion ("3.11") places noarch python packages when the interpreter is not a
	// locked package (python from the base image); default: the locked python's.
	PythonVersion string
	// Extra are reprobuild's own files (runtime record, SBOMs), written as one layer
	// after the package groups, as the embedded engine does.
	Extra []install.Entry
	// RecipeSource is the recipe file's bytes; when set, steps carry source locations
	// so a failing step points at its recipe line.
	RecipeSource []byte
}

// Local is a client directory the solve must provide under Name.
type Local struct {
	Name string
	// Dir is the host directory (from a file:// URL in the lock); empty for the
	// linker context, which the caller fills.
	Dir     string
	Include []string
}

// OCIStore is an OCI image layout directory the solve must provide as a content store
// under ID (an "oci:PATH" base).
type OCIStore struct {
	ID  string
	Dir string
}

// BaseStoreID is the store id of an OCI layout base.
const BaseStoreID = "reprobuild-base"

// Build is a compiled target: the root filesystem graph and what solving it needs.
type Build struct {
	State     llb.State
	Platform  ocispecs.Platform
	Subdir    string
	Locals    []Local
	OCIStores []OCIStore
	// History describes the layers the graph adds on top of the base, one entry per
	// merge input; ScratchBase says the image has no other layers.
	History     []ocispecs.History
	ScratchBase bool
	// BaseRef is the pinned base as image.LoadBase reads it ("REF@sha256:..." or
	// "oci:DIR@sha256:..."); empty for scratch.
	BaseRef string
}

// Compile turns one target of the lock into an LLB graph. r may be nil (no source
// locations, default prefix).
func Compile(l *lock.Lock, r *recipes.Recipe, o Options) (*Build, error) {
	if l == nil {
		return nil, fmt.Errorf("compile: no lock")
	}
	tgt, err := pickTarget(l, o.Platform)
	if err != nil {
		return nil, err
	}
	plat, err := OCIPlatform(tgt.Platform)
	if err != nil {
		return nil, err
	}
	c := &compiler{l: l, r: r, o: o, plat: plat, locals: map[string]*Local{}}
	c.defaults()
	if r != nil && len(o.RecipeSource) > 0 {
		c.sm = llb.NewSourceMap(nil, r.Filename, "HCL", o.RecipeSource)
	}

	base, err := c.base()
	if err != nil {
		return nil, err
	}
	parts := []llb.State{base}
	var linker llb.RunOption
	if len(tgt.Packages) > 0 {
		linker = c.linker()
	}
	// Groups are merged in lock (install) order, so a path two groups write keeps the
	// later one, the rule install.LinkAll applies inside a group.
	pkgs := append([]conda.PackageRecord(nil), tgt.Packages...)
	for _, p := range pkgs {
		if p.Name == "python" {
			c.python = majorMinor(p.Version)
		}
	}
	if o.PythonVersion != "" {
		c.python = o.PythonVersion
	}
	groups := c.o.Group(pkgs)
	last := len(groups) - 1
	for last > 0 && len(groups[last]) == 0 {
		last--
	}
	for gi, group := range groups {
		if len(group) == 0 {
			continue
		}
		var prior []llb.State // the last group's step checks the whole environment
		if gi == last {
			prior = parts[1:]
		}
		st, err := c.linkGroup(gi, group, linker, prior)
		if err != nil {
			return nil, err
		}
		parts = append(parts, st)
		c.history = append(c.history, ocispecs.History{CreatedBy: "reprobuild link " + groupName(group), Comment: historyComment})
	}
	if len(o.Extra) > 0 {
		st, err := entriesState(o.Extra)
		if err != nil {
			return nil, err
		}
		parts = append(parts, st)
		c.history = append(c.history, ocispecs.History{CreatedBy: "reprobuild runtime record and SBOMs", Comment: historyComment})
	}
	for _, d := range l.Data {
		if d.Mode != "bake" {
			continue
		}
		st, err := c.data(d)
		if err != nil {
			return nil, err
		}
		parts = append(parts, st)
		c.history = append(c.history, ocispecs.History{CreatedBy: "reprobuild bake data " + d.Name + " at " + d.Path, Comment: historyComment})
	}
	root := llb.Merge(parts, llb.WithCustomName("[reprobuild] assemble image root"))

	b := &Build{State: root, Platform: plat, Subdir: tgt.Platform, OCIStores: c.stores,
		History: c.history, ScratchBase: l.Base.Ref == "" || l.Base.Ref == "scratch", BaseRef: c.baseRef}
	names := make([]string, 0, len(c.locals))
	for n := range c.locals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		loc := *c.locals[n]
		sort.Strings(loc.Include)
		b.Locals = append(b.Locals, loc)
	}
	return b, nil
}

// Marshal serialises the graph with fixed local ids, so equal input gives equal bytes.
func (b *Build) Marshal(ctx context.Context) (*llb.Definition, error) {
	return b.State.Marshal(ctx, llb.Platform(b.Platform), llb.LocalUniqueID("reprobuild"))
}

func pickTarget(l *lock.Lock, platform string) (*lock.Target, error) {
	if platform == "" {
		if len(l.Targets) != 1 {
			names := make([]string, len(l.Targets))
			for i, t := range l.Targets {
				names[i] = t.Platform
			}
			return nil, fmt.Errorf("the lock has %d targets (%s): choose one with --platform", len(l.Targets), strings.Join(names, ", "))
		}
		return &l.Targets[0], nil
	}
	if t := l.Target(platform); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("the lock has no target for platform %s: add it to the recipe's platform block and relock", platform)
}

type compiler struct {
	l       *lock.Lock
	r       *recipes.Recipe
	o       Options
	plat    ocispecs.Platform
	sm      *llb.SourceMap
	locals  map[string]*Local
	python  string // major.minor of the target's python, for noarch python packages
	stores  []OCIStore
	history []ocispecs.History
	baseRef string
}

// historyComment marks the history entries reprobuild writes.
const historyComment = "reprobuild"

func (c *compiler) defaults() {
	if c.o.Prefix == "" && c.r != nil {
		c.o.Prefix = c.r.Image.Prefix
	}
	if c.o.Prefix == "" {
		c.o.Prefix = recipes.DefaultPrefix
	}
	if c.o.Group == nil {
		c.o.Group = PlannedGroups(0)
	}
	if c.o.Linker.Local == "" && c.o.Linker.Image == "" && c.o.Linker.State == nil {
		c.o.Linker.Local = DefaultLinkerLocal
	}
	if c.o.Linker.ImagePath == "" {
		c.o.Linker.ImagePath = "/usr/local/bin/" + LinkerBinary
	}
}

// loc points a step at recipe ranges, when the recipe source is known.
func (c *compiler) loc(ranges ...hcl.Range) llb.ConstraintsOpt {
	var rs []*pb.Range
	for _, r := range ranges {
		if r.Start.Line == 0 {
			continue
		}
		rs = append(rs, &pb.Range{
			Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Column)},
			End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Column)},
		})
	}
	if c.sm == nil || len(rs) == 0 {
		return noop{}
	}
	return c.sm.Location(rs)
}

// noop is a constraints option that changes nothing.
type noop struct{}

func (noop) SetConstraintsOption(*llb.Constraints) {}
func (noop) SetRunOption(*llb.ExecInfo)            {}
func (noop) SetLocalOption(*llb.LocalInfo)         {}
func (noop) SetOCILayoutOption(*llb.OCILayoutInfo) {}
func (noop) SetHTTPOption(*llb.HTTPInfo)           {}
func (noop) SetImageBlobOption(*llb.ImageBlobInfo) {}
func (noop) SetImageOption(*llb.ImageInfo)         {}
func (noop) SetGitOption(*llb.GitInfo)             {}

func (c *compiler) base() (llb.State, error) {
	ref := c.l.Base.Ref
	var rng hcl.Range
	if c.r != nil {
		rng = c.r.Image.Range
	}
	switch {
	case ref == "" || ref == "scratch":
		return llb.Scratch(), nil
	case strings.HasPrefix(ref, "oci:"):
		return c.ociBase(ref, rng)
	}
	if !strings.Contains(ref, "@") {
		if c.l.Base.Digest == "" {
			return llb.State{}, &UnsupportedError{What: "base " + ref, Reason: "not pinned by digest; relock to pin it"}
		}
		ref += "@" + c.l.Base.Digest
	}
	c.baseRef = ref
	return llb.Image(ref, llb.Platform(c.plat), llb.WithCustomNamef("[reprobuild] base %s", ref), c.loc(rng)), nil
}

// ociBase reads a base from an OCI layout directory the client provides as a content
// store; a relative path is taken from the recipe's directory.
func (c *compiler) ociBase(ref string, rng hcl.Range) (llb.State, error) {
	dir, dgst, _ := strings.Cut(strings.TrimPrefix(ref, "oci:"), "@")
	if dgst == "" {
		dgst = c.l.Base.Digest
	}
	if _, err := digest.Parse(dgst); err != nil {
		return llb.State{}, &UnsupportedError{What: "base " + ref, Reason: "not pinned by a valid digest; relock to pin it"}
	}
	if !path.IsAbs(dir) && c.r != nil && c.r.Dir != "" {
		dir = path.Join(c.r.Dir, dir)
	}
	c.stores = append(c.stores, OCIStore{ID: BaseStoreID, Dir: dir})
	c.baseRef = "oci:" + dir + "@" + dgst
	return llb.OCILayout("reprobuild.local/base@"+dgst, llb.OCIStore("", BaseStoreID), llb.Platform(c.plat),
		llb.WithCustomNamef("[reprobuild] base %s", ref), c.loc(rng)), nil
}

func (c *compiler) linker() llb.RunOption {
	if c.o.Linker.Local != "" {
		name := c.o.Linker.Local
		c.addLocal(name, "", LinkerBinary)
		st := llb.Local(name, llb.IncludePatterns([]string{LinkerBinary}), llb.SharedKeyHint(name),
			llb.WithCustomName("[reprobuild] linker binary"))
		return llb.AddMount(LinkerDir, st, llb.Readonly)
	}
	var st llb.State
	if c.o.Linker.Image != "" {
		st = llb.Image(c.o.Linker.Image, llb.Platform(c.linkPlatform()), llb.WithCustomName("[reprobuild] linker image"))
	} else {
		st = *c.o.Linker.State
	}
	return llb.AddMount(LinkerDir, st, llb.SourcePath(path.Dir(c.o.Linker.ImagePath)), llb.Readonly)
}

func (c *compiler) linkPlatform() ocispecs.Platform {
	if c.o.LinkPlatform != nil {
		return *c.o.LinkPlatform
	}
	return c.plat
}

func (c *compiler) linkerPath() string {
	if c.o.Linker.Local != "" {
		return LinkerDir + "/" + LinkerBinary
	}
	return LinkerDir + "/" + path.Base(c.o.Linker.ImagePath)
}

func (c *compiler) addLocal(name, dir, include string) {
	l := c.locals[name]
	if l == nil {
		l = &Local{Name: name, Dir: dir}
		c.locals[name] = l
	}
	for _, p := range l.Include {
		if p == include {
			return
		}
	}
	l.Include = append(l.Include, include)
}

// fetch returns a state holding the package archive as /<fn>.
func (c *compiler) fetch(p conda.PackageRecord) (llb.State, error) {
	what := "package " + p.Fn
	if p.SHA256 == "" {
		return llb.State{}, &MissingChecksumError{What: what, URL: p.URL}
	}
	if !validSHA256(p.SHA256) {
		return llb.State{}, fmt.Errorf("%s: sha256 %q in the lock is not 64 hex digits: the lock is damaged, relock", what, p.SHA256)
	}
	// A channel written as a path relative to the recipe keeps its URLs relative in the
	// lock (and in the records the link step writes into conda-meta); only where the
	// archive is read from is resolved.
	loc := p.URL
	if c.r != nil && loc != "" {
		loc = c.r.ResolveURL(loc)
	}
	u, err := url.Parse(loc)
	if err != nil || p.URL == "" {
		return llb.State{}, fmt.Errorf("%s: URL %q in the lock is not valid: relock", what, p.URL)
	}
	switch u.Scheme {
	case "http", "https":
		return llb.HTTP(loc, llb.Checksum(digest.Digest("sha256:"+p.SHA256)), llb.Filename(p.Fn),
			llb.WithCustomNamef("[reprobuild] fetch %s", p.Fn)), nil
	case "file":
		// A conda channel is laid out as CHANNEL/SUBDIR/FILE, so the record itself
		// says which part of its path is the channel directory.
		rel := p.Subdir + "/" + p.Fn
		if p.Subdir == "" || !strings.HasSuffix(u.Path, "/"+rel) {
			return llb.State{}, fmt.Errorf("%s: file URL %s does not end in SUBDIR/FILE (%s): relock", what, loc, rel)
		}
		dir := strings.TrimSuffix(u.Path, "/"+rel)
		ch, err := c.fileChannel(dir)
		if err != nil {
			return llb.State{}, fmt.Errorf("%s: %w", what, err)
		}
		name := "channel-" + ch.Name
		c.addLocal(name, dir, rel)
		src := llb.Local(name, llb.IncludePatterns([]string{rel}), llb.SharedKeyHint(name),
			llb.WithCustomNamef("[reprobuild] channel %s", ch.Name))
		// The link step checks the sha256 of every archive it reads, so a local copy
		// is verified as strictly as a download.
		return llb.Scratch().File(llb.Copy(src, "/"+rel, "/"+p.Fn), llb.WithCustomNamef("[reprobuild] take %s", p.Fn)), nil
	}
	return llb.State{}, &UnsupportedError{What: what, Reason: "URL scheme " + u.Scheme + " (use http, https or file)"}
}

// fileChannel finds the lock channel whose directory is dir. Relative channel paths are
// resolved against the recipe; when that is not possible (the gateway frontend sees no
// client paths) a lock with a single local channel still matches.
func (c *compiler) fileChannel(dir string) (lock.Channel, error) {
	var local []lock.Channel
	for _, ch := range c.l.Channels {
		u := ch.URL
		if c.r != nil {
			u = c.r.ResolveURL(u)
		}
		if strings.TrimSuffix(channelDir(u), "/") == dir {
			return ch, nil
		}
		if !strings.HasPrefix(ch.URL, "http://") && !strings.HasPrefix(ch.URL, "https://") {
			local = append(local, ch)
		}
	}
	if len(local) == 1 {
		return local[0], nil
	}
	return lock.Channel{}, fmt.Errorf("directory %s is none of the lock's channels", dir)
}

func channelDir(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "file" {
		return ""
	}
	return p.Path
}

func (c *compiler) specRanges(group []conda.PackageRecord) []hcl.Range {
	if c.r == nil {
		return nil
	}
	var out []hcl.Range
	for _, p := range group {
		for _, s := range c.r.Dependencies.Conda {
			if specName(s.Text) == p.Name {
				out = append(out, s.Range)
			}
		}
	}
	return out
}

// specName is the package name a match spec starts with ("numpy >=1.26" -> "numpy",
// "conda-forge::scipy" -> "scipy").
func specName(spec string) string {
	s := strings.TrimSpace(spec)
	if i := strings.LastIndex(s, "::"); i >= 0 {
		s = s[i+2:]
	}
	end := strings.IndexAny(s, " =<>!~[")
	if end >= 0 {
		s = s[:end]
	}
	return strings.ToLower(s)
}

func (c *compiler) linkGroup(i int, group []conda.PackageRecord, linker llb.RunOption, prior []llb.State) (llb.State, error) {
	fetched := make([]llb.State, 0, len(group))
	for _, p := range group {
		st, err := c.fetch(p)
		if err != nil {
			return llb.State{}, err
		}
		fetched = append(fetched, st)
	}
	pkgs := fetched[0]
	if len(fetched) > 1 {
		pkgs = llb.Merge(fetched, llb.WithCustomNamef("[reprobuild] gather group %d", i))
	}
	records, err := json.MarshalIndent(group, "", "  ")
	if err != nil {
		return llb.State{}, err
	}
	meta := llb.Scratch().File(llb.Mkfile(path.Base(RecordsFile), 0o644, records),
		llb.WithCustomNamef("[reprobuild] records for group %d", i))

	args := []string{c.linkerPath(), "link", "--prefix", c.o.Prefix}
	if c.python != "" {
		args = append(args, "--python-version", c.python)
	}
	args = append(args, "--records", RecordsFile, "--pkgs", PkgsDir, "--out", OutDir)
	envArgs, envMounts := envCheck(prior)
	args = append(args, envArgs...)
	run := llb.Scratch().Platform(c.linkPlatform()).Run(
		llb.Args(args),
		linker,
		envMounts,
		llb.AddMount(PkgsDir, pkgs, llb.Readonly),
		llb.AddMount(MetaDir, meta, llb.Readonly),
		llb.Network(llb.NetModeNone),
		llb.WithCustomName("[reprobuild] link "+groupName(group)),
		c.loc(c.specRanges(group)...),
	)
	return run.AddMount(OutDir, llb.Scratch()), nil
}

func groupName(g []conda.PackageRecord) string {
	first := g[0].Name + " " + g[0].Version
	if len(g) == 1 {
		return first
	}
	return fmt.Sprintf("%s (+%d more)", first, len(g)-1)
}

func (c *compiler) data(d lock.Data) (llb.State, error) {
	what := "data " + d.Name
	if d.SHA256 == "" {
		return llb.State{}, &MissingChecksumError{What: what, URL: d.URL}
	}
	if !validSHA256(d.SHA256) {
		return llb.State{}, fmt.Errorf("%s: sha256 %q is not 64 hex digits: fix the recipe and relock", what, d.SHA256)
	}
	dst := path.Clean("/" + d.Path)
	if dst == "/" {
		return llb.State{}, fmt.Errorf("%s: path %q is not a file path in the image", what, d.Path)
	}
	var rng []hcl.Range
	if c.r != nil {
		for _, rd := range c.r.Data {
			if rd.Name == d.Name {
				rng = append(rng, rd.Range)
			}
		}
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		return llb.State{}, fmt.Errorf("%s: URL %q is not valid", what, d.URL)
	}
	var src llb.State
	var from string
	switch u.Scheme {
	case "http", "https":
		from = "/" + path.Base(dst)
		src = llb.HTTP(d.URL, llb.Checksum(digest.Digest("sha256:"+d.SHA256)), llb.Filename(path.Base(dst)), llb.Chmod(0o644),
			llb.WithCustomNamef("[reprobuild] fetch data %s", d.Name), c.loc(rng...))
	default:
		return llb.State{}, &UnsupportedError{What: what, Reason: "URL scheme " + u.Scheme + " for baked data (use http or https, or the embedded engine)"}
	}
	return llb.Scratch().File(llb.Copy(src, from, dst, &llb.CopyInfo{CreateDestPath: true}),
		llb.WithCustomNamef("[reprobuild] bake data %s at %s", d.Name, dst), c.loc(rng...)), nil
}

// entriesState writes file-tree entries with file operations, in path order.
func entriesState(entries []install.Entry) (llb.State, error) {
	sorted := append([]install.Entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var fa *llb.FileAction
	for _, e := range sorted {
		p := "/" + e.Path
		var next *llb.FileAction
		switch e.Type {
		case install.TypeDir:
			if fa == nil {
				next = llb.Mkdir(p, e.Mode.Perm(), llb.WithParents(true))
			} else {
				next = fa.Mkdir(p, e.Mode.Perm(), llb.WithParents(true))
			}
		case install.TypeFile:
			if fa == nil {
				next = llb.Mkfile(p, e.Mode.Perm(), e.Data)
			} else {
				next = fa.Mkfile(p, e.Mode.Perm(), e.Data)
			}
		case install.TypeSymlink:
			if fa == nil {
				next = llb.Symlink(e.Linkname, p)
			} else {
				next = fa.Symlink(e.Linkname, p)
			}
		default:
			return llb.State{}, &UnsupportedError{What: "extra file " + e.Path, Reason: "hard links are not written by the BuildKit engine"}
		}
		fa = next
	}
	if fa == nil {
		return llb.Scratch(), nil
	}
	return llb.Scratch().File(fa, llb.WithCustomName("[reprobuild] runtime record and SBOMs")), nil
}

// majorMinor keeps the first two components of a version ("3.11.9" -> "3.11").
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
