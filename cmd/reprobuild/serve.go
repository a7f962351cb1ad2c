package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/catalog"
	"github.com/reprobuild/reprobuild/internal/record"
)

func newServeCommand() *cobra.Command {
	var (
		addr, data, db, registry, minLevel, engine, buildkitAddr string
		allow, allowPyPI                                         []string
		workers                                                  int
		cf                                                       channelFlags
	)
	cmd := &cobra.Command{
		Use:   "serve --addr HOST:PORT --data DIR [--db URL] [--registry REF] [--allow URL-PREFIX]... [--allow-pypi URL-PREFIX]...",
		Short: "Run the team catalogue: web page and API for recipes, locks, builds and records",
		Long: "serve runs the catalogue: namespaces, environments and their versions (recipe, lock,\n" +
			"builds, runtime record, SBOMs, audit), a web page, and a JSON API under /api/v1.\n" +
			"Submitted recipes are locked and built by a bounded worker pool. Recipes may read only\n" +
			"from the URL prefixes given with --allow (channels, mirrors, data, oci: bases), and\n" +
			"use only the PyPI indexes under the prefixes given with --allow-pypi.\n\n" +
			"Metadata lives in SQLite under --data unless --db postgres://... is given. On first\n" +
			"start an admin token is written to DIR/admin-token (mode 0600).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" {
				return fmt.Errorf("serve needs --data DIR (where the database, logs and artifacts live)")
			}
			if minLevel != "" && minLevel != "bitwise" && minLevel != "pinned" && minLevel != "best-effort" {
				return fmt.Errorf("--min-level %q: want bitwise, pinned or best-effort", minLevel)
			}
			if err := os.MkdirAll(data, 0o755); err != nil {
				return fmt.Errorf("--data %s: %w", data, err)
			}
			co, err := cf.options(cmd)
			if err != nil {
				return err
			}
			epoch, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			if engine == "buildkit" && buildkitAddr == "" {
				buildkitAddr = os.Getenv("BUILDKIT_HOST")
			}
			cb, err := newCatalogBuilder(co, engine, buildkitAddr, registry, epoch)
			if err != nil {
				return err
			}
			if db == "" {
				db = os.Getenv("REPROBUILD_CATALOG_DB")
			}
			ctx := cmd.Context()
			stderr := cmd.ErrOrStderr()
			srv, err := catalog.New(ctx, catalog.Options{
				DataDir: data, DB: db, Builder: cb, Workers: workers, Registry: registry,
				Policy: catalog.Policy{Allow: allow, AllowPyPI: allowPyPI, MinLevel: minLevel},
				Now:    time.Now,
				Logf:   func(f string, a ...any) { fmt.Fprintf(stderr, "serve: "+f+"\n", a...) },
			})
			if err != nil {
				return err
			}
			if srv.AdminTokenCreated {
				fmt.Fprintf(stderr, "serve: created the first admin token in %s (mode 0600)\n", srv.AdminTokenPath)
			}
			if srv.Interrupted > 0 {
				fmt.Fprintf(stderr, "serve: %d builds were interrupted by the last stop and are marked failed\n", srv.Interrupted)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				srv.Close()
				return fmt.Errorf("--addr %s: %w", addr, err)
			}
			fmt.Fprintf(stderr, "serve: listening on http://%s (data in %s)\n", ln.Addr(), data)
			wctx, cancel := context.WithCancel(ctx)
			srv.Start(wctx)
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			select {
			case <-ctx.Done():
			case err = <-errc:
			}
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			hs.Shutdown(sctx)
			scancel()
			cancel()
			srv.Close()
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&data, "data", "", "directory for the database, build logs, artifacts and images")
	f.StringVar(&db, "db", "", "database URL: postgres://USER@HOST:PORT/DB or sqlite:PATH (default $REPROBUILD_CATALOG_DB, else SQLite in --data)")
	f.StringVar(&registry, "registry", "", "push built images to REGISTRY/NAMESPACE/ENV:vN (default: keep them under --data)")
	f.StringArrayVar(&allow, "allow", nil, "URL prefix recipes may read from: channel or mirror URL, data URL, oci:PATH for local bases (repeatable)")
	f.StringArrayVar(&allowPyPI, "allow-pypi", nil, "URL prefix of the PyPI indexes (and mirrors) recipes may use, e.g. https://pypi.org/simple (repeatable; default: none)")
	f.StringVar(&minLevel, "min-level", "", "weakest reproducibility level accepted: bitwise, pinned or best-effort (default: any)")
	f.IntVar(&workers, "workers", 2, "concurrent builds")
	f.StringVar(&engine, "engine", "embedded", "build engine: embedded or buildkit")
	f.StringVar(&buildkitAddr, "buildkit-addr", "", "buildkitd address for --engine buildkit (default $BUILDKIT_HOST)")
	cf.register(cmd)
	return cmd
}

// catalogBuilder locks and builds submitted recipes with the builder package.
type catalogBuilder struct {
	co           builder.ChannelOptions
	engine       string
	buildkitAddr string
	linkerDir    string
	registry     string
	epoch        *time.Time
}

func newCatalogBuilder(co builder.ChannelOptions, engine, buildkitAddr, registry string, epoch *time.Time) (*catalogBuilder, error) {
	b := &catalogBuilder{co: co, engine: engine, buildkitAddr: buildkitAddr, registry: strings.TrimSuffix(registry, "/"), epoch: epoch}
	b.co.Progress, b.co.Terminal = nil, false
	switch engine {
	case "embedded":
	case "buildkit":
		if buildkitAddr == "" {
			return nil, fmt.Errorf("--engine buildkit needs --buildkit-addr or BUILDKIT_HOST")
		}
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		if b.linkerDir, err = builder.LinkerDir(exe); err != nil {
			return nil, fmt.Errorf("%w (build it with CGO_ENABLED=0 go build -o reprobuild ./cmd/reprobuild)", err)
		}
	default:
		return nil, fmt.Errorf("--engine %q: want embedded or buildkit", engine)
	}
	return b, nil
}

func (b *catalogBuilder) Engine() string { return b.engine }

func (b *catalogBuilder) Build(ctx context.Context, req catalog.BuildRequest) (*catalog.BuildResult, error) {
	co := b.co
	co.Progress = req.Log
	res := &catalog.BuildResult{}
	if !req.Frozen {
		lr, err := builder.Lock(ctx, builder.LockOptions{Recipe: req.Recipe, Channel: co})
		if err != nil {
			return res, err
		}
		if res.Lock, err = os.ReadFile(lr.Path); err != nil {
			return res, err
		}
		fmt.Fprintf(req.Log, "locked %s\n", filepath.Base(lr.Path))
	}
	if rep, err := builder.Audit(req.Recipe, builder.AuditOptions{}); err == nil {
		res.Audit = auditSteps(rep)
		fmt.Fprintf(req.Log, "audit: level %s achieved (declared %s), %d threats\n", rep.Achieved, rep.Scope.Level, len(rep.Threats))
	} else {
		fmt.Fprintf(req.Log, "audit: %v\n", err)
	}
	out := filepath.Join(req.Dir, "image")
	o := builder.ImageOptions{Recipe: req.Recipe, Locked: true, Output: "oci:" + out, Epoch: b.epoch, Channel: co, Keychain: authn.DefaultKeychain}
	if b.registry != "" {
		o.Push = true
		o.Tags = []string{fmt.Sprintf("%s/%s/%s:v%d", b.registry, req.Namespace, req.Environment, req.Number)}
	}
	fmt.Fprintf(req.Log, "building the image with the %s engine\n", b.engine)
	var ir *builder.ImageResult
	var err error
	if b.engine == "buildkit" {
		ir, err = builder.ImageBuildKit(ctx, o, builder.BuildKitOptions{Addr: b.buildkitAddr, LinkerDir: b.linkerDir, Progress: req.Log, ProgressMode: "plain"})
	} else {
		ir, err = builder.Image(ctx, o)
	}
	if err != nil {
		return res, err
	}
	res.Digest = ir.Digest
	for _, p := range ir.Platforms {
		fmt.Fprintf(req.Log, "%s %s\n", p.Platform, p.Digest)
	}
	for _, p := range ir.Pushed {
		fmt.Fprintf(req.Log, "pushed %s\n", p)
	}
	if b.registry != "" {
		// The recipe and lock go beside the image, referring to it; the SBOM referrers
		// the push attached are listed, so the version records all of them by digest.
		recipe, err := os.ReadFile(req.Recipe)
		if err != nil {
			return res, err
		}
		lock, err := os.ReadFile(ir.LockPath)
		if err != nil {
			return res, fmt.Errorf("reading the lock to push: %w", err)
		}
		if res.Registry, err = pushDocuments(ctx, o.Tags[0], ir.Digest, ir.Platforms, recipe, lock, o.Keychain); err != nil {
			return res, err
		}
		for _, a := range res.Registry {
			fmt.Fprintf(req.Log, "pushed %s %s (%s)\n", a.Name, a.Ref, a.ArtifactType)
		}
	}
	docs := out + ".reprobuild"
	entries, err := os.ReadDir(docs)
	if err != nil {
		return res, fmt.Errorf("reading the build's documents: %w", err)
	}
	res.Files = map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(docs, e.Name()))
		if err != nil {
			return res, err
		}
		res.Files[e.Name()] = data
	}
	return res, nil
}

// auditSteps turns the audit report into the four steps with pass/fail marks: scope
// passes when a level is declared, components when the lock pins every target, threats
// when none breaks the declared level, mitigations when the level is met.
func auditSteps(r *record.Report) []catalog.Step {
	scope := catalog.Step{Name: "1. Objectives and scope", Pass: r.Scope.Level != "" && len(r.Scope.Targets) > 0,
		Lines: []string{"level " + r.Scope.Level + " (declared)", "targets " + strings.Join(r.Scope.Targets, ", "), "base " + r.Scope.Base}}
	c := r.Components
	comp := catalog.Step{Name: "2. Components", Pass: len(c.Targets) > 0, Lines: []string{"interpreter " + c.Interpreter}}
	for _, t := range c.Targets {
		comp.Lines = append(comp.Lines, fmt.Sprintf("%s: %d packages (%d noarch)", t.Platform, t.Packages, t.Noarch))
	}
	comp.Lines = append(comp.Lines, fmt.Sprintf("%d channels (%d mirrors), %d conda specs, %d pip specs", c.Channels, c.Mirrors, c.CondaSpecs, c.PipSpecs))
	threats := catalog.Step{Name: fmt.Sprintf("3. Threats (%d)", len(r.Threats)), Pass: r.Met}
	for _, t := range r.Threats {
		line := fmt.Sprintf("%s %s: %s (fix: %s)", strings.ToUpper(t.Severity), t.ID, t.Message, t.Fix)
		if t.Breaks != "" {
			line += "; breaks " + t.Breaks
		}
		threats.Lines = append(threats.Lines, line)
	}
	if len(r.Threats) == 0 {
		threats.Lines = []string{"none found"}
	}
	mit := catalog.Step{Name: "4. Mitigations", Pass: r.Met}
	ms := append([]record.Mitigation(nil), r.Mitigations...)
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].InPlace && !ms[j].InPlace })
	for _, m := range ms {
		mark := "missing"
		if m.InPlace {
			mark = "in place"
		}
		mit.Lines = append(mit.Lines, fmt.Sprintf("%s: %s (%s)", m.ID, m.Message, mark))
	}
	mit.Lines = append(mit.Lines, fmt.Sprintf("achieved level: %s (declared %s)", r.Achieved, r.Scope.Level))
	return []catalog.Step{scope, comp, threats, mit}
}
