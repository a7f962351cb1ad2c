package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprobuild/reprobuild/frontend"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/plan"
	"github.com/reprobuild/reprobuild/internal/version"
	"github.com/reprobuild/reprobuild/recipes"
)

// Frontend options (buildctl --opt KEY=VALUE; buildx passes filename and platform).
const (
	OptFilename    = "filename"     // recipe path in the "dockerfile" context; default reprobuild.hcl
	OptPlatform    = "platform"     // comma-separated OCI platforms; default every locked target
	OptLinkerImage = "linker-image" // image with /usr/local/bin/reprobuild; default this frontend's image
	OptLayers      = "layers"       // most layers the environment is split into; default 16
	// OptSourceDateEpoch is how buildx passes SOURCE_DATE_EPOCH; default: the lock's epoch.
	OptSourceDateEpoch = "build-arg:SOURCE_DATE_EPOCH"
)

// ContextName is the local context holding the recipe and its lock ("dockerfile", as
// buildctl --local dockerfile=DIR and buildx -f provide it).
const ContextName = "dockerfile"

// LinkerPath is where the frontend image holds the static reprobuild binary.
const LinkerPath = "/usr/local/bin/reprobuild"

// Build is the BuildFunc of the reprobuild frontend: it reads the recipe and
// reprobuild.lock beside it from the "dockerfile" context, compiles every requested
// target and returns them as one result (an index for several platforms).
func Build(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
	opts := c.BuildOpts().Opts
	filename := opts[OptFilename]
	if filename == "" {
		filename = recipes.DefaultFilename
	}
	lockName := path.Join(path.Dir(filename), lock.Filename)
	files, err := readContext(ctx, c, filename, lockName)
	if err != nil {
		return nil, err
	}
	r, diags := recipes.Parse(filename, files[0])
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s", strings.TrimSpace(recipes.FormatDiagnostics(filename, files[0], diags)))
	}
	l, err := lock.Parse(files[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", lockName, err)
	}
	want := lock.Want{RecipeHash: r.Hash(), Targets: r.Targets()}
	for _, s := range r.RootSpecs() { // every root spec must be satisfied by each target
		want.Specs = append(want.Specs, lock.Spec{Text: s.Text, Origin: fmt.Sprintf("%s:%d:%d", s.Range.Filename, s.Range.Start.Line, s.Range.Start.Column)})
	}
	if err := lock.Check(l, want); err != nil {
		return nil, fmt.Errorf("%s: %w", lockName, err)
	}

	var subdirs []string
	if p := opts[OptPlatform]; p != "" {
		for _, s := range strings.Split(p, ",") {
			op, err := platforms.Parse(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("platform %q: %w", s, err)
			}
			sd, err := frontend.CondaSubdir(op)
			if err != nil {
				return nil, err
			}
			subdirs = append(subdirs, sd)
		}
	} else {
		for _, t := range l.Targets {
			subdirs = append(subdirs, t.Platform)
		}
	}

	linker := frontend.Linker{ImagePath: LinkerPath}
	var linkPlatform *ocispecs.Platform
	if img := opts[OptLinkerImage]; img != "" {
		linker.Image = img
	} else {
		var self *llb.State
		var err error
		if cf, ok := c.(interface{ CurrentFrontend() (*llb.State, error) }); ok {
			self, err = cf.CurrentFrontend()
		}
		if err != nil || self == nil {
			return nil, fmt.Errorf("cannot find this frontend's own image to run the link step (%v): pass --opt %s=REF@sha256:DIGEST", err, OptLinkerImage)
		}
		linker.State = self
		// The frontend runs natively on the worker, so its binary does too.
		linkPlatform = &ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH}
	}
	if strings.HasPrefix(l.Base.Ref, "oci:") {
		return nil, &frontend.UnsupportedError{What: "base " + l.Base.Ref, Reason: "an OCI layout base cannot be read through the gateway frontend; use `reprobuild image --engine buildkit` or a registry base"}
	}
	// The same plan as the CLI's engines: SOURCE_DATE_EPOCH if given, else the lock's.
	info := plan.Info{ReprobuildVersion: version.Get().Version, Engine: plan.EngineBuildKit}
	if v := opts[OptSourceDateEpoch]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", v)
		}
		info.Epoch = time.Unix(n, 0).UTC()
	}
	if v := opts[OptLayers]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--opt %s=%q: want a positive number of layers", OptLayers, v)
		}
		info.LayerBudget = n
	}
	plans, err := plan.Targets(r, l, subdirs, info)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	// The targets, record, SBOMs and config come from the same code as the CLI's
	// BuildKit engine.
	ts, err := frontend.CompileTargets(ctx, plans, frontend.Options{Linker: linker, LinkPlatform: linkPlatform},
		func(ctx context.Context, b *frontend.Build) (*v1.ConfigFile, error) { return baseConfig(ctx, c, b) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	return Solve(ctx, c, ts)
}

// readContext reads the named files from the recipe context.
func readContext(ctx context.Context, c gwclient.Client, names ...string) ([][]byte, error) {
	st := llb.Local(ContextName,
		llb.IncludePatterns(names),
		llb.SessionID(c.BuildOpts().SessionID),
		llb.SharedKeyHint("reprobuild-recipe"),
		llb.WithCustomName("[reprobuild] load recipe and lock"),
	)
	def, err := st.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	res, err := c.Solve(ctx, gwclient.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return nil, fmt.Errorf("reading the %s context: %w", ContextName, err)
	}
	ref, err := res.SingleRef()
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(names))
	for i, n := range names {
		b, err := ref.ReadFile(ctx, gwclient.ReadRequest{Filename: n})
		if err != nil {
			return nil, fmt.Errorf("reading %s from the %s context: %w (pass --local %s=DIR with the recipe and its lock)", n, ContextName, err, ContextName)
		}
		out[i] = b
	}
	return out, nil
}

// baseConfig asks BuildKit for the config of a registry base (nil for scratch).
func baseConfig(ctx context.Context, c gwclient.Client, b *frontend.Build) (*v1.ConfigFile, error) {
	if b.BaseRef == "" {
		return nil, nil
	}
	_, _, dt, err := c.ResolveImageConfig(ctx, b.BaseRef, sourceresolver.Opt{
		LogName:  "[reprobuild] base config " + b.BaseRef,
		ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &b.Platform},
	})
	if err != nil {
		return nil, fmt.Errorf("resolving base %s: %w", b.BaseRef, err)
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(dt, &cf); err != nil {
		return nil, fmt.Errorf("base %s has an unreadable config: %w", b.BaseRef, err)
	}
	return &cf, nil
}
