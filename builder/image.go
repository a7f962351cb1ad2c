package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/reprobuild/reprobuild/internal/channel"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/fsutil"
	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/plan"
	"github.com/reprobuild/reprobuild/internal/progress"
	"github.com/reprobuild/reprobuild/internal/pypi/index"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/recipes"
)

// DefaultLayerBudget is how many layers the environment is split into at most.
const DefaultLayerBudget = plan.DefaultLayerBudget

// ImageOptions configure Image.
type ImageOptions struct {
	Recipe string
	Vars   map[string]string
	// Locked refuses to lock: the lock must exist and be up to date (the CLI's --locked).
	Locked bool
	// Frozen uses the lock as it is, unchecked against the recipe (the CLI's --frozen,
	// as pixi, uv and cargo mean it).
	Frozen bool
	// NoLayerCache builds every layer from the package archives (verify --no-cache).
	NoLayerCache bool
	// Platforms, when set, builds only these targets of the lock (conda subdirs, or OCI
	// platforms such as linux/arm64); each image is the one a full build gives.
	Platforms []string
	// Output is "oci:DIR", "docker:FILE" or "" (no local output).
	Output string
	// Push pushes to Tags (or the recipe's image tags when Tags is empty).
	Push bool
	Tags []string
	// Epoch overrides the time stamped on every file and the image (SOURCE_DATE_EPOCH);
	// nil derives it from the lock, so the same lock gives the same image anywhere.
	Epoch       *time.Time
	LayerBudget int
	Channel     ChannelOptions
	Keychain    authn.Keychain
	// MaxPackageSize bounds the unpacked size of one package (0: install's default, 8 GiB).
	MaxPackageSize int64
	// Phase observes build phases (see BuildOptions.Phase) and the output replacement:
	// "output-replace" is the new output complete beside the old one, not yet swapped in.
	Phase func(name string)
}

// PlatformImage is one platform's image of a build.
type PlatformImage struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
}

// ImageResult describes a built image.
type ImageResult struct {
	// Digest is the image manifest digest for one platform, or the image index digest
	// for several.
	Digest    string          `json:"digest"`
	MediaType string          `json:"media_type"`
	Platforms []PlatformImage `json:"platforms"`
	Outputs   []string        `json:"outputs,omitempty"`
	Pushed    []string        `json:"pushed,omitempty"`
	// ContainerDisk is the digest of the KubeVirt containerDisk of a kubevirt: output:
	// with Push, the tags get it instead of the container image.
	ContainerDisk string   `json:"container_disk,omitempty"`
	LockPath      string   `json:"lock"`
	Locked        bool     `json:"locked"`
	Clobbers      []string `json:"clobbers,omitempty"`

	// Image is the single-platform image, or nil; Index is set for several platforms.
	Image v1.Image      `json:"-"`
	Index v1.ImageIndex `json:"-"`
	// Referrers are the SBOM artifacts attached to the platform images (OCI 1.1
	// referrers); Records and Documents are what each platform image carries.
	Referrers []v1.Image          `json:"-"`
	Records   []*RuntimeRecord    `json:"-"`
	Documents []PlatformDocuments `json:"-"`

	// containerDisk is the containerDisk image (index) of a kubevirt: output.
	containerDisk v1.ImageIndex

	// plans are the per-target build plans the image was built from, in platform
	// order: outputs beside the image (VM disks, SIF files) read them.
	plans []*plan.Plan

	// blobFiles are local files (in the layer cache) holding layers of the result, by
	// digest, so an OCI layout links them instead of copying.
	blobFiles map[v1.Hash]string
}

// PlatformDocuments are the SBOMs of one platform image.
type PlatformDocuments struct {
	Platform  string
	Documents []Artifact
}

// Image builds the recipe's image with the embedded engine (no daemon): lock if needed,
// fetch and verify packages, link them, layer them deterministically, and write or push
// the result.
func Image(ctx context.Context, o ImageOptions) (*ImageResult, error) {
	r, l, locked, err := prepareLockFor(ctx, o)
	if err != nil {
		return nil, err
	}
	client, err := NewChannelClient(o.Channel)
	if err != nil {
		return nil, err
	}
	bo := BuildOptions{Epoch: o.Epoch, LayerBudget: o.LayerBudget, Keychain: o.Keychain, Platforms: selectedSubdirs(l, o.Platforms), MaxPackageSize: o.MaxPackageSize, Phase: o.Phase}
	if hasPip(l) {
		if bo.PyPI, err = NewIndexClient(o.Channel); err != nil {
			return nil, err
		}
	}
	if o.Channel.CacheDir != "" && !o.NoLayerCache {
		bo.LayerCacheDir = filepath.Join(o.Channel.CacheDir, "layers")
	}
	res, err := BuildFromLock(ctx, r, l, client, bo)
	if err != nil {
		return nil, err
	}
	res.LockPath, res.Locked = LockPath(r), locked
	if err := writeOutputs(ctx, r, res, o); err != nil {
		return nil, err
	}
	return res, nil
}

// PrepareLock loads the recipe and a lock that is up to date with it, locking first
// unless frozen. It reports whether it locked.
func PrepareLock(ctx context.Context, recipePath string, vars map[string]string, frozen bool, co ChannelOptions) (*recipes.Recipe, *LockFile, bool, error) {
	r, err := LoadRecipe(recipePath, vars)
	if err != nil {
		return nil, nil, false, err
	}
	l, err := LoadLock(r)
	if err == nil {
		err = CheckLock(r, l)
	}
	if err == nil {
		return r, l, false, nil
	}
	if frozen {
		return nil, nil, false, &FrozenLockError{Recipe: recipePath, Err: err}
	}
	var missing *MissingLockError
	var stale *lock.StaleError
	if !errors.As(err, &missing) && !errors.As(err, &stale) {
		return nil, nil, false, err
	}
	res, err := Lock(ctx, LockOptions{Recipe: recipePath, Vars: vars, Channel: co})
	if err != nil {
		return nil, nil, false, err
	}
	return r, res.Lock, true, nil
}

// Epoch is the time stamped on every file and on the image: the override, else the
// newest package timestamp of the lock.
func Epoch(l *LockFile, override *time.Time) time.Time {
	if override != nil {
		return override.UTC()
	}
	return record.Epoch(l)
}

// BuildOptions configure BuildFromLock. The zero value is valid.
type BuildOptions struct {
	// Epoch overrides the time stamped on every file and the image; nil is the lock's.
	Epoch *time.Time
	// LayerBudget is the most layers the environment is split into (0: the default).
	LayerBudget int
	// Keychain authenticates pulling a registry base (nil: the default keychain).
	Keychain authn.Keychain
	// LayerCacheDir keeps built package layers between builds ("": no layer cache).
	LayerCacheDir string
	// Platforms are the targets to build (conda subdirs); empty builds every target.
	Platforms []string
	// PyPI fetches the lock's wheels (nil: an index client on the channel client's
	// cache, with default settings).
	PyPI *index.Client
	// MaxPackageSize bounds the unpacked size of one package (0: install's default, 8 GiB).
	MaxPackageSize int64
	// Phase, when set, is called as the build enters a phase: "fetch" (before package
	// downloads), "link", "layer-write" (a layer's bytes written, not yet in the layer
	// cache). It observes only; the kill -9 tests stop the process there.
	Phase func(name string)
}

// BuildFromLock builds the image of every target of l with the embedded engine,
// fetching packages through client. It writes nothing but the layer cache.
func BuildFromLock(ctx context.Context, r *recipes.Recipe, l *LockFile, client *ChannelClient, o BuildOptions) (*ImageResult, error) {
	info := plan.Info{ReprobuildVersion: Version().Version, Engine: plan.EngineEmbedded, LayerBudget: o.LayerBudget}
	if o.Epoch != nil {
		info.Epoch = *o.Epoch
	}
	plans, err := plan.Targets(r, l, o.Platforms, info)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Filename, err)
	}
	if hasPip(l) {
		pc := o.PyPI
		if pc == nil {
			if pc, err = indexClientFor(ChannelOptions{}, client); err != nil {
				return nil, err
			}
		}
		if err := addPip(ctx, plans, pc); err != nil {
			return nil, err
		}
	}
	env := embeddedEnv{client: client, keychain: o.Keychain, cache: layerCache{dir: o.LayerCacheDir, maxPackage: o.MaxPackageSize, phase: o.Phase}}
	env.cache.cleanStale() // temporaries of killed runs
	res := &ImageResult{plans: plans}
	var imgs []v1.Image
	for _, p := range plans {
		task := progress.FromContext(ctx).Start("build " + p.Subdir) // fetch, link, compress
		tb, err := buildTarget(ctx, p, env)
		task.Done(err)
		if err != nil {
			return nil, fmt.Errorf("building %s for %s: %w", r.Filename, p.Subdir, err)
		}
		img := tb.image
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		res.Platforms = append(res.Platforms, PlatformImage{Platform: p.Subdir, Digest: d.String()})
		res.Clobbers = append(res.Clobbers, tb.clobbers...)
		res.Records = append(res.Records, p.Record)
		res.Documents = append(res.Documents, PlatformDocuments{Platform: p.Subdir, Documents: p.SBOMs})
		refs, err := sbomReferrers(p.SBOMs, img, p.Epoch)
		if err != nil {
			return nil, err
		}
		res.Referrers = append(res.Referrers, refs...)
		for h, f := range tb.blobFiles {
			if res.blobFiles == nil {
				res.blobFiles = map[v1.Hash]string{}
			}
			res.blobFiles[h] = f
		}
		imgs = append(imgs, img)
	}
	if len(imgs) == 1 {
		res.Image = imgs[0]
		res.Digest = res.Platforms[0].Digest
		mt, _ := imgs[0].MediaType()
		res.MediaType = string(mt)
		return res, nil
	}
	idx, err := image.Index(imgs)
	if err != nil {
		return nil, err
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	mt, _ := idx.MediaType()
	res.Index, res.Digest, res.MediaType = idx, d.String(), string(mt)
	return res, nil
}

// embeddedEnv is what the embedded engine reads from besides a plan: the channel client
// (verified package cache), the layer cache and registry credentials for the base.
type embeddedEnv struct {
	client   *channel.Client
	cache    layerCache
	keychain authn.Keychain
}

// targetBuild is one platform's image and what was made with it.
type targetBuild struct {
	image    v1.Image
	clobbers []string
	// blobFiles are the local files holding layers of image, by digest.
	blobFiles map[v1.Hash]string
}

// buildTarget executes one plan: package layers, reprobuild's own layer, baked data,
// over the base, with the plan's config.
func buildTarget(ctx context.Context, p *plan.Plan, env embeddedEnv) (*targetBuild, error) {
	layers, files, clob, err := packageLayers(ctx, p, env)
	if err != nil {
		return nil, err
	}
	scripts, err := activationScripts(layers, p.Prefix, env.cache) // etc/conda/activate.d, see activation.go
	if err != nil {
		return nil, err
	}
	lo := image.LayerOptions{Epoch: p.Epoch}
	base, err := loadBase(ctx, p, env.keychain)
	if err != nil {
		return nil, err
	}
	if len(p.Own) > 0 {
		ownLayer, err := image.LayerFromEntries(p.Own, lo)
		if err != nil {
			return nil, err
		}
		layers = append(layers, ownLayer)
	}
	for _, d := range p.Data {
		layer, err := dataLayer(ctx, env.client, p.Recipe, d, lo)
		if err != nil {
			return nil, err
		}
		layers = append(layers, layer)
	}
	ab, err := activationBase(base)
	if err != nil {
		return nil, err
	}
	cfg, err := p.Activation(scripts, ab)
	if err != nil {
		return nil, err
	}
	img, err := image.Assemble(base, layers, cfg)
	if err != nil {
		return nil, err
	}
	return &targetBuild{image: img, clobbers: clob, blobFiles: files}, nil
}

// packageLayers builds the layer of each of the plan's groups, from the layer cache when
// the group is unchanged. Missed groups are fetched, linked and compressed in parallel;
// each group's result depends only on its packages, so the image does not depend on the
// order they finish in. A path two packages of different groups both install is
// resolved by layer order (the later layer wins).
func packageLayers(ctx context.Context, p *plan.Plan, env embeddedEnv) ([]v1.Layer, map[v1.Hash]string, []string, error) {
	groups := p.Groups
	layers := make([]v1.Layer, len(groups))
	files := make([]string, len(groups))
	keys := make([]string, len(groups))
	var missed []int
	for gi, g := range groups {
		keys[gi] = env.cache.key(g.Packages, p.Prefix, p.Python, p.Epoch.Unix())
		if l, f, ok := env.cache.get(keys[gi]); ok {
			layers[gi] = l
			files[gi] = f
			continue
		}
		missed = append(missed, gi)
	}
	if len(missed) == 0 {
		if err := checkPackageLayers(env.cache, keys, p.Prefix, layers, nil); err != nil {
			return nil, nil, nil, err
		}
		return layers, blobFiles(layers, files), nil, nil
	}
	var need []conda.PackageRecord
	for _, gi := range missed {
		need = append(need, groups[gi].Packages...)
	}
	// Archives of a local channel are verified and read where they are: the layer cache
	// keeps the result, so a copy in the package cache would only cost time and space.
	ds := downloadsFor(p.Recipe, need)
	for i := range ds {
		ds[i].InPlace = true
	}
	env.cache.enter("fetch")
	paths, err := env.client.Fetch(ctx, ds)
	if err != nil {
		return nil, nil, nil, err
	}
	archive := map[string]string{}
	inPlace := map[string]bool{}
	casDir := filepath.Clean(env.client.Store().Dir()) + string(filepath.Separator)
	for i, rec := range need {
		archive[rec.Name] = paths[i]
		// An archive read in place may change after Fetch verified it: linking checks
		// the bytes it parses again, so neither the image nor the layer cache ever gets
		// unverified content.
		inPlace[rec.Name] = !strings.HasPrefix(filepath.Clean(paths[i]), casDir)
	}
	clobbers := make([][]string, len(groups))
	shapes := make([][]install.Entry, len(groups))                  // for the whole-environment check
	linking := progress.FromContext(ctx).Start("link and compress") // the layers not cached
	linking.Total(int64(len(missed)), "layers")
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, gi := range missed {
		g.Go(func() error {
			pkgs := make([]install.Package, len(groups[gi].Packages))
			for i, rec := range groups[gi].Packages {
				pkgs[i] = install.Package{Record: rec, Archive: archive[rec.Name], VerifySHA256: inPlace[rec.Name]}
			}
			env.cache.enter("link")
			// Large files are spooled beside the cache, not held in memory, until the
			// layer has streamed them (removed once it is built; a killed run's spool is
			// removed by the next one, see cas.Open).
			spool, err := fsutil.MkdirTemp(filepath.Join(env.client.Store().Dir(), "tmp"), "spool-*")
			if err != nil {
				return fmt.Errorf("creating a spool directory in the cache: %w", err)
			}
			defer spool.Release()
			defer os.RemoveAll(spool.Path)
			trees, cl, err := install.LinkAll(gctx, pkgs, install.Options{Prefix: p.Prefix, PythonVersion: p.Python, SpoolDir: spool.Path, MaxUnpackedSize: env.cache.maxPackage})
			if err != nil {
				return err
			}
			for _, c := range cl {
				clobbers[gi] = append(clobbers[gi], fmt.Sprintf("%s: %s wins over %s", c.Path, c.Winner, c.Loser))
			}
			var entries []install.Entry
			seen := map[string]bool{}
			for _, tr := range trees {
				for _, e := range tr.Entries {
					if e.Type == install.TypeDir {
						if seen[e.Path] {
							continue
						}
						seen[e.Path] = true
					}
					entries = append(entries, e)
				}
			}
			shapes[gi] = install.Shape(entries)
			layer, file, err := env.cache.build(keys[gi], entries, image.LayerOptions{Epoch: p.Epoch})
			if err != nil {
				return err
			}
			layers[gi], files[gi] = layer, file
			linking.Add(1, fmt.Sprintf("layer %d (%d packages)", gi+1, len(pkgs)))
			return nil
		})
	}
	err = g.Wait()
	if linking.Done(err); err != nil {
		return nil, nil, nil, err
	}
	if err := checkPackageLayers(env.cache, keys, p.Prefix, layers, shapes); err != nil {
		return nil, nil, nil, err
	}
	var clob []string
	for _, c := range clobbers {
		clob = append(clob, c...)
	}
	return layers, blobFiles(layers, files), clob, nil
}

// blobFiles maps the digests of layers held in local files to those files.
func blobFiles(layers []v1.Layer, files []string) map[v1.Hash]string {
	out := map[v1.Hash]string{}
	for i, f := range files {
		if f == "" {
			continue
		}
		if d, err := layers[i].Digest(); err == nil {
			out[d] = f
		}
	}
	return out
}

// loadBase loads the plan's base image for its platform and checks it is the one the
// lock pinned.
func loadBase(ctx context.Context, p *plan.Plan, kc authn.Keychain) (v1.Image, error) {
	if p.Base.Scratch() {
		return nil, nil
	}
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ref := p.Base.Pinned()
	img, digest, err := image.LoadBase(ctx, ref, p.Platform, kc)
	if err != nil {
		return nil, err
	}
	if p.Base.Digest != "" && digest != p.Base.Digest && !strings.HasSuffix(ref, p.Base.Digest) {
		return nil, fmt.Errorf("base image %s resolved to %s, but the lock pins %s: relock or fix the base", p.Base.Ref, digest, p.Base.Digest)
	}
	return img, nil
}

// downloadsFor maps locked records to downloads from their recipe channel's location
// and mirrors (a record of no recipe channel is fetched from its own URL).
func downloadsFor(r *recipes.Recipe, recs []conda.PackageRecord) []channel.Download {
	chans := Channels(r)
	ds := make([]channel.Download, len(recs))
	for i, rec := range recs {
		ds[i] = channel.Download{Record: rec, Location: r.ResolveURL(rec.URL)}
		for _, ch := range chans {
			if strings.TrimRight(rec.Channel, "/") == ch.URL || strings.HasPrefix(rec.URL, ch.URL+"/") {
				ds[i] = ch.Download(rec)
				break
			}
		}
	}
	return ds
}

// dataLayer fetches a baked data source through the verified cache and puts it in its
// own layer.
func dataLayer(ctx context.Context, client *channel.Client, r *recipes.Recipe, d lock.Data, lo image.LayerOptions) (v1.Layer, error) {
	if d.SHA256 == "" {
		return nil, fmt.Errorf("data %q: baking needs sha256 = \"...\" in %s (nothing unverified goes into an image)", d.Name, r.Filename)
	}
	dl := channel.Download{
		Record:   conda.PackageRecord{Name: d.Name, Fn: path.Base(d.URL), URL: d.URL, SHA256: d.SHA256},
		Location: r.ResolveURL(d.URL),
	}
	paths, err := client.Fetch(ctx, []channel.Download{dl})
	if err != nil {
		return nil, fmt.Errorf("data %q: %w", d.Name, err)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		return nil, fmt.Errorf("data %q: %w", d.Name, err)
	}
	defer f.Close()
	layer, err := image.DataLayer(strings.TrimPrefix(path.Clean(d.Path), "/"), f, lo)
	if err != nil {
		return nil, fmt.Errorf("data %q: %w", d.Name, err)
	}
	return layer, nil
}

// writeOutputs writes o.Output and pushes as o says. An output is KIND:DEST; each kind
// is one case of the switch below, calling a function with the built result (res holds
// the images, records, documents and, in res.plans, the recipe and lock of each target).
func writeOutputs(ctx context.Context, r *recipes.Recipe, res *ImageResult, o ImageOptions) error {
	if o.Output != "" {
		kind, dest, ok := strings.Cut(o.Output, ":")
		if !ok || dest == "" {
			return &OutputError{Output: o.Output, Reason: "want oci:DIR or docker:FILE"}
		}
		tag := firstTag(r, o.Tags)
		if err := os.MkdirAll(filepath.Dir(filepath.Clean(dest)), 0o755); err != nil {
			return &OutputError{Output: o.Output, Reason: "creating its directory", Err: err}
		}
		switch kind {
		case "oci":
			var lo []image.LayoutOption
			if o.Phase != nil {
				lo = append(lo, image.WithBeforeReplace(func() { o.Phase("output-replace") }))
			}
			task := progress.FromContext(ctx).Start("write " + o.Output)
			err := writeOCILayout(dest, tag, res, lo...)
			if task.Done(err); err != nil {
				return err
			}
		case "docker":
			if res.Image == nil {
				return &OutputError{Output: o.Output, Reason: fmt.Sprintf("a docker archive holds one platform and this recipe has %d: write an OCI layout or push", len(res.Platforms))}
			}
			if err := image.WriteDockerArchive(dest, tag, res.Image); err != nil {
				return err
			}
		case "sif":
			if err := writeSIF(ctx, res, dest); err != nil {
				return err
			}
		case "vm":
			if err := writeVM(ctx, r, res, o, dest); err != nil {
				return err
			}
		case "kubevirt":
			if err := writeContainerDisk(ctx, r, res, o, dest); err != nil {
				return err
			}
		default:
			return &OutputError{Output: o.Output, Reason: fmt.Sprintf("unknown kind %q, want oci:DIR, docker:FILE, vm:PATH.qcow2, kubevirt:DIR or sif:FILE", kind)}
		}
		res.Outputs = append(res.Outputs, o.Output)
		docs, err := writeDocs(dest, res, o, firstTag(r, o.Tags))
		if err != nil {
			return err
		}
		if kind == "vm" {
			if err := appendVMReproduce(docs, dest, r); err != nil {
				return err
			}
		}
		res.Outputs = append(res.Outputs, docs)
	}
	if o.Push {
		tags := o.Tags
		if len(tags) == 0 {
			tags = r.Image.Tags
		}
		if len(tags) == 0 {
			return &NoTagsError{Recipe: r.Filename}
		}
		kc := o.Keychain
		if kc == nil {
			kc = authn.DefaultKeychain
		}
		var x any = res.Image
		if res.Index != nil {
			x = res.Index
		}
		want, kind := res.Digest, pushImage
		if res.containerDisk != nil {
			// A kubevirt: output is for KubeVirt: its tags get the containerDisk.
			x, want, kind = res.containerDisk, res.ContainerDisk, pushContainerDisk
		}
		for _, tag := range tags {
			d, err := image.Push(ctx, tag, x, kc)
			if err != nil {
				return err
			}
			if d != want {
				return fmt.Errorf("pushed %s as %s, but the build is %s", tag, d, want)
			}
			res.Pushed = append(res.Pushed, tag+"@"+d)
			if kind == pushContainerDisk {
				continue // the SBOM referrers' subjects are the container images
			}
			if err := pushReferrers(ctx, tag, res.Referrers, kc); err != nil {
				return err
			}
		}
		if err := recordPushes(o.Channel.CacheDir, res, kind, want); err != nil {
			return err
		}
	}
	return nil
}

// writeOCILayout writes the image (or index) with its SBOM referrers as an OCI layout.
func writeOCILayout(dest, tag string, res *ImageResult, extra ...image.LayoutOption) error {
	var idx any = res.Image // index.json's one entry: the image, or the index
	if res.Index != nil {
		idx = res.Index
	}
	var lo []image.LayoutOption
	if ref := refName(tag); ref != "" {
		lo = append(lo, image.WithRefName(ref))
	}
	lo = append(lo, image.WithArtifacts(res.Referrers...), image.WithBlobFiles(res.blobFiles))
	return image.WriteLayout(dest, idx, append(lo, extra...)...)
}

// refName is the layout's ref.name for a tag: its tag part, so `oci:DIR:TAG` works in
// skopeo and umoci.
func refName(tag string) string {
	if tag == "" {
		return ""
	}
	if i := strings.LastIndex(tag, ":"); i > strings.LastIndex(tag, "/") {
		return tag[i+1:]
	}
	return "latest"
}

func firstTag(r *recipes.Recipe, tags []string) string {
	if len(tags) > 0 {
		return tags[0]
	}
	if len(r.Image.Tags) > 0 {
		return r.Image.Tags[0]
	}
	return ""
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
