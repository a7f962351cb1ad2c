package builder

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/moby/buildkit/client"
	// Address schemes beyond unix:// and tcp://, as buildctl accepts them.
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer"
	_ "github.com/moby/buildkit/client/connhelper/kubepod"
	_ "github.com/moby/buildkit/client/connhelper/ssh"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/util/progress/progressui"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"

	"github.com/reprobuild/reprobuild/frontend"
	"github.com/reprobuild/reprobuild/frontend/gateway"
	imagepkg "github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/plan"
	"github.com/reprobuild/reprobuild/internal/progress"
	"github.com/reprobuild/reprobuild/internal/pypi/index"
	"github.com/reprobuild/reprobuild/recipes"
)

// BuildKitCompatibilityVersion pins how buildkitd assembles images (BuildKit v0.31+
// behaviour), so a newer daemon does not silently change digests.
const BuildKitCompatibilityVersion = 30

// BuildKitOptions configures a BuildKit build. Lock, Addr and one output are required.
type BuildKitOptions struct {
	// MaxPackageSize, when positive, bounds the unpacked size of one package in the link
	// steps (0: install's default, 8 GiB).
	MaxPackageSize int64
	// Addr is the buildkitd address (unix://, tcp://, kube-pod://, docker-container://,
	// ssh://); the CLI takes it from --buildkit-addr or BUILDKIT_HOST.
	Addr string
	// TLS files for a tcp:// daemon (as buildctl --tlscacert/--tlscert/--tlskey).
	TLSServerName, TLSCACert, TLSCert, TLSKey string

	Lock *LockFile
	// PyPI fetches the lock's wheels (needed only when it has pip packages).
	PyPI *index.Client
	// Recipe is optional: it gives the runtime record, SBOMs and config, and (with
	// the bytes it was parsed from) lets a failing step point at its recipe line.
	Recipe *recipes.Recipe
	// Platforms are conda subdirs to build; empty means every target in the lock.
	// More than one gives a multi-platform index.
	Platforms []string
	// Linker says where the build gets the reprobuild binary; with a Local linker,
	// LinkerDir is the host directory holding the static binary "reprobuild".
	Linker    frontend.Linker
	LinkerDir string
	// LinkPlatform is the platform the linker binary runs on; nil means the platform
	// this program was built for when the linker is a local binary, else each target's.
	LinkPlatform *ocispecs.Platform
	// LayerBudget is the most layers (link steps) the environment is split into; 0
	// is DefaultLayerBudget, as for the embedded engine.
	LayerBudget int
	// BaseKeychain authenticates reading a registry base's config on the client; nil
	// is anonymous.
	BaseKeychain authn.Keychain
	// Epoch is the time every timestamp in the image is set to; nil is the lock's
	// epoch, as for the embedded engine.
	Epoch *time.Time

	// OCITar writes the image as an OCI archive to this path.
	OCITar string
	// Push pushes the image under these references; Insecure allows plain HTTP.
	Push     []string
	Insecure bool

	CacheExports []client.CacheOptionsEntry
	CacheImports []client.CacheOptionsEntry

	// Progress receives BuildKit's progress display (nil: none) in ProgressMode
	// ("auto", "plain", "tty", "quiet", "rawjson"; default "auto"). ProgressMode
	// ProgressSteps instead reports each step to the context's progress reporter
	// (internal/progress), as the embedded engine reports its phases.
	Progress     io.Writer
	ProgressMode string
}

// BuildKitResult is what a BuildKit build produced.
type BuildKitResult struct {
	// Digest is the manifest (or index) digest.
	Digest string
	// Platforms are the conda subdirs built, in lock order.
	Platforms []string
	// ExporterResponse is buildkitd's raw exporter response.
	ExporterResponse map[string]string
	// Steps are the steps BuildKit ran or found in its cache, in first-seen order.
	Steps []BuildKitStep

	// plans are the plans the targets were compiled from, in Platforms order.
	plans []*plan.Plan
}

// BuildKitStep is one step of the solve as BuildKit reported it.
type BuildKitStep struct {
	Name   string
	Cached bool
}

// ErrNoOutput is returned when neither OCITar nor Push is set.
var ErrNoOutput = errors.New("buildkit: no output: set an OCI archive path or references to push")

// BuildKit compiles the lock to LLB and solves it on buildkitd, exporting a
// reproducible image (source-date-epoch + rewrite-timestamp).
func BuildKit(ctx context.Context, opts BuildKitOptions) (*BuildKitResult, error) {
	if opts.Lock == nil {
		return nil, errors.New("buildkit: no lock")
	}
	if opts.Addr == "" {
		return nil, ErrNoBuildKitAddr
	}
	if opts.OCITar == "" && len(opts.Push) == 0 {
		return nil, ErrNoOutput
	}
	ts, err := compileBuildKit(ctx, opts)
	if err != nil {
		return nil, err
	}
	targets, locals := ts.Targets, ts.Locals

	mounts := map[string]fsutil.FS{}
	for _, l := range locals {
		dir := l.Dir
		if dir == "" && l.Name == opts.Linker.Local || dir == "" && opts.Linker.Local == "" && l.Name == frontend.DefaultLinkerLocal {
			dir = opts.LinkerDir
		}
		if dir == "" {
			return nil, fmt.Errorf("buildkit: local context %q has no directory (set LinkerDir to the directory of a static reprobuild binary)", l.Name)
		}
		fs, err := fsutil.NewFS(dir)
		if err != nil {
			return nil, fmt.Errorf("buildkit: local context %s: %w", l.Name, err)
		}
		mounts[l.Name] = fs
	}

	stores := map[string]content.Store{}
	for _, t := range targets {
		for _, st := range t.Build.OCIStores {
			if _, ok := stores[st.ID]; ok {
				continue
			}
			cs, err := local.NewStore(st.Dir)
			if err != nil {
				return nil, fmt.Errorf("buildkit: OCI layout %s: %w", st.Dir, err)
			}
			stores[st.ID] = cs
		}
	}

	var copts []client.ClientOpt
	if opts.TLSCACert != "" {
		copts = append(copts, client.WithServerConfig(opts.TLSServerName, opts.TLSCACert))
	}
	if opts.TLSCert != "" || opts.TLSKey != "" {
		copts = append(copts, client.WithCredentials(opts.TLSCert, opts.TLSKey))
	}
	c, err := client.New(ctx, opts.Addr, copts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to buildkitd at %s: %w", opts.Addr, err)
	}
	defer c.Close()

	solveOpt := client.SolveOpt{
		CompatibilityVersion: BuildKitCompatibilityVersion,
		LocalMounts:          mounts,
		OCIStores:            stores,
		CacheExports:         opts.CacheExports,
		CacheImports:         opts.CacheImports,
		// Build (unlike Solve) adds the cache options to the frontend attributes,
		// into this map, which must not be nil.
		FrontendAttrs: map[string]string{},
	}
	// The configs travel in the solve result (gateway.Solve), decided after the link
	// steps ran: the packages' activation scripts are read from the solved tree.
	attrs := ts.ExporterAttrs()
	if opts.OCITar != "" {
		path := opts.OCITar
		solveOpt.Exports = append(solveOpt.Exports, client.ExportEntry{
			Type:   client.ExporterOCI,
			Attrs:  attrs,
			Output: func(map[string]string) (io.WriteCloser, error) { return os.Create(path) },
		})
	}
	if len(opts.Push) > 0 {
		pa := map[string]string{"push": "true"}
		for k, v := range attrs {
			pa[k] = v
		}
		pa["name"] = strings.Join(opts.Push, ",")
		if opts.Insecure {
			pa["registry.insecure"] = "true"
		}
		solveOpt.Exports = append(solveOpt.Exports, client.ExportEntry{Type: client.ExporterImage, Attrs: pa})
	}

	ch := make(chan *client.SolveStatus)
	display := make(chan *client.SolveStatus)
	logs := newStepLogs()
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		defer close(display)
		for st := range ch {
			logs.add(st)
			display <- st
		}
		return nil
	})
	var resp *client.SolveResponse
	eg.Go(func() error {
		var err error
		resp, err = c.Build(ectx, solveOpt, "reprobuild", func(ctx context.Context, gc gwclient.Client) (*gwclient.Result, error) {
			return gateway.Solve(ctx, gc, ts)
		}, ch)
		return err
	})
	eg.Go(func() error {
		if opts.ProgressMode == ProgressSteps {
			reportSteps(progress.FromContext(ectx), display)
			return nil
		}
		mode := progressui.DisplayMode(opts.ProgressMode)
		if mode == "" {
			mode = progressui.AutoMode
		}
		var w io.Writer = io.Discard
		if opts.Progress != nil {
			w = opts.Progress
		} else {
			mode = progressui.QuietMode
		}
		d, err := progressui.NewDisplay(w, mode)
		if err != nil {
			return err
		}
		_, err = d.UpdateFrom(ectx, display)
		return err
	})
	if err := eg.Wait(); err != nil {
		return nil, logs.explain(opts.Addr, err)
	}
	out := &BuildKitResult{Digest: resp.ExporterResponse["containerimage.digest"], ExporterResponse: resp.ExporterResponse, Steps: logs.steps()}
	for _, t := range targets {
		out.Platforms = append(out.Platforms, t.Build.Subdir)
		out.plans = append(out.plans, t.Build.Plan)
	}
	if out.Digest == "" {
		return nil, fmt.Errorf("buildkit build on %s: the exporter returned no digest", opts.Addr)
	}
	return out, nil
}

// ProgressSteps is the BuildKitOptions.ProgressMode that reports BuildKit's steps to
// the context's progress reporter: a line when a step starts and one when it ends.
const ProgressSteps = "steps"

// reportSteps turns BuildKit's solve status into progress tasks, one per step (vertex),
// until the status channel closes.
func reportSteps(rep *progress.Reporter, ch <-chan *client.SolveStatus) {
	tasks := map[string]*progress.Task{}
	ended := map[string]bool{}
	for st := range ch {
		for _, v := range st.Vertexes {
			id := v.Digest.String()
			if ended[id] || v.Started == nil && v.Completed == nil {
				continue
			}
			t, ok := tasks[id]
			if !ok {
				name := v.Name
				if v.Cached {
					name += " (cached)"
				}
				t = rep.Start(name)
				tasks[id] = t
			}
			if v.Completed != nil {
				var err error
				if v.Error != "" {
					err = errors.New(v.Error)
				}
				t.Done(err)
				ended[id] = true
			}
		}
	}
	for id, t := range tasks { // a solve that stopped mid-step
		if !ended[id] {
			t.Done(errors.New("interrupted"))
		}
	}
}

// ExporterAttrs are the attributes that make BuildKit's image exporters reproducible.
func ExporterAttrs(sourceDateEpoch int64) map[string]string {
	return frontend.ExporterAttrs(sourceDateEpoch)
}

// compileBuildKit plans every requested platform of the lock for the BuildKit engine and
// compiles the plans with frontend.CompileTargets, the function the gateway frontend and
// `reprobuild llb` use too. A non-scratch base's config is read on the client.
func compileBuildKit(ctx context.Context, opts BuildKitOptions) (*frontend.Targets, error) {
	info := plan.Info{ReprobuildVersion: Version().Version, Engine: plan.EngineBuildKit, LayerBudget: opts.LayerBudget}
	if opts.Epoch != nil {
		info.Epoch = *opts.Epoch
	}
	plans, err := plan.Targets(opts.Recipe, opts.Lock, opts.Platforms, info)
	if err != nil {
		return nil, fmt.Errorf("buildkit: %w", err)
	}
	// PyPI wheels are installed on the client, as the embedded engine does, and join
	// reprobuild's own files, which the graph writes.
	if hasPip(opts.Lock) {
		if opts.PyPI == nil {
			return nil, fmt.Errorf("buildkit: the lock has pip packages but no PyPI index client was given")
		}
		if err := addPip(ctx, plans, opts.PyPI); err != nil {
			return nil, err
		}
	}
	fo := frontend.Options{Linker: opts.Linker, LinkPlatform: linkPlatform(opts), MaxPackageSize: opts.MaxPackageSize}
	ts, err := frontend.CompileTargets(ctx, plans, fo, func(ctx context.Context, b *frontend.Build) (*v1.ConfigFile, error) {
		return clientBaseConfig(ctx, b, opts.BaseKeychain)
	})
	if err != nil {
		return nil, err
	}
	// The base is on the client: look for its shell there, as the embedded engine does
	// (only when activation scripts must be sourced at start).
	for i := range ts.Targets {
		p := ts.Targets[i].Build.Plan
		ts.Targets[i].BaseHasShell = func() (bool, error) {
			base, err := loadBase(ctx, p, opts.BaseKeychain)
			return base != nil && hasShell(base), err
		}
	}
	return ts, nil
}

// clientBaseConfig reads a base's config (registry or OCI layout) on the client.
func clientBaseConfig(ctx context.Context, b *frontend.Build, kc authn.Keychain) (*v1.ConfigFile, error) {
	p := v1.Platform{OS: b.Platform.OS, Architecture: b.Platform.Architecture, Variant: b.Platform.Variant}
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	img, _, err := imagepkg.LoadBase(ctx, b.BaseRef, p, kc)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of base %s: %w", b.BaseRef, err)
	}
	return cf, nil
}

// linkPlatform defaults a local linker binary to this program's own platform: the CLI
// sends its own (static) executable.
func linkPlatform(opts BuildKitOptions) *ocispecs.Platform {
	if opts.LinkPlatform != nil {
		return opts.LinkPlatform
	}
	if opts.Linker.Image != "" && opts.Linker.Local == "" {
		return nil
	}
	return &ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// NotStaticError reports a reprobuild binary that cannot run inside a BuildKit step:
// link steps run on an empty root filesystem, so the binary must be static.
type NotStaticError struct {
	Path   string
	Reason string
}

func (e *NotStaticError) Error() string {
	return fmt.Sprintf("%s cannot run the BuildKit link step (%s): build reprobuild with CGO_ENABLED=0 and name it %q, or compile with `reprobuild llb --linker-image REF@sha256:...` and build with buildctl",
		e.Path, e.Reason, frontend.LinkerBinary)
}

// LinkerDir checks that exe (the CLI's own executable) can serve as the local linker
// context and returns its directory: it must be a static ELF binary named "reprobuild".
func LinkerDir(exe string) (string, error) {
	if filepath.Base(exe) != frontend.LinkerBinary {
		return "", &NotStaticError{Path: exe, Reason: "not named " + frontend.LinkerBinary}
	}
	f, err := elf.Open(exe)
	if err != nil {
		return "", &NotStaticError{Path: exe, Reason: "not a Linux ELF binary: " + err.Error()}
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", &NotStaticError{Path: exe, Reason: "dynamically linked"}
		}
	}
	return filepath.Dir(exe), nil
}

// ImageBuildKit is Image with the BuildKit engine: it loads (or makes) the lock as
// Image does, builds on buildkitd with bk (Addr, linker, cache, progress; the lock,
// recipe and epoch are filled in here), then writes o.Output and pushes as Image does,
// from the OCI archive BuildKit exported. The epoch is the embedded engine's
// (o.Epoch, else the lock's), so both engines give the same file tree and config.
func ImageBuildKit(ctx context.Context, o ImageOptions, bk BuildKitOptions) (*ImageResult, error) {
	r, l, locked, err := prepareLockFor(ctx, o)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "reprobuild-buildkit-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bk.Lock, bk.Recipe = l, r
	// --platform picks targets as for the embedded engine (checked by prepareLockFor):
	// each image is the one a full build gives.
	bk.Platforms = selectedSubdirs(l, o.Platforms)
	if bk.PyPI == nil && hasPip(l) {
		if bk.PyPI, err = NewIndexClient(o.Channel); err != nil {
			return nil, err
		}
	}
	bk.Epoch, bk.LayerBudget = o.Epoch, o.LayerBudget
	if bk.MaxPackageSize == 0 {
		bk.MaxPackageSize = o.MaxPackageSize
	}
	bk.OCITar, bk.Push = filepath.Join(tmp, "image.tar"), nil
	if bk.BaseKeychain == nil {
		bk.BaseKeychain = o.Keychain
	}
	out, err := BuildKit(ctx, bk)
	if err != nil {
		return nil, err
	}
	res, err := readBuildKitArchive(bk.OCITar, filepath.Join(tmp, "layout"))
	if err != nil {
		return nil, err
	}
	if res.Digest != out.Digest {
		return nil, fmt.Errorf("buildkit reported %s but its archive holds %s", out.Digest, res.Digest)
	}
	if err := res.attachPlans(out.plans); err != nil {
		return nil, err
	}
	res.LockPath, res.Locked = LockPath(r), locked
	if err := writeOutputs(ctx, r, res, o); err != nil {
		return nil, err
	}
	return res, nil
}

// attachPlans fills in what the plans say about each platform image of res: its runtime
// record, its SBOMs and their referrer artifacts, as the embedded engine does, so both
// engines write the same documents beside an output.
func (res *ImageResult) attachPlans(plans []*plan.Plan) error {
	bySubdir := map[string]*plan.Plan{}
	for _, p := range plans {
		bySubdir[p.Subdir] = p
	}
	res.plans = nil
	for _, pi := range res.Platforms {
		p := bySubdir[pi.Platform]
		if p == nil {
			return fmt.Errorf("buildkit built %s (%s), which was not planned", pi.Digest, pi.Platform)
		}
		res.plans = append(res.plans, p)
		if p.Record == nil {
			continue
		}
		res.Records = append(res.Records, p.Record)
		res.Documents = append(res.Documents, PlatformDocuments{Platform: p.Subdir, Documents: p.SBOMs})
		img := res.Image
		if res.Index != nil {
			h, err := v1.NewHash(pi.Digest)
			if err != nil {
				return err
			}
			if img, err = res.Index.Image(h); err != nil {
				return err
			}
		}
		refs, err := sbomReferrers(p.SBOMs, img, p.Epoch)
		if err != nil {
			return err
		}
		res.Referrers = append(res.Referrers, refs...)
	}
	return nil
}

// readBuildKitArchive unpacks BuildKit's OCI archive into dir and returns its image (one
// platform) or index (several) with per-platform digests.
func readBuildKitArchive(tarPath, dir string) (*ImageResult, error) {
	if err := untar(tarPath, dir); err != nil {
		return nil, fmt.Errorf("reading buildkit's OCI archive: %w", err)
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	tm, err := top.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(tm.Manifests) != 1 {
		return nil, fmt.Errorf("buildkit's OCI archive has %d entries, want 1", len(tm.Manifests))
	}
	desc := tm.Manifests[0]
	res := &ImageResult{Digest: desc.Digest.String(), MediaType: string(desc.MediaType)}
	subdir := func(p *v1.Platform) string {
		if p == nil {
			return ""
		}
		s, _ := frontend.CondaSubdir(ocispecs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
		return s
	}
	if desc.MediaType.IsIndex() {
		idx, err := top.ImageIndex(desc.Digest)
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, m := range im.Manifests {
			res.Platforms = append(res.Platforms, PlatformImage{Platform: subdir(m.Platform), Digest: m.Digest.String()})
		}
		res.Index = idx
		return res, nil
	}
	img, err := top.Image(desc.Digest)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	res.Image = img
	res.Platforms = []PlatformImage{{Platform: subdir(cf.Platform()), Digest: res.Digest}}
	return res, nil
}

// untar unpacks an archive of regular files and directories (an OCI archive) into dir,
// refusing any path that would leave it.
func untar(tarPath, dir string) error {
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if root, err = os.OpenRoot(dir); err != nil {
			return err
		}
	}
	defer root.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if d := path.Dir(name); d != "." {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return err
				}
			}
			w, err := root.Create(name)
			if err != nil {
				return err
			}
			if _, err := io.Copy(w, tr); err != nil {
				w.Close()
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected entry %s (type %c)", h.Name, h.Typeflag)
		}
	}
}

// LLBOptions configure LLB: what to compile (one target of a lock) and how its link steps
// get the reprobuild binary.
type LLBOptions struct {
	Lock *LockFile
	// Recipe gives the runtime record, SBOMs and config, and lets a failing step point
	// at its recipe line.
	Recipe *recipes.Recipe
	// Platform is the conda subdir to compile; empty means the lock's only target.
	Platform string
	// Linker and LinkPlatform are as for BuildKitOptions.
	Linker       frontend.Linker
	LinkPlatform *ocispecs.Platform
	LayerBudget  int
	Epoch        *time.Time
	BaseKeychain authn.Keychain
	// Channel reads the packages' activation scripts (etc/conda/activate.d), which the
	// config must apply, from their archives through the verified cache: BuildKit reads
	// them from the solved tree, which a static definition cannot. Nil leaves them out
	// of the config.
	Channel *ChannelClient
}

// LLBResult is one compiled target, ready for `buildctl build`.
type LLBResult struct {
	// Definition is the marshalled LLB, as `buildctl build` reads it from stdin.
	Definition []byte
	// Config is the image config JSON (the exporter's containerimage.config).
	Config []byte
	// ExporterAttrs are the exporter attributes BuildKit needs to give the image
	// `reprobuild image --engine buildkit` gives: source-date-epoch,
	// rewrite-timestamp and the manifest annotations (Config not included).
	ExporterAttrs map[string]string
	// Locals are the local contexts the solve needs, OCIStores the OCI layouts
	// (buildctl --oci-layout ID=DIR).
	Locals    []frontend.Local
	OCIStores []frontend.OCIStore
}

// LLB compiles one target exactly as the BuildKit engine does (same plan, same
// frontend.CompileTargets), so `buildctl build` of the result with its config and
// attributes gives the image `reprobuild image --engine buildkit` gives.
func LLB(ctx context.Context, o LLBOptions) (*LLBResult, error) {
	if o.Lock == nil {
		return nil, errors.New("llb: no lock")
	}
	var platforms []string
	if o.Platform != "" {
		platforms = []string{o.Platform}
	} else if len(o.Lock.Targets) != 1 {
		names := make([]string, len(o.Lock.Targets))
		for i, t := range o.Lock.Targets {
			names[i] = t.Platform
		}
		return nil, &TargetChoiceError{Targets: names}
	}
	ts, err := compileBuildKit(ctx, BuildKitOptions{
		Lock: o.Lock, Recipe: o.Recipe, Platforms: platforms,
		Linker: o.Linker, LinkPlatform: o.LinkPlatform, LayerBudget: o.LayerBudget, Epoch: o.Epoch, BaseKeychain: o.BaseKeychain,
	})
	if err != nil {
		return nil, err
	}
	t := &ts.Targets[0]
	if o.Channel != nil {
		scripts, err := packageActivationScripts(ctx, o.Channel, t.Build.Plan)
		if err != nil {
			return nil, fmt.Errorf("activation scripts: %w", err)
		}
		err = t.Activate(scripts, t.BaseHasShell)
		if err != nil {
			return nil, err
		}
	}
	def, err := t.Build.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	var buf strings.Builder
	if err := frontend.WriteDefinition(def, &buf); err != nil {
		return nil, err
	}
	return &LLBResult{Definition: []byte(buf.String()), Config: t.Config, ExporterAttrs: ts.ExporterAttrs(), Locals: ts.Locals, OCIStores: t.Build.OCIStores}, nil
}

// TargetChoiceError says a lock has several targets and the caller must choose one.
type TargetChoiceError struct{ Targets []string }

func (e *TargetChoiceError) Error() string {
	return fmt.Sprintf("the lock has %d targets (%s): choose one", len(e.Targets), strings.Join(e.Targets, ", "))
}
