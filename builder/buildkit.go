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
	"strconv"
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
	imagepkg "github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/recipes"
)

// BuildKitCompatibilityVersion pins how buildkitd assembles images (BuildKit v0.31+
// behaviour), so a newer daemon does not silently change digests.
const BuildKitCompatibilityVersion = 30

// BuildKitOptions configures a BuildKit build. Lock, Addr and one output are required.
type BuildKitOptions struct {
	// Addr is the buildkitd address (unix://, tcp://, kube-pod://, docker-container://,
	// ssh://); the CLI takes it from --buildkit-addr or BUILDKIT_HOST.
	Addr string
	// TLS files for a tcp:// daemon (as buildctl --tlscacert/--tlscert/--tlskey).
	TLSServerName, TLSCACert, TLSCert, TLSKey string

	Lock *lock.Lock
	// Recipe and RecipeSource are optional: they give the runtime config and let a
	// failing step point at its recipe line.
	Recipe       *recipes.Recipe
	RecipeSource []byte
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
	// Group splits packages into cached link steps; nil means one step per package.
	Group frontend.GroupFunc
	// Config returns the image config JSON for a platform; nil builds it with
	// frontend.ImageConfig (image.ConfigFile over the base's config, the embedded
	// engine's function, so both engines set the same fields).
	Config func(subdir string) ([]byte, error)
	// Labels are merged over the recipe's labels (e.g. the runtime record's).
	Labels map[string]string
	// BaseKeychain authenticates reading a registry base's config on the client; nil
	// is anonymous.
	BaseKeychain authn.Keychain
	// BaseConfig reads a non-scratch base's config; nil uses image.LoadBase on the
	// client (the gateway frontend asks BuildKit instead).
	BaseConfig func(ctx context.Context, b *frontend.Build) (*v1.ConfigFile, error)
	// SourceDateEpoch is the time every timestamp in the image is set to.
	SourceDateEpoch int64

	// OCITar writes the image as an OCI archive to this path.
	OCITar string
	// Push pushes the image under these references; Insecure allows plain HTTP.
	Push     []string
	Insecure bool

	CacheExports []client.CacheOptionsEntry
	CacheImports []client.CacheOptionsEntry

	// Progress receives BuildKit's progress display (nil: none) in ProgressMode
	// ("auto", "plain", "tty", "quiet", "rawjson"; default "auto").
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
		return nil, errors.New("buildkit: no buildkitd address: pass --buildkit-addr or set BUILDKIT_HOST")
	}
	if opts.OCITar == "" && len(opts.Push) == 0 {
		return nil, ErrNoOutput
	}
	targets, locals, annotations, err := CompileTargets(ctx, opts)
	if err != nil {
		return nil, err
	}

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
	}
	attrs := ExporterAttrs(opts.SourceDateEpoch)
	if len(targets) == 1 {
		for k, v := range annotations {
			attrs["annotation."+k] = v
		}
		// One platform: the plain definition with the config as an exporter attr,
		// exactly what `reprobuild llb | buildctl build` solves.
		attrs["containerimage.config"] = string(targets[0].Config)
	}
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
		if len(targets) == 1 {
			def, merr := targets[0].Build.Marshal(ectx)
			if merr != nil {
				close(ch)
				return merr
			}
			resp, err = c.Solve(ectx, def, solveOpt, ch)
		} else {
			resp, err = c.Build(ectx, solveOpt, "reprobuild", func(ctx context.Context, gc gwclient.Client) (*gwclient.Result, error) {
				return SolveTargets(ctx, gc, targets, annotations)
			}, ch)
		}
		return err
	})
	eg.Go(func() error {
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
	}
	if out.Digest == "" {
		return nil, fmt.Errorf("buildkit build on %s: the exporter returned no digest", opts.Addr)
	}
	return out, nil
}

// ExporterAttrs are the attributes that make BuildKit's image exporters reproducible.
func ExporterAttrs(sourceDateEpoch int64) map[string]string {
	return map[string]string{
		"source-date-epoch": strconv.FormatInt(sourceDateEpoch, 10),
		"rewrite-timestamp": "true",
	}
}

// CompileTargets compiles every requested platform and its image config, and lists the
// local contexts the solve needs (merged across platforms, by name).
func CompileTargets(ctx context.Context, opts BuildKitOptions) (targets []BuildKitTarget, locals []frontend.Local, annotations map[string]string, err error) {
	subdirs := opts.Platforms
	if len(subdirs) == 0 {
		for _, t := range opts.Lock.Targets {
			subdirs = append(subdirs, t.Platform)
		}
	}
	if len(subdirs) == 0 {
		return nil, nil, nil, fmt.Errorf("buildkit: the lock has no targets")
	}
	seen := map[string]int{}
	recordLock := opts.Lock
	lockBytes, err := lock.Marshal(recordLock)
	if err != nil {
		return nil, nil, nil, err
	}
	lockHash := hexSHA256(lockBytes)
	epoch := time.Unix(opts.SourceDateEpoch, 0).UTC()
	annotations = map[string]string{}
	for _, sd := range subdirs {
		fo := frontend.Options{
			Platform:     sd,
			LinkPlatform: linkPlatform(opts),
			Linker:       opts.Linker,
			Group:        opts.Group,
			RecipeSource: opts.RecipeSource,
		}
		// With a recipe, the image gets what the embedded engine puts in it: the
		// runtime record and SBOMs, its config and labels.
		var rr *record.RuntimeRecord
		if r := opts.Recipe; r != nil {
			prefix := r.Image.Prefix
			if prefix == "" {
				prefix = recipes.DefaultPrefix
			}
			if r.Python != nil && r.Python.Source == "base" {
				fo.PythonVersion = majorMinor(r.Python.Version)
			}
			rr, err = record.Runtime(r, recordLock, record.BuildInfo{ReprobuildVersion: Version().Version, Platform: sd, LockHash: lockHash})
			if err != nil {
				return nil, nil, nil, err
			}
			sboms, err := record.SBOMs(r, recordLock, sd, record.SBOMOptions{Created: epoch, ReprobuildVersion: Version().Version, LockHash: lockHash})
			if err != nil {
				return nil, nil, nil, err
			}
			if fo.Extra, err = reprobuildEntries(r, rr, sboms, prefix); err != nil {
				return nil, nil, nil, err
			}
		}
		b, err := frontend.Compile(opts.Lock, opts.Recipe, fo)
		if err != nil {
			return nil, nil, nil, err
		}
		var cfg []byte
		if opts.Config != nil {
			cfg, err = opts.Config(sd)
		} else {
			cfg, err = buildKitConfig(ctx, opts, b, rr, epoch)
		}
		if err == nil && rr != nil {
			// Manifest annotations, as the embedded engine sets them.
			for k, v := range record.Labels(rr) {
				annotations[k] = v
			}
			for k, v := range opts.Recipe.Image.Labels {
				annotations[k] = v
			}
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("image config for %s: %w", sd, err)
		}
		targets = append(targets, BuildKitTarget{Build: b, Config: cfg})
		for _, l := range b.Locals {
			if i, ok := seen[l.Name]; ok {
				locals[i].Include = append(locals[i].Include, l.Include...)
				continue
			}
			seen[l.Name] = len(locals)
			locals = append(locals, l)
		}
	}
	return targets, locals, annotations, nil
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

// buildKitConfig loads the base's config (registry or OCI layout, read by the client) and
// builds the image config over it.
func buildKitConfig(ctx context.Context, opts BuildKitOptions, b *frontend.Build, rr *record.RuntimeRecord, epoch time.Time) ([]byte, error) {
	var base *v1.ConfigFile
	if b.BaseRef != "" && opts.BaseConfig != nil {
		var err error
		if base, err = opts.BaseConfig(ctx, b); err != nil {
			return nil, err
		}
	} else if b.BaseRef != "" {
		p := v1.Platform{OS: b.Platform.OS, Architecture: b.Platform.Architecture, Variant: b.Platform.Variant}
		img, _, err := imagepkg.LoadBase(ctx, b.BaseRef, p, opts.BaseKeychain)
		if err != nil {
			return nil, err
		}
		if base, err = img.ConfigFile(); err != nil {
			return nil, fmt.Errorf("reading the config of base %s: %w", b.BaseRef, err)
		}
	}
	c := frontend.ImageSettings(opts.Recipe, opts.Lock, b, "", epoch)
	if opts.Recipe != nil {
		prefix := opts.Recipe.Image.Prefix
		if prefix == "" {
			prefix = recipes.DefaultPrefix
		}
		p := v1.Platform{OS: b.Platform.OS, Architecture: b.Platform.Architecture, Variant: b.Platform.Variant}
		c = imageConfig(opts.Recipe, rr, p, prefix, epoch)
	}
	if len(opts.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range c.Labels {
			labels[k] = v
		}
		for k, v := range opts.Labels {
			labels[k] = v
		}
		c.Labels = labels
	}
	return frontend.ImageConfig(base, c, b)
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
	src, err := os.ReadFile(r.Filename)
	if err != nil {
		return nil, fmt.Errorf("reading recipe: %w", err)
	}
	tmp, err := os.MkdirTemp("", "reprobuild-buildkit-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bk.Lock, bk.Recipe, bk.RecipeSource = l, r, src
	bk.SourceDateEpoch = Epoch(l, o.Epoch).Unix()
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
	res.LockPath, res.Locked = LockPath(r), locked
	if err := writeOutputs(ctx, r, res, o); err != nil {
		return nil, err
	}
	return res, nil
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
