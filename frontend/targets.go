package frontend

import (
	"context"
	"fmt"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/activate"
	"github.com/reprobuild/reprobuild/internal/plan"
)

// Target is one compiled plan with its image config (JSON).
type Target struct {
	Build  *Build
	Config []byte
	// Annotations go on this target's image manifest (the plan's; they differ by
	// platform).
	Annotations map[string]string
	// Base is the base's config (nil for scratch), which Activate needs.
	Base *v1.ConfigFile
	// BaseHasShell, when set, says whether the base has /bin/sh, read where the base
	// config was (the CLI reads the base on the client); nil: the solve reads it.
	BaseHasShell func() (bool, error)
}

// Activate sets the target's config to the plan's activation decision (plan.Activation)
// for the activation scripts found in the solved groups; hasShell says whether the base
// has /bin/sh (asked only when the scripts must be sourced). Config is the plan's own
// until it is called: without activation scripts it stays that.
func (t *Target) Activate(scripts []activate.Script, hasShell func() (bool, error)) error {
	p := t.Build.Plan
	cfg, err := p.Activation(scripts, plan.ActivationBase{Config: t.Base, HasShell: hasShell})
	if err != nil {
		return fmt.Errorf("%s: %w", p.Subdir, err)
	}
	q := *p
	q.Config = cfg
	if t.Config, err = ImageConfig(t.Base, &q); err != nil {
		return fmt.Errorf("image config for %s: %w", p.Subdir, err)
	}
	return nil
}

// Targets are the compiled plans of one build and what solving and exporting them needs.
type Targets struct {
	Targets []Target
	// Locals are the local contexts the solve needs, merged across targets by name.
	Locals []Local
	// SourceDateEpoch is the plans' epoch in seconds, for the exporter.
	SourceDateEpoch int64
}

// BaseConfigFunc reads the config of a compiled target's (non-scratch) base, b.BaseRef,
// for b.Platform: the CLI reads it on the client, the gateway frontend asks BuildKit.
type BaseConfigFunc func(ctx context.Context, b *Build) (*v1.ConfigFile, error)

// CompileTargets compiles every plan and its image config. The gateway frontend,
// `reprobuild llb` and `reprobuild image --engine buildkit` all build through it, so they
// solve the same graphs with the same configs.
func CompileTargets(ctx context.Context, plans []*plan.Plan, o Options, baseConfig BaseConfigFunc) (*Targets, error) {
	if len(plans) == 0 {
		return nil, fmt.Errorf("nothing to build: the lock has no targets")
	}
	out := &Targets{SourceDateEpoch: plans[0].Epoch.Unix()}
	seen := map[string]int{}
	for _, p := range plans {
		if p.Epoch.Unix() != out.SourceDateEpoch {
			return nil, fmt.Errorf("compile: plans with different epochs (%d, %d) cannot be exported together", out.SourceDateEpoch, p.Epoch.Unix())
		}
		b, err := Compile(p, o)
		if err != nil {
			return nil, err
		}
		var base *v1.ConfigFile
		if b.BaseRef != "" {
			if baseConfig == nil {
				return nil, fmt.Errorf("image config for %s: no way to read the config of base %s", p.Subdir, b.BaseRef)
			}
			if base, err = baseConfig(ctx, b); err != nil {
				return nil, fmt.Errorf("image config for %s: %w", p.Subdir, err)
			}
		}
		cfg, err := ImageConfig(base, p)
		if err != nil {
			return nil, fmt.Errorf("image config for %s: %w", p.Subdir, err)
		}
		out.Targets = append(out.Targets, Target{Build: b, Config: cfg, Annotations: p.Config.Annotations, Base: base})
		for _, l := range b.Locals {
			if i, ok := seen[l.Name]; ok {
				out.Locals[i].Include = append(out.Locals[i].Include, l.Include...)
				continue
			}
			seen[l.Name] = len(out.Locals)
			out.Locals = append(out.Locals, l)
		}
	}
	return out, nil
}

// ExporterAttrs are the attributes that make BuildKit's image exporters reproducible:
// every timestamp set to the epoch, and for one target its manifest annotations
// (several targets carry theirs in the solve result's metadata, per platform).
func (t *Targets) ExporterAttrs() map[string]string {
	attrs := ExporterAttrs(t.SourceDateEpoch)
	if len(t.Targets) == 1 {
		for k, v := range t.Targets[0].Annotations {
			attrs["annotation."+k] = v
		}
	}
	return attrs
}

// ExporterAttrs are the attributes that make BuildKit's image exporters reproducible.
func ExporterAttrs(sourceDateEpoch int64) map[string]string {
	return map[string]string{
		"source-date-epoch": strconv.FormatInt(sourceDateEpoch, 10),
		"rewrite-timestamp": "true",
	}
}
