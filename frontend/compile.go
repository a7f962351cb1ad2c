package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/plan"
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

// Options controls Compile: how the link steps get and run the reprobuild binary, and
// the recipe bytes for source locations. The zero value is valid.
type Options struct {
	Linker Linker
	// LinkPlatform, when set, is where link steps run: the platform of the linker
	// binary. Linking only writes files, so a linux/amd64 linker can prepare an arm64
	// image without emulation. Nil runs them on the target platform.
	LinkPlatform *ocispecs.Platform
	// MaxPackageSize, when positive, is the link steps' per-package unpacked size cap
	// ("reprobuild link --max-package-size"); 0 keeps install's default.
	MaxPackageSize int64
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
	// ScratchBase says the image has no base layers.
	ScratchBase bool
	// BaseRef is the pinned base as image.LoadBase reads it ("REF@sha256:..." or
	// "oci:DIR@sha256:..."); empty for scratch.
	BaseRef string
	// Plan is the plan the graph was compiled from.
	Plan *plan.Plan
	// Base and Groups are parts of State: the base, and each layer group's linked tree
	// (paths relative to the image root), in the plan's order. Reading them needs no
	// more work than State: solving it solves them.
	Base   llb.State
	Groups []llb.State
}

// Compile turns a plan into an LLB graph: the base, one link step per layer group (in
// the plan's order, each linking its packages in the plan's link order), reprobuild's
// own files, then the baked data, joined with llb.Merge.
func Compile(p *plan.Plan, o Options) (*Build, error) {
	if p == nil || p.Lock == nil {
		return nil, fmt.Errorf("compile: no plan")
	}
	plat, err := OCIPlatform(p.Subdir)
	if err != nil {
		return nil, err
	}
	c := &compiler{p: p, l: p.Lock, r: p.Recipe, o: o, plat: plat, locals: map[string]*Local{}}
	c.defaults()
	// Steps carry source locations in the recipe's own bytes, so a failing step points
	// at its recipe line.
	if p.Recipe != nil && len(p.Recipe.Source) > 0 {
		c.sm = llb.NewSourceMap(nil, p.Recipe.Filename, "HCL", p.Recipe.Source)
	}

	base, err := c.base()
	if err != nil {
		return nil, err
	}
	parts := []llb.State{base}
	var linker llb.RunOption
	if len(p.Groups) > 0 {
		linker = c.linker()
	}
	// Groups are merged in the plan's layer order, so a path two groups write keeps the
	// later one, as the embedded engine's layers do.
	for gi, group := range p.Groups {
		var prior []llb.State // the last group's step checks the whole environment
		if gi == len(p.Groups)-1 {
			prior = parts[1:]
		}
		st, err := c.linkGroup(gi, group.Packages, linker, prior)
		if err != nil {
			return nil, err
		}
		parts = append(parts, st)
	}
	if len(p.Own) > 0 {
		st, err := entriesState(p.Own)
		if err != nil {
			return nil, err
		}
		parts = append(parts, st)
	}
	for _, d := range p.Data {
		st, err := c.data(d)
		if err != nil {
			return nil, err
		}
		parts = append(parts, st)
	}
	root := llb.Merge(parts, llb.WithCustomName("[reprobuild] assemble image root"))

	b := &Build{State: root, Platform: plat, Subdir: p.Subdir, OCIStores: c.stores,
		ScratchBase: p.Base.Scratch(), BaseRef: c.baseRef, Plan: p, Base: base, Groups: parts[1 : 1+len(p.Groups)]}
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
	return b.MarshalPart(ctx, b.State)
}

// MarshalPart serialises a part of the graph (Base, one of Groups) as Marshal does the
// whole, so solving it reuses what solving the whole did.
func (b *Build) MarshalPart(ctx context.Context, st llb.State) (*llb.Definition, error) {
	return st.Marshal(ctx, llb.Platform(b.Platform), llb.LocalUniqueID("reprobuild"))
}

type compiler struct {
	p       *plan.Plan
	l       *lock.Lock
	r       *recipes.Recipe
	o       Options
	plat    ocispecs.Platform
	sm      *llb.SourceMap
	locals  map[string]*Local
	stores  []OCIStore
	baseRef string
}

func (c *compiler) defaults() {
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
	b := c.p.Base
	var rng hcl.Range
	if c.r != nil {
		rng = c.r.Image.Range
	}
	switch {
	case b.Scratch():
		return llb.Scratch(), nil
	case strings.HasPrefix(b.Ref, "oci:"):
		return c.ociBase(b, rng)
	}
	ref := b.Pinned()
	if !strings.Contains(ref, "@") {
		return llb.State{}, &UnsupportedError{What: "base " + ref, Reason: "not pinned by digest; relock to pin it"}
	}
	c.baseRef = ref
	return llb.Image(ref, llb.Platform(c.plat), llb.WithCustomNamef("[reprobuild] base %s", ref), c.loc(rng)), nil
}

// ociBase reads a base from an OCI layout directory the client provides as a content
// store (the plan has already made a relative path absolute against the recipe).
func (c *compiler) ociBase(b plan.Base, rng hcl.Range) (llb.State, error) {
	dir := strings.TrimPrefix(b.Ref, "oci:")
	if _, err := digest.Parse(b.Digest); err != nil {
		return llb.State{}, &UnsupportedError{What: "base " + b.Ref, Reason: "not pinned by a valid digest; relock to pin it"}
	}
	c.stores = append(c.stores, OCIStore{ID: BaseStoreID, Dir: dir})
	c.baseRef = "oci:" + dir + "@" + b.Digest
	return llb.OCILayout("reprobuild.local/base@"+b.Digest, llb.OCIStore("", BaseStoreID), llb.Platform(c.plat),
		llb.WithCustomNamef("[reprobuild] base %s", b.Ref), c.loc(rng)), nil
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

	args := []string{c.linkerPath(), "link", "--prefix", c.p.Prefix}
	if c.p.Python != "" {
		args = append(args, "--python-version", c.p.Python)
	}
	args = append(args, "--records", RecordsFile, "--pkgs", PkgsDir, "--out", OutDir)
	if c.o.MaxPackageSize > 0 {
		args = append(args, "--max-package-size", strconv.FormatInt(c.o.MaxPackageSize, 10))
	}
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
