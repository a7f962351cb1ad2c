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
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/reprobuild/reprobuild/internal/channel"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/image"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/recipes"
)

// DefaultLayerBudget is how many layers the environment is split into at most.
const DefaultLayerBudget = 16

// ImageOptions configure Image.
type ImageOptions struct {
	Recipe string
	Vars   map[string]string
	// Frozen refuses to lock: the lock must exist and be up to date.
	Frozen bool
	// Output is "oci:DIR", "docker:FILE" or "" (no local output).
	Output string
	// Push pushes to Tags (or the recipe's image tags when Tags is empty).
	Push bool
	Tags []string
	// Epoch overrides the time stamped on every file and the image (SOURCE_DATE_EPOCH);
	// nil derives it from the lock, so the same lock gives the same image anywhere.
	Epoch       *time.Time
	LayerBudget int
	// MaxPackageSize bounds the unpacked size of one package (0: install's default, 8 GiB).
	MaxPackageSize int64
	// Phase, when set, is called as the build enters a phase: "fetch" (before package
	// downloads), "link", "layer-write" (a layer's bytes written, not yet in the layer
	// cache) and "output-replace" (the new output complete beside the old one, not yet
	// swapped in). It observes only; the kill -9 tests stop the process there.
	Phase    func(name string)
	Channel  ChannelOptions
	Keychain authn.Keychain
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
	LockPath  string          `json:"lock"`
	Locked    bool            `json:"locked"`
	Clobbers  []string        `json:"clobbers,omitempty"`

	// Image is the single-platform image, or nil; Index is set for several platforms.
	Image v1.Image      `json:"-"`
	Index v1.ImageIndex `json:"-"`
	// Referrers are the SBOM artifacts attached to the platform images (OCI 1.1
	// referrers); Records and Documents are what each platform image carries.
	Referrers []v1.Image              `json:"-"`
	Records   []*record.RuntimeRecord `json:"-"`
	Documents []PlatformDocuments     `json:"-"`

	// blobFiles are local files (in the layer cache) holding layers of the result, by
	// digest, so an OCI layout links them instead of copying.
	blobFiles map[v1.Hash]string
}

// PlatformDocuments are the SBOMs of one platform image.
type PlatformDocuments struct {
	Platform  string
	Documents []record.Artifact
}

// Image builds the recipe's image with the embedded engine (no daemon): lock if needed,
// fetch and verify packages, link them, layer them deterministically, and write or push
// the result.
func Image(ctx context.Context, o ImageOptions) (*ImageResult, error) {
	r, l, locked, err := PrepareLock(ctx, o.Recipe, o.Vars, o.Frozen, o.Channel)
	if err != nil {
		return nil, err
	}
	client, err := NewChannelClient(o.Channel)
	if err != nil {
		return nil, err
	}
	res, err := BuildFromLock(ctx, r, l, client, o)
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
func PrepareLock(ctx context.Context, recipePath string, vars map[string]string, frozen bool, co ChannelOptions) (*recipes.Recipe, *lock.Lock, bool, error) {
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
		return nil, nil, false, fmt.Errorf("--frozen: %w; run reprobuild lock -f %s", err, recipePath)
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
func Epoch(l *lock.Lock, override *time.Time) time.Time {
	if override != nil {
		return override.UTC()
	}
	return record.Epoch(l)
}

// BuildFromLock builds the image of every target of l.
func BuildFromLock(ctx context.Context, r *recipes.Recipe, l *lock.Lock, client *channel.Client, o ImageOptions) (*ImageResult, error) {
	epoch := Epoch(l, o.Epoch)
	budget := o.LayerBudget
	if budget <= 0 {
		budget = DefaultLayerBudget
	}
	lockBytes, err := lock.Marshal(l)
	if err != nil {
		return nil, err
	}
	lockHash := hexSHA256(lockBytes)
	cache := layerCache{maxPackage: o.MaxPackageSize, phase: o.Phase}
	if o.Channel.CacheDir != "" {
		cache.dir = filepath.Join(o.Channel.CacheDir, "layers")
	}
	cache.cleanStale()
	res := &ImageResult{}
	var imgs []v1.Image
	for _, t := range l.Targets {
		tb, err := buildTarget(ctx, r, l, &t, client, cache, epoch, budget, lockHash, o.Keychain)
		if err != nil {
			return nil, fmt.Errorf("building %s for %s: %w", r.Filename, t.Platform, err)
		}
		img := tb.image
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		res.Platforms = append(res.Platforms, PlatformImage{Platform: t.Platform, Digest: d.String()})
		res.Clobbers = append(res.Clobbers, tb.clobbers...)
		res.Records = append(res.Records, tb.record)
		res.Documents = append(res.Documents, PlatformDocuments{Platform: t.Platform, Documents: tb.sboms})
		refs, err := sbomReferrers(tb.sboms, img, epoch)
		if err != nil {
			return nil, err
		}
		res.Referrers = append(res.Referrers, refs...)
		for h, p := range tb.blobFiles {
			if res.blobFiles == nil {
				res.blobFiles = map[v1.Hash]string{}
			}
			res.blobFiles[h] = p
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

// installOrder sorts packages so that dependencies come before dependents (conda's link
// order), breaking ties by name, so clobbering resolves the same way everywhere.
func installOrder(recs []conda.PackageRecord) []conda.PackageRecord {
	byName := map[string]int{}
	for i, p := range recs {
		byName[p.Name] = i
	}
	sorted := slices.Clone(recs)
	slices.SortFunc(sorted, func(a, b conda.PackageRecord) int { return strings.Compare(a.Name, b.Name) })
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var out []conda.PackageRecord
	var visit func(p conda.PackageRecord)
	visit = func(p conda.PackageRecord) {
		if state[p.Name] != 0 {
			return // done, or a dependency cycle: keep name order
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

// targetBuild is one platform's image and what was made with it.
type targetBuild struct {
	image    v1.Image
	clobbers []string
	record   *record.RuntimeRecord
	sboms    []record.Artifact
	// blobFiles are the local files holding layers of image, by digest.
	blobFiles map[v1.Hash]string
}

func buildTarget(ctx context.Context, r *recipes.Recipe, l *lock.Lock, t *lock.Target, client *channel.Client, cache layerCache, epoch time.Time, budget int, lockHash string, kc authn.Keychain) (*targetBuild, error) {
	os_, arch, variant, ok := record.OCIPlatform(t.Platform)
	if !ok {
		return nil, fmt.Errorf("platform %s has no OCI equivalent", t.Platform)
	}
	platform := v1.Platform{OS: os_, Architecture: arch, Variant: variant}

	prefix := r.Image.Prefix
	if prefix == "" {
		prefix = recipes.DefaultPrefix
	}
	recs := installOrder(t.Packages)
	python := ""
	if r.Python != nil && r.Python.Source == "base" {
		python = majorMinor(r.Python.Version)
	}
	for _, p := range recs {
		if p.Name == "python" {
			python = majorMinor(p.Version)
		}
	}
	layers, files, clob, err := packageLayers(ctx, r, recs, client, cache, prefix, python, epoch, budget)
	if err != nil {
		return nil, err
	}
	lo := image.LayerOptions{Epoch: epoch}

	base, baseDigest, err := loadBase(ctx, r, l, platform, kc)
	if err != nil {
		return nil, err
	}
	rr, err := record.Runtime(r, l, record.BuildInfo{
		ReprobuildVersion: Version().Version, BaseDigest: baseDigest, Platform: t.Platform, LockHash: lockHash,
	})
	if err != nil {
		return nil, err
	}
	sboms, err := record.SBOMs(r, l, t.Platform, record.SBOMOptions{Created: epoch, ReprobuildVersion: Version().Version, LockHash: lockHash})
	if err != nil {
		return nil, err
	}
	own, err := reprobuildEntries(r, rr, sboms, prefix)
	if err != nil {
		return nil, err
	}
	ownLayer, err := image.LayerFromEntries(own, lo)
	if err != nil {
		return nil, err
	}
	layers = append(layers, ownLayer)
	for _, d := range r.Data {
		if d.Mode != "bake" {
			continue
		}
		layer, err := dataLayer(ctx, client, r, d, lo)
		if err != nil {
			return nil, err
		}
		layers = append(layers, layer)
	}

	cfg := imageConfig(r, rr, platform, prefix, epoch)
	img, err := image.Assemble(base, layers, cfg)
	if err != nil {
		return nil, err
	}
	return &targetBuild{image: img, clobbers: clob, record: rr, sboms: sboms, blobFiles: files}, nil
}

// packageLayers groups the packages into at most budget layers (planned from archive
// sizes, so the plan is known before anything is fetched) and builds each group's layer,
// from the layer cache when the group is unchanged. Missed groups are fetched, linked and
// compressed in parallel; each group's result depends only on its packages, so the image
// does not depend on the order they finish in. A path two packages of different groups
// both install is resolved by layer order (the later layer wins).
func packageLayers(ctx context.Context, r *recipes.Recipe, recs []conda.PackageRecord, client *channel.Client, cache layerCache, prefix, python string, epoch time.Time, budget int) ([]v1.Layer, map[v1.Hash]string, []string, error) {
	sizes := make([]image.Sized, len(recs))
	byName := map[string]conda.PackageRecord{}
	for i, p := range recs {
		sizes[i] = image.Sized{Name: p.Name, Size: p.Size}
		byName[p.Name] = p
	}
	order := map[string]int{}
	for i, p := range recs {
		order[p.Name] = i
	}
	groups := image.PlanLayers(sizes, budget)
	layers := make([]v1.Layer, len(groups))
	files := make([]string, len(groups))
	keys := make([]string, len(groups))
	groupRecs := make([][]conda.PackageRecord, len(groups))
	var missed []int
	for gi, names := range groups {
		for _, n := range names {
			groupRecs[gi] = append(groupRecs[gi], byName[n])
		}
		// Link in install order (dependencies first) inside the group.
		slices.SortFunc(groupRecs[gi], func(a, b conda.PackageRecord) int { return order[a.Name] - order[b.Name] })
		keys[gi] = cache.key(groupRecs[gi], prefix, python, epoch.Unix())
		if l, p, ok := cache.get(keys[gi]); ok {
			layers[gi] = l
			files[gi] = p
			continue
		}
		missed = append(missed, gi)
	}
	if len(missed) == 0 {
		if err := checkPackageLayers(cache, keys, prefix, layers, nil); err != nil {
			return nil, nil, nil, err
		}
		return layers, blobFiles(layers, files), nil, nil
	}
	var need []conda.PackageRecord
	for _, gi := range missed {
		need = append(need, groupRecs[gi]...)
	}
	// Archives of a local channel are verified and read where they are: the layer cache
	// keeps the result, so a copy in the package cache would only cost time and space.
	ds := downloadsFor(r, need)
	for i := range ds {
		ds[i].InPlace = true
	}
	cache.enter("fetch")
	paths, err := client.Fetch(ctx, ds)
	if err != nil {
		return nil, nil, nil, err
	}
	archive := map[string]string{}
	inPlace := map[string]bool{}
	casDir := filepath.Clean(client.Store().Dir()) + string(filepath.Separator)
	for i, p := range need {
		archive[p.Name] = paths[i]
		// An archive read in place may change after Fetch verified it: linking checks
		// the bytes it parses again, so neither the image nor the layer cache ever gets
		// unverified content.
		inPlace[p.Name] = !strings.HasPrefix(filepath.Clean(paths[i]), casDir)
	}
	clobbers := make([][]string, len(groups))
	shapes := make([][]install.Entry, len(groups)) // for the whole-environment check
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, gi := range missed {
		g.Go(func() error {
			pkgs := make([]install.Package, len(groupRecs[gi]))
			for i, p := range groupRecs[gi] {
				pkgs[i] = install.Package{Record: p, Archive: archive[p.Name], VerifySHA256: inPlace[p.Name]}
			}
			cache.enter("link")
			trees, cl, err := install.LinkAll(gctx, pkgs, install.Options{Prefix: prefix, PythonVersion: python, MaxUnpackedSize: cache.maxPackage})
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
			layer, file, err := cache.build(keys[gi], entries, image.LayerOptions{Epoch: epoch})
			if err != nil {
				return err
			}
			layers[gi], files[gi] = layer, file
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, nil, err
	}
	if err := checkPackageLayers(cache, keys, prefix, layers, shapes); err != nil {
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

// imageConfig is the image configuration of a recipe; both engines use it.
func imageConfig(r *recipes.Recipe, rr *record.RuntimeRecord, platform v1.Platform, prefix string, epoch time.Time) image.Config {
	labels := map[string]string{}
	for k, v := range record.Labels(rr) {
		labels[k] = v
	}
	for k, v := range r.Image.Labels {
		labels[k] = v
	}
	env := map[string]string{}
	if r.Python != nil && r.Python.Source == "base" {
		env["PYTHONPATH"] = path.Join(prefix, "lib", "python"+majorMinor(r.Python.Version), "site-packages")
	}
	for k, v := range r.Runtime.Env {
		env[k] = v
	}
	var volumes []string
	for _, d := range r.Data {
		if d.Mode == "mount" {
			volumes = append(volumes, d.Path)
		}
	}
	slices.Sort(volumes)
	return image.Config{
		Platform: platform, Prefix: prefix,
		Entrypoint: r.Runtime.Entrypoint, Cmd: r.Runtime.Cmd, Env: env,
		Workdir: r.Runtime.Workdir, User: r.Runtime.User,
		Labels: labels, Annotations: labels, Volumes: volumes, Epoch: epoch,
	}
}

// reprobuildEntries are reprobuild's own files in the image: the runtime record, the
// SBOMs, and for an interpreter from the base image a bin/python link to it.
func reprobuildEntries(r *recipes.Recipe, rr *record.RuntimeRecord, arts []record.Artifact, prefix string) ([]install.Entry, error) {
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

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// loadBase loads the base image for a platform and checks it is the one the lock pinned.
func loadBase(ctx context.Context, r *recipes.Recipe, l *lock.Lock, platform v1.Platform, kc authn.Keychain) (v1.Image, string, error) {
	ref := r.Image.Base
	if ref == "" || ref == "scratch" {
		return nil, "", nil
	}
	if rest, ok := strings.CutPrefix(ref, "oci:"); ok && !filepath.IsAbs(rest) {
		ref = "oci:" + filepath.Join(r.Dir, rest)
	}
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	img, digest, err := image.LoadBase(ctx, ref, platform, kc)
	if err != nil {
		return nil, "", err
	}
	if l.Base.Digest != "" && digest != l.Base.Digest && !strings.HasSuffix(ref, l.Base.Digest) {
		return nil, "", fmt.Errorf("base image %s resolved to %s, but the lock pins %s: relock or fix the base", r.Image.Base, digest, l.Base.Digest)
	}
	return img, digest, nil
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
func dataLayer(ctx context.Context, client *channel.Client, r *recipes.Recipe, d recipes.Data, lo image.LayerOptions) (v1.Layer, error) {
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

func writeOutputs(ctx context.Context, r *recipes.Recipe, res *ImageResult, o ImageOptions) error {
	if o.Output != "" {
		kind, dest, ok := strings.Cut(o.Output, ":")
		if !ok || dest == "" {
			return fmt.Errorf("--output %q: want oci:DIR or docker:FILE", o.Output)
		}
		tag := firstTag(r, o.Tags)
		if err := os.MkdirAll(filepath.Dir(filepath.Clean(dest)), 0o755); err != nil {
			return fmt.Errorf("--output %s: %w", o.Output, err)
		}
		switch kind {
		case "oci":
			idx := res.Index
			if idx == nil {
				var err error
				if idx, err = image.Index([]v1.Image{res.Image}); err != nil {
					return err
				}
			}
			var lo []image.LayoutOption
			if ref := refName(tag); ref != "" {
				lo = append(lo, image.WithRefName(ref))
			}
			lo = append(lo, image.WithArtifacts(res.Referrers...), image.WithBlobFiles(res.blobFiles))
			if o.Phase != nil {
				lo = append(lo, image.WithBeforeReplace(func() { o.Phase("output-replace") }))
			}
			if err := image.WriteLayout(dest, idx, lo...); err != nil {
				return err
			}
		case "docker":
			if res.Image == nil {
				return fmt.Errorf("--output docker:%s holds one platform; this recipe has %d: use oci:DIR or --push", dest, len(res.Platforms))
			}
			if err := image.WriteDockerArchive(dest, tag, res.Image); err != nil {
				return err
			}
		default:
			return fmt.Errorf("--output %q: unknown kind %q, want oci:DIR or docker:FILE", o.Output, kind)
		}
		res.Outputs = append(res.Outputs, o.Output)
		docs, err := writeDocs(dest, res, o, firstTag(r, o.Tags))
		if err != nil {
			return err
		}
		res.Outputs = append(res.Outputs, docs)
	}
	if o.Push {
		tags := o.Tags
		if len(tags) == 0 {
			tags = r.Image.Tags
		}
		if len(tags) == 0 {
			return fmt.Errorf("--push needs --tag REF or image.tags in %s", r.Filename)
		}
		kc := o.Keychain
		if kc == nil {
			kc = authn.DefaultKeychain
		}
		for _, tag := range tags {
			var x any = res.Image
			if res.Index != nil {
				x = res.Index
			}
			d, err := image.Push(ctx, tag, x, kc)
			if err != nil {
				return err
			}
			if d != res.Digest {
				return fmt.Errorf("pushed %s as %s, but the build is %s", tag, d, res.Digest)
			}
			res.Pushed = append(res.Pushed, tag+"@"+d)
			if err := pushReferrers(ctx, tag, res.Referrers, kc); err != nil {
				return err
			}
		}
	}
	return nil
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
